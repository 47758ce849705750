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
import time

import jax
import jax.numpy as jnp

import fdiv_jax as fd
from benchmarks import common

DENSE_LIMIT = 12 * 2**30   # run the dense program only if XLA plans <= 12 GiB


def dense_cs(x, y, bandwidth):
  def mean_k(a, b):
    d2 = jnp.sum(a * a, 1)[:, None] + jnp.sum(b * b, 1)[None, :] - 2 * a @ b.T
    return jnp.mean(jnp.exp(-jnp.maximum(d2, 0) / (2 * bandwidth**2)))
  return jnp.log(mean_k(x, x)) + jnp.log(mean_k(y, y)) - 2 * jnp.log(mean_k(x, y))


def blocked_cs(x, y, bandwidth):
  return fd.cauchy_schwarz_divergence(x, y, bandwidth=bandwidth)


def population_cs(d: int) -> float:
  """CS divergence of the benchmark's populations, N(0, I) vs N(0.3, I), under the
  Gaussian kernel of bandwidth s = sqrt(d): |mu_x - mu_y|^2 / (s^2 + 2) (each
  mean kernel value is Gaussian in the mean difference). Estimates converge to
  it as n grows."""
  return 0.09 * d / (d + 2.0)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 30000, 100000])
  parser.add_argument("--dims", type=int, nargs="+", default=[2, 16, 64])
  parser.add_argument("--plan-sizes", type=int, nargs="*", default=[1000000],
                      help="sizes only compiled (XLA's memory plan), not run")
  parser.add_argument("--name", default="kernels", help="results file name")
  args = parser.parse_args(argv)
  peak = common.matmul_flops()
  print(f"matmul: {peak / 1e9:.1f} GFLOP/s", flush=True)
  rows = []
  for d in args.dims:
    for n in list(args.sizes) + [s for s in args.plan_sizes if d == min(args.dims)]:
      plan_only = n not in args.sizes
      k1, k2 = jax.random.split(jax.random.PRNGKey(n + d))
      x = jax.random.normal(k1, (n, d))
      y = 0.3 + jax.random.normal(k2, (n, d))
      bw = jnp.float32(jnp.sqrt(d))
      rec = {"n": n, "d": d, "population_cs": population_cs(d)}
      for name, fn in (("blocked", blocked_cs), ("dense", dense_cs)):
        stats, compiled = common.compile_stats(fn, x, y, bw)
        rec[name] = stats
        if plan_only or (name == "dense" and stats.get("peak_bytes", 0) > DENSE_LIMIT):
          rec[name]["seconds"] = None
          continue
        t0 = time.perf_counter()
        value = compiled(x, y, bw).block_until_ready()
        first = time.perf_counter() - t0
        seconds = first if first > 5 else common.timeit(lambda: compiled(x, y, bw),
                                                        min_time=1.0, max_reps=5)
        rec[name].update(seconds=seconds, value=float(value))
      flops = 3 * n * n * (2 * d + 5)
      if plan_only:
        rows.append(rec)
        print(f"d={d} n={n}: planned peak memory blocked "
              f"{rec['blocked']['peak_bytes'] / 2**20:.1f} MiB, dense "
              f"{rec['dense']['peak_bytes'] / 2**30:.1f} GiB (compiled, not run)", flush=True)
        continue
      rec["blocked"]["gflops"] = flops / rec["blocked"]["seconds"] / 1e9
      rec["blocked"]["fraction_of_matmul"] = flops / rec["blocked"]["seconds"] / peak
      rows.append(rec)
      dense = rec["dense"]
      print(f"d={d} n={n}: blocked {rec['blocked']['seconds']:.3g}s "
            f"{rec['blocked']['peak_bytes'] / 2**20:.1f} MiB "
            f"({100 * rec['blocked']['fraction_of_matmul']:.0f}% of matmul) | dense "
            f"{'-' if dense['seconds'] is None else format(dense['seconds'], '.3g')}s "
            f"{dense['peak_bytes'] / 2**20:.1f} MiB; values "
            f"{rec['blocked'].get('value')} / {dense.get('value')} (population "
            f"{rec['population_cs']:.4g})", flush=True)
  print("wrote", common.save(args.name, {"matmul_flops": peak, "rows": rows}))


if __name__ == "__main__":
  main()
