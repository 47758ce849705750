"""Registry and Monte-Carlo f-divergence losses vs TFP's ``tfp.vi`` Csiszar functions.

For every divergence both libraries have, on the same inputs, jitted:

* throughput (log-ratios per second) of the Monte-Carlo estimate
  ``mean_i f(p_i / q_i)`` from log densities, fdiv_jax
  (``fd.f_divergence(log_p, log_q, divergence=d)``) against TFP
  (``jnp.mean(tfp.vi.<f>(log_p - log_q))``), at batch 1e3 .. 1e7, value and
  gradient (what a training step needs);
* the largest |log u| at which each keeps the value and the gradient finite,
  for log u -> +inf and -inf separately (grid 1, 10, 30, 100, ..., 1e30);
* that the two compute the same thing (TFP's ``jeffreys`` is half ours; JS and
  alpha use TFP's ``self_normalized=True`` form, which is ours).

Usage: python -m benchmarks.divergences_vs_tfp [--max-batch 1e7]
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
from tensorflow_probability.substrates.jax import vi

import fdiv_jax as fd
from benchmarks import common

# fdiv_jax registry entry -> (TFP function of log u, factor: ours = factor * TFP).
PAIRS = {
  "kl": (vi.kl_forward, 1.0),
  "reverse_kl": (vi.kl_reverse, 1.0),
  "js": (lambda lu: vi.jensen_shannon(lu, self_normalized=True), 1.0),
  "squared_hellinger": (vi.squared_hellinger, 1.0),
  "pearson": (vi.pearson, 1.0),
  "total_variation": (vi.total_variation, 1.0),
  "triangular": (vi.triangular, 1.0),
  "jeffreys": (vi.jeffreys, 2.0),
  "alpha:0.5": (lambda lu: vi.amari_alpha(lu, alpha=0.5, self_normalized=True), 1.0),
  "alpha:2": (lambda lu: vi.amari_alpha(lu, alpha=2.0, self_normalized=True), 1.0),
}
GRID = [
  1.0,
  10.0,
  20.0,
  30.0,
  40.0,
  50.0,
  60.0,
  70.0,
  80.0,
  85.0,
  88.0,
  90.0,
  100.0,
  300.0,
  1e3,
  1e4,
  1e6,
  1e10,
  1e20,
  1e30,
]


def divergence(spec: str) -> fd.Divergence:
  name, _, arg = spec.partition(":")
  return fd.get(name, alpha=float(arg)) if arg else fd.get(name)


def losses(spec):
  d = divergence(spec)
  tfp_f, factor = PAIRS[spec]
  ours = lambda lp, lq: fd.f_divergence(lp, lq, divergence=d)
  theirs = lambda lp, lq: factor * jnp.mean(tfp_f(lp - lq))
  return ours, theirs


def value_and_grad(loss):
  return jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))


def largest_finite(loss, sign: float) -> float:
  """Largest |log u| on GRID where value and gradient are finite (0 if none)."""
  vg = value_and_grad(loss)
  best = 0.0
  for mag in GRID:
    lp = jnp.array([sign * mag, 0.0, 0.5], jnp.float32)
    v, (g_p, g_q) = vg(lp, jnp.zeros(3, jnp.float32))
    if (
      bool(jnp.isfinite(v))
      and bool(jnp.all(jnp.isfinite(g_p)))
      and bool(jnp.all(jnp.isfinite(g_q)))
    ):
      best = mag
    else:
      break
  return best


def arg_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--max-batch", type=float, default=1e7)
  parser.add_argument(
    "--min-time",
    type=float,
    default=1.0,
    help="seconds of interleaved calls per (divergence, batch) cell",
  )
  parser.add_argument("--divergences", nargs="+", choices=tuple(PAIRS), default=list(PAIRS))
  parser.add_argument("--name", default="divergences_vs_tfp", help="results file name")
  return parser


def main(argv=None):
  args = arg_parser().parse_args(argv)
  batches = [int(b) for b in (1e3, 1e4, 1e5, 1e6, 1e7) if b <= args.max_batch]
  key = jax.random.PRNGKey(0)
  rows = []
  for spec in args.divergences:
    ours, theirs = losses(spec)
    # Same thing? Moderate log-ratios (both finite everywhere here).
    k1, k2 = jax.random.split(jax.random.fold_in(key, 0))
    lp, lq = jax.random.normal(k1, (10_000,)), jax.random.normal(k2, (10_000,))
    a, b = float(jax.jit(ours)(lp, lq)), float(jax.jit(theirs)(lp, lq))
    rec = {
      "divergence": spec,
      "value_rel_diff": abs(a - b) / max(abs(a), 1e-12),
      "max_finite_log_u_pos": {
        "fdiv_jax": largest_finite(ours, 1.0),
        "tfp": largest_finite(theirs, 1.0),
      },
      "max_finite_log_u_neg": {
        "fdiv_jax": largest_finite(ours, -1.0),
        "tfp": largest_finite(theirs, -1.0),
      },
      "throughput": {},
    }
    for n in batches:
      lp = 2.0 * jax.random.normal(k1, (n,))
      lq = jax.random.normal(k2, (n,))
      f_ours, f_tfp = value_and_grad(ours), value_and_grad(theirs)
      if n == batches[-1]:  # the compiled programs side by side
        rec["hlo"] = {
          name: common.hlo_counts(f.lower(lp, lq).compile())
          for name, f in (("fdiv_jax", f_ours), ("tfp", f_tfp))
        }
      t_ours, t_tfp, ci = common.compare(
        lambda: f_ours(lp, lq), lambda: f_tfp(lp, lq), min_time=args.min_time
      )
      rec["throughput"][str(n)] = {
        "fdiv_jax_per_s": n / t_ours,
        "tfp_per_s": n / t_tfp,
        "ratio": t_tfp / t_ours,
        "ratio_ci95": ci,
      }
    rows.append(rec)
    ratios = [v["ratio"] for v in rec["throughput"].values()]
    slower = [b for b, v in rec["throughput"].items() if v["ratio_ci95"][1] < 1.0]
    print(
      f"{spec:18s} same value (rel diff {rec['value_rel_diff']:.1e}); throughput ratio "
      f"fdiv/tfp {min(ratios):.2f}-{max(ratios):.2f} (interval below 1 at batch: "
      f"{', '.join(slower) or 'none'}); finite |log u| +: "
      f"{rec['max_finite_log_u_pos']}  -: {rec['max_finite_log_u_neg']}",
      flush=True,
    )
  path = common.save(args.name, {"batches": batches, "rows": rows})
  print("wrote", path)


if __name__ == "__main__":
  main()
