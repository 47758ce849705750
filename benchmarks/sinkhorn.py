"""Sinkhorn divergence: fdiv_jax vs raw OTT (wrapper overhead) vs POT.

Same point clouds (n points each, 2-D, squared Euclidean cost), same epsilon,
and the iteration count matched: every solver runs exactly ``--iters``
Sinkhorn iterations in the log domain (OTT: threshold 0 so it never stops
early, ``max_iterations = iters``; POT: ``method="sinkhorn_log"``, ``stopThr=0``), for the three
OT problems of the debiased divergence. fdiv_jax's ``sinkhorn_divergence``
calls OTT's ``sinkhorn_divergence`` with that geometry, so the ratio to raw OTT
is the wrapper's overhead (validation, defaults). POT runs NumPy on the CPU.
Values are reported too: OTT's is the entropic cost
(incl. the entropy term), POT's ``empirical_sinkhorn_divergence`` the transport
cost of the entropic plans, so they differ by a small, epsilon-dependent amount.

Usage: python -m benchmarks.sinkhorn [--sizes 1000 2000 4000] [--iters 100]
"""

from __future__ import annotations

import argparse

import jax
import numpy as np
from ott.geometry import costs, pointcloud
from ott.tools import sinkhorn_divergence as ott_sd

import fdiv_jax as fd
from benchmarks import common


def clouds(n, key=0):
  k1, k2 = jax.random.split(jax.random.PRNGKey(key))
  x = jax.random.normal(k1, (n, 2))
  y = 0.5 + 0.8 * jax.random.normal(k2, (n, 2))
  return x, y


def pot_sinkhorn(x, y, eps, iters, *, backend):
  """POT's log-domain debiased Sinkhorn on the same clouds: a callable returning
  the value as a host float (so the timing includes finishing the GPU work)."""
  import ot

  if backend == "numpy":
    xs, ys = np.asarray(x, np.float64), np.asarray(y, np.float64)
  else:
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    xs, ys = (torch.tensor(np.asarray(a), dtype=torch.float32, device=device) for a in (x, y))
  return lambda: float(
    ot.bregman.empirical_sinkhorn_divergence(
      xs, ys, eps, numIterMax=iters, stopThr=0.0, method="sinkhorn_log", warn=False
    )
  )


def arg_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 4000])
  parser.add_argument("--iters", type=int, default=100)
  parser.add_argument("--epsilon", type=float, default=0.1)
  parser.add_argument("--pot-max", type=int, default=2000, help="largest n run with POT")
  parser.add_argument(
    "--pot-backend",
    choices=("numpy", "torch"),
    default="numpy",
    help="POT's arrays: NumPy (CPU) or PyTorch (on CUDA when "
    "available: what a GPU user of POT runs)",
  )
  return parser


def main(argv=None):
  args = arg_parser().parse_args(argv)
  eps, iters = args.epsilon, args.iters
  # OTT's own defaults otherwise (implicit differentiation, inner_iterations 10):
  # what a user calling OTT directly writes.
  solve = dict(threshold=0.0, max_iterations=iters)

  @jax.jit
  def ours(x, y):
    value, out = fd.sinkhorn_divergence(x, y, epsilon=eps, threshold=0.0, max_iterations=iters)
    return value, out.n_iters

  @jax.jit
  def raw(x, y):
    value, out = ott_sd.sinkhorn_divergence(
      pointcloud.PointCloud, x, y, cost_fn=costs.SqEuclidean(), epsilon=eps, solve_kwargs=solve
    )
    return value, out.n_iters

  rows = []
  for n in args.sizes:
    x, y = clouds(n)
    (v_ours, it_ours), (v_raw, it_raw) = ours(x, y), raw(x, y)
    rec = {
      "n": n,
      "iters": iters,
      "epsilon": eps,
      "n_iters": {"fdiv_jax": np.asarray(it_ours).tolist(), "ott": np.asarray(it_raw).tolist()},
      "value": {"fdiv_jax": float(v_ours), "ott": float(v_raw)},
      "seconds": {},
    }
    # Interleaved, best of 3 medians.
    t = {"fdiv_jax": [], "ott": []}
    for _ in range(3):
      t["fdiv_jax"].append(common.timeit(lambda: ours(x, y), min_time=0.5, max_reps=10))
      t["ott"].append(common.timeit(lambda: raw(x, y), min_time=0.5, max_reps=10))
    rec["seconds"] = {k: min(v) for k, v in t.items()}
    if n <= args.pot_max:
      rec["pot_backend"] = args.pot_backend
      try:
        run = pot_sinkhorn(x, y, eps, iters, backend=args.pot_backend)
        rec["value"]["pot"] = float(run())
        rec["seconds"]["pot"] = common.timeit(run, min_time=0.5, max_reps=5, warmup=0)
      except Exception as e:  # POT / its backend missing or out of memory: keep OTT's rows
        rec["pot_error"] = f"{type(e).__name__}: {str(e)[:200]}"
        print(f"n={n}: POT ({args.pot_backend}) failed: {rec['pot_error']}", flush=True)
    rec["overhead_vs_ott"] = rec["seconds"]["fdiv_jax"] / rec["seconds"]["ott"] - 1.0
    if "pot" in rec["seconds"]:
      rec["speedup_vs_pot"] = rec["seconds"]["pot"] / rec["seconds"]["fdiv_jax"]
    rows.append(rec)
    print(
      f"n={n}: fdiv_jax {rec['seconds']['fdiv_jax']:.3f}s, OTT {rec['seconds']['ott']:.3f}s "
      f"(overhead {100 * rec['overhead_vs_ott']:+.1f}%), POT "
      f"{rec['seconds'].get('pot', float('nan')):.3f}s; values {rec['value']}; "
      f"iterations {rec['n_iters']}",
      flush=True,
    )
  print("wrote", common.save("sinkhorn", {"rows": rows}))


if __name__ == "__main__":
  main()
