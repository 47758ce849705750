"""Cauchy-Schwarz divergence / MMD: blocked log-domain estimator vs dense.

fdiv_jax's ``cauchy_schwarz_divergence`` sums kernel tiles of ``block_size^2``
pairs in the log domain (memory O(block^2 + n)); the dense implementation
below is what the CS papers' PyTorch code does: materialise the three n x n
Gram matrices, take their means and logs (memory O(n^2), and -inf once every
kernel value underflows). For n = 1e3 .. 1e6 and d = 2 .. 64: wall time, peak
memory from XLA's buffer assignment (known at compile time, so it also sizes
the dense programs that would not fit in RAM; those are not run), and the
achieved FLOP rate of the blocked estimator as a fraction of this machine's
measured matmul FLOP rate. FLOPs counted per kernel pair: 2d (the distance
matmul) + 5 (norms, scale, the log-sum-exp update); the exp is not counted.

Usage: python -m benchmarks.kernels [--sizes 1000 10000 100000] [--dims 2 16 64]
       python -m benchmarks.kernels --sizes 1000000 --dims 2    (n = 1e6, ~minutes x 3)
"""

from __future__ import annotations

import argparse
import functools
import time

import jax
import jax.numpy as jnp
import numpy as np

import fdiv_jax as fd
from benchmarks import common
from fdiv_jax import kernels as K

DENSE_LIMIT_GIB = 12  # run the dense program only if XLA plans at most this much


def dense_cs(x, y, bandwidth):
  def mean_k(a, b):
    # The library's distances: same matmul form and precision as the blocked sums.
    return jnp.mean(jnp.exp(-K.squared_distances(a, b) / (2 * bandwidth**2)))

  return jnp.log(mean_k(x, x)) + jnp.log(mean_k(y, y)) - 2 * jnp.log(mean_k(x, y))


def blocked_cs(x, y, bandwidth, block_size=1024):
  return fd.cauchy_schwarz_divergence(x, y, bandwidth=bandwidth, block_size=block_size)


def gradient_memory(sizes, run_sizes, *, dim: int = 2, block_size: int = 1024) -> list[dict]:
  """XLA-planned peak memory of ``jax.grad`` of the blocked CS divergence in ``x``
  (the training-loss case), against the n x n Gram matrices a non-rematerialised
  backward pass keeps; wall time for the sizes in ``run_sizes``."""
  rows = []
  for n in sizes:
    k1, k2 = jax.random.split(jax.random.PRNGKey(n))
    x = jax.random.normal(k1, (n, dim))
    y = 0.3 + jax.random.normal(k2, (n, dim))
    bw = jnp.float32(jnp.sqrt(dim))
    grad = jax.grad(functools.partial(blocked_cs, block_size=block_size))
    stats, compiled = common.compile_stats(grad, x, y, bw)
    rec = {
      "n": n,
      "d": dim,
      "block_size": block_size,
      **stats,
      "gram_bytes": 4 * n * n,
      "seconds": None,
    }
    if n in run_sizes:
      t0 = time.perf_counter()
      g = compiled(x, y, bw).block_until_ready()
      rec["seconds"] = time.perf_counter() - t0
      rec["finite"] = bool(jnp.all(jnp.isfinite(g)))
    rows.append(rec)
    print(
      f"grad d={dim} n={n}: planned peak {rec['peak_bytes'] / 2**20:.0f} MiB "
      f"(one n x n float32 Gram matrix: {rec['gram_bytes'] / 2**30:.1f} GiB)"
      + ("" if rec["seconds"] is None else f", {rec['seconds']:.1f} s"),
      flush=True,
    )
  return rows


def reference_cs(x, y, bandwidth) -> float:
  """The same estimate in float64 NumPy (row chunks of the three Gram matrices)."""
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)

  def log_mean_k(a, b):
    total, b2 = 0.0, (b * b).sum(1)
    for i in range(0, a.shape[0], 1000):
      ai = a[i : i + 1000]
      d2 = np.maximum((ai * ai).sum(1)[:, None] + b2[None, :] - 2.0 * ai @ b.T, 0.0)
      total += np.exp(-d2 / (2.0 * bandwidth**2)).sum()
    return np.log(total / (a.shape[0] * b.shape[0]))

  return log_mean_k(x, x) + log_mean_k(y, y) - 2.0 * log_mean_k(x, y)


def _round_to_tf32(a: jax.Array) -> jax.Array:
  """float32 rounded to TF32's 10 mantissa bits (nearest), as tensor cores read it."""
  bits = jax.lax.bitcast_convert_type(a, jnp.uint32)
  bits = (bits + jnp.uint32(0x1000)) & jnp.uint32(0xFFFFE000)
  return jax.lax.bitcast_convert_type(bits, jnp.float32)


def _tf32_inner(x, y):
  """TF32 matmul emulated on any backend: TF32 inputs, float32 accumulation."""
  return jnp.matmul(_round_to_tf32(x), _round_to_tf32(y).T, precision=jax.lax.Precision.HIGHEST)


# (scale, offset) of the precision check's clouds: x = offset + scale * N(0, I).
PRECISION_CASES = ((1.0, 0.0), (4.0, 0.0), (1.0, 20.0))


def precision_check(n: int, dims) -> list[dict]:
  """Blocked CS estimate against the float64 reference with three kinds of inner
  products: full float32 (fdiv_jax's choice), XLA's default precision (TF32 /
  bf16 passes on GPU / TPU; the same as full on CPU) and TF32 emulated (what a
  GPU's default does, on any backend). Clouds ``offset + scale * N(0, I)``
  with bandwidth sqrt(d): a larger scale means sharper kernels relative to the
  data, an offset puts the points far from the origin, where the
  ``|x|^2 + |y|^2 - 2 x.y`` form multiplies the matmul's relative error by
  ``|x|^2 / bandwidth^2``."""
  rows = []
  variants = (
    ("highest", {"_PRECISION": jax.lax.Precision.HIGHEST}),
    ("default", {"_PRECISION": jax.lax.Precision.DEFAULT}),
    ("tf32_emulated", {"_inner": _tf32_inner}),
  )
  for d in dims:
    for scale, offset in PRECISION_CASES:
      k1, k2 = jax.random.split(jax.random.PRNGKey(7 + d))
      x = offset + scale * jax.random.normal(k1, (n, d))
      y = offset + scale * (0.3 + jax.random.normal(k2, (n, d)))
      bw = float(np.sqrt(d))
      ref = reference_cs(x, y, bw)
      rec = {"n": n, "d": d, "scale": scale, "offset": offset, "reference_f64": ref}
      for name, patch in variants:
        saved = {k: getattr(K, k) for k in patch}
        for k, v in patch.items():
          setattr(K, k, v)
        try:
          f = jax.jit(lambda x, y: blocked_cs(x, y, bw))
          value = float(f(x, y))
          seconds = common.timeit(lambda: f(x, y), min_time=0.5, max_reps=10)
        finally:
          for k, v in saved.items():
            setattr(K, k, v)
        rec[name] = {
          "value": value,
          "abs_err": abs(value - ref),
          "rel_err": abs(value - ref) / max(abs(ref), 1e-30),
          "seconds": seconds,
        }
      rows.append(rec)
      print(
        f"precision d={d} scale={scale} offset={offset}: f64 {ref:.6g}; "
        + "; ".join(
          f"{name} {rec[name]['value']:.6g} (rel err {rec[name]['rel_err']:.1e}, "
          f"{rec[name]['seconds']:.3g}s)"
          for name, _ in variants
        ),
        flush=True,
      )
  return rows


def population_cs(d: int) -> float:
  """CS divergence of the benchmark's populations, N(0, I) vs N(0.3, I), under the
  Gaussian kernel of bandwidth s = sqrt(d): |mu_x - mu_y|^2 / (s^2 + 2) (each
  mean kernel value is Gaussian in the mean difference). Estimates converge to
  it as n grows."""
  return 0.09 * d / (d + 2.0)


def arg_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 10000, 30000, 100000])
  parser.add_argument("--dims", type=int, nargs="+", default=[2, 16, 64])
  parser.add_argument(
    "--plan-sizes",
    type=int,
    nargs="*",
    default=[1000000],
    help="sizes only compiled (XLA's memory plan), not run",
  )
  parser.add_argument(
    "--block-sizes",
    type=int,
    nargs="+",
    default=[1024],
    help="tile sides of the blocked estimator (each timed)",
  )
  parser.add_argument(
    "--dense-limit-gib",
    type=float,
    default=DENSE_LIMIT_GIB,
    help="run the dense program only if XLA plans at most this",
  )
  parser.add_argument(
    "--precision-n",
    type=int,
    default=0,
    help="n of the precision check (full vs default float32 matmul against float64); 0 skips it",
  )
  parser.add_argument(
    "--gradient-sizes",
    type=int,
    nargs="*",
    default=[20000, 100000],
    help="sizes whose gradient's memory plan is measured (d = 2)",
  )
  parser.add_argument(
    "--gradient-run-sizes",
    type=int,
    nargs="*",
    default=[20000],
    help="of those, the sizes whose gradient is also run and timed",
  )
  parser.add_argument("--name", default="kernels", help="results file name")
  return parser


def main(argv=None):
  args = arg_parser().parse_args(argv)
  ceilings = {
    name: common.matmul_flops(precision=p)
    for name, p in (("highest", jax.lax.Precision.HIGHEST), ("default", None))
  }
  peak = ceilings["highest"]
  print(
    f"matmul: {peak / 1e9:.1f} GFLOP/s at full float32 precision (the ceiling), "
    f"{ceilings['default'] / 1e9:.1f} at XLA's default",
    flush=True,
  )
  rows = []
  for d in args.dims:
    for n in list(args.sizes) + [s for s in args.plan_sizes if d == min(args.dims)]:
      plan_only = n not in args.sizes
      k1, k2 = jax.random.split(jax.random.PRNGKey(n + d))
      x = jax.random.normal(k1, (n, d))
      y = 0.3 + jax.random.normal(k2, (n, d))
      bw = jnp.float32(jnp.sqrt(d))
      rec = {"n": n, "d": d, "population_cs": population_cs(d)}
      candidates = [
        (f"blocked_{b}", functools.partial(blocked_cs, block_size=b)) for b in args.block_sizes
      ] + [("dense", dense_cs)]
      for name, fn in candidates:
        try:
          stats, compiled = common.compile_stats(fn, x, y, bw)
        except Exception as e:  # e.g. a dense plan the compiler refuses to allocate
          if name != "dense":
            raise
          rec[name] = {
            "error": f"{type(e).__name__}: {str(e)[:200]}",
            "seconds": None,
            "peak_bytes": 3 * 4 * n * n,
          }
          continue
        rec[name] = stats
        if plan_only or (
          name == "dense" and stats.get("peak_bytes", 0) > args.dense_limit_gib * 2**30
        ):
          rec[name]["seconds"] = None
          continue
        t0 = time.perf_counter()
        value = compiled(x, y, bw).block_until_ready()
        first = time.perf_counter() - t0
        seconds = (
          first
          if first > 5
          else common.timeit(lambda: compiled(x, y, bw), min_time=1.0, max_reps=5)
        )
        rec[name].update(seconds=seconds, value=float(value))
      timed = [f"blocked_{b}" for b in args.block_sizes]
      flops = 3 * n * n * (2 * d + 5)
      if not plan_only:
        for key in timed:
          rec[key]["gflops"] = flops / rec[key]["seconds"] / 1e9
          rec[key]["fraction_of_matmul"] = flops / rec[key]["seconds"] / peak
      # "blocked": the fastest tile side (all are kept under blocked_<b>).
      best = (
        args.block_sizes[0]
        if plan_only
        else min(args.block_sizes, key=lambda b: rec[f"blocked_{b}"]["seconds"])
      )
      rec["blocked"] = dict(rec[f"blocked_{best}"], block_size=best)
      if plan_only:
        rows.append(rec)
        print(
          f"d={d} n={n}: planned peak memory blocked "
          f"{rec['blocked']['peak_bytes'] / 2**20:.1f} MiB, dense "
          f"{rec['dense']['peak_bytes'] / 2**30:.1f} GiB (compiled, not run)",
          flush=True,
        )
        continue
      rows.append(rec)
      dense = rec["dense"]
      tiles = ", ".join(f"{k.split('_')[1]}: {rec[k]['seconds']:.3g}s" for k in timed)
      print(
        f"d={d} n={n}: blocked {rec['blocked']['seconds']:.3g}s "
        f"{rec['blocked']['peak_bytes'] / 2**20:.1f} MiB "
        f"({100 * rec['blocked']['fraction_of_matmul']:.0f}% of matmul; tiles {tiles})"
        f" | dense "
        f"{'-' if dense['seconds'] is None else format(dense['seconds'], '.3g')}s "
        f"{dense['peak_bytes'] / 2**20:.1f} MiB; values "
        f"{rec['blocked'].get('value')} / {dense.get('value')} (population "
        f"{rec['population_cs']:.4g})",
        flush=True,
      )
  payload = {
    "matmul_flops": peak,
    "matmul_flops_by_precision": ceilings,
    "rows": rows,
    "gradient": gradient_memory(
      args.gradient_sizes, set(args.gradient_run_sizes), block_size=args.block_sizes[0]
    ),
  }
  if args.precision_n:
    payload["precision"] = precision_check(args.precision_n, args.dims)
  print("wrote", common.save(args.name, payload))


if __name__ == "__main__":
  main()
