"""Reference log Z of the sampling benchmark's posteriors from independent long runs.

Usage:
  python -m experiments.boltzmann.reference --targets german_credit,seeds --out FILE

For each target, three estimates that share nothing but the target's ``log_prob``:
adaptive tempered SMC (``fdiv_jax.smc.tempered_smc``, diagonal mass matrix) from
``N(0, I)`` and from ``N(0, 3^2 I)``, ``--seeds`` seeds each, and importance sampling
from a multivariate t (5 degrees of freedom) around the posterior mode with the inverse
Hessian as scale (``--is-samples`` draws, with its ESS); for Brownian motion also the
exact value by quadrature (the random walk integrates out in closed form; a 2-D
integral over the two scales remains). Which estimate is stored, and with which standard
error, :func:`summarise` says; every estimate is stored beside it. Results are written
after every target (rerunning skips the targets already in ``--out`` and summarises again);
an entry made with other options than the file's first command records its own. Breast
Cancer, whose posterior HMC does not cross from a unit-scale start, tempers from its
prior: ``--targets breast_cancer --base-scales 10 --mcmc-steps 20 --force``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from fdiv_jax import smc, targets

BASE_SCALES = (1.0, 3.0)
MOVES = dict(num_mcmc_steps=10, num_integration_steps=10, target_ess=0.9, max_steps=400)
PARTICLES = 4096


def smc_run(target, scale: float, seed: int, moves: dict) -> dict:
  key = jax.random.PRNGKey(seed)

  def log_base(x):
    return jnp.sum(jax.scipy.stats.norm.logpdf(x, 0.0, scale), -1)

  x0 = scale * jax.random.normal(jax.random.fold_in(key, 1), (PARTICLES, target.dim))
  run = jax.jit(
    lambda k, x: smc.tempered_smc(k, x, log_base=log_base, log_target=target.log_prob, **moves)
  )
  start = time.time()
  res = jax.block_until_ready(run(key, x0))
  return {
    "method": f"smc_base{scale:g}",
    "seed": seed,
    "log_z": float(res.log_normalizer),
    "steps": int(res.num_steps),
    "target_evals": int(res.num_target_evals),
    "wall_s": round(time.time() - start, 1),
  }


def laplace_t_importance(target, samples: int, seed: int = 0, df: float = 5.0) -> dict:
  """log Z by importance sampling from a multivariate t at the mode (L-BFGS, float64),
  scale the inverse Hessian times (df - 2) / df * 1.2 (covariance 1.2 H^-1; negative
  Hessian eigenvalues replaced by their absolute values)."""
  import optax
  from scipy.special import logsumexp
  from scipy.stats import multivariate_t

  start = time.time()
  with jax.enable_x64(True):
    f = lambda w: -target.log_prob(w)  # noqa: E731
    w = jnp.zeros(target.dim, jnp.float64)
    solver = optax.lbfgs()
    state = solver.init(w)
    value_and_grad = optax.value_and_grad_from_state(f)

    @jax.jit
    def step(w, state):
      v, g = value_and_grad(w, state=state)
      u, state = solver.update(g, state, w, value=v, grad=g, value_fn=f)
      return optax.apply_updates(w, u), state

    for _ in range(1000):
      w, state = step(w, state)
    # The inverse Hessian, its eigenvalues made positive (a mode on a funnel's neck can
    # leave the Hessian indefinite).
    eigenvalues, vectors = np.linalg.eigh(np.asarray(jax.hessian(f)(w)))
    cov = (vectors / np.maximum(np.abs(eigenvalues), 1e-8)) @ vectors.T
    try:
      proposal = multivariate_t(np.asarray(w), cov * (df - 2) / df * 1.2, df=df, seed=seed)
    except np.linalg.LinAlgError as e:  # no proper mode (e.g. a funnel: density unbounded)
      return {"method": "laplace_t_is", "failed": str(e), "log_z": None, "ess_fraction": 0.0}
    x = proposal.rvs(samples)
    log_w = np.asarray(jax.jit(target.log_prob)(jnp.asarray(x))) - proposal.logpdf(x)
  log_z = logsumexp(log_w) - np.log(samples)
  # Delta-method standard error of log Z-hat: std(w) / (sqrt(n) mean(w)).
  w_norm = np.exp(log_w - log_w.max())
  return {
    "method": "laplace_t_is",
    "seed": seed,
    "log_z": float(log_z),
    "standard_error": float(w_norm.std() / (np.sqrt(samples) * w_norm.mean())),
    "ess_fraction": float(np.exp(2 * logsumexp(log_w) - logsumexp(2 * log_w)) / samples),
    "samples": samples,
    "wall_s": round(time.time() - start, 1),
  }


def brownian_quadrature(points: int = 400) -> float:
  """log Z of :func:`fdiv_jax.targets.brownian` by quadrature over the two scales, the
  random walk integrated out: ``y_obs ~ N(0, s_i^2 C + s_o^2 I)``, ``C_tt' = min(t, t') + 1``."""
  from scipy.special import logsumexp
  from scipy.stats import lognorm, multivariate_normal

  from fdiv_jax.targets._brownian import BROWNIAN_OBSERVATIONS as y_all

  observed = ~np.isnan(y_all)
  t = np.arange(y_all.shape[0])
  c = (np.minimum(t[:, None], t[None, :]) + 1.0)[np.ix_(observed, observed)]
  z = np.linspace(-9.0, 3.0, points)  # unconstrained scales; s = softplus(z)
  s = np.logaddexp(0.0, z)
  log_prior = lognorm(s=2.0).logpdf(s) - np.logaddexp(0.0, -z)  # with ds/dz = sigmoid(z)
  eye = np.eye(int(observed.sum()))
  lik = np.array(
    [[multivariate_normal(cov=a**2 * c + b**2 * eye).logpdf(y_all[observed]) for b in s] for a in s]
  )
  return float(logsumexp(lik + log_prior[:, None] + log_prior[None, :]) + 2 * np.log(z[1] - z[0]))


def reference(name: str, seeds: int, is_samples: int, base_scales, moves: dict) -> dict:
  target = getattr(targets, name)()
  runs = [smc_run(target, scale, seed, moves) for scale in base_scales for seed in range(seeds)]
  for r in runs:
    print(f"  {name} {r}", flush=True)
  out = {
    "smc": {"base_scales": list(base_scales), "particles": PARTICLES, **moves},
    "runs": runs,
    "importance_sampling": laplace_t_importance(target, is_samples),
  }
  print(f"  {name} {out['importance_sampling']}", flush=True)
  if name == "brownian":
    out["quadrature"] = brownian_quadrature()
  return out


def summarise(entry: dict) -> dict:
  """The stored value: the quadrature where there is one, else the importance-sampling
  estimate where its ESS is at least 10% (its delta-method standard error is then
  reliable), else the mean of the SMC runs (standard error from their spread); with the
  SMC mean and how far the independent estimates lie apart."""
  values = np.array([r["log_z"] for r in entry["runs"]])
  smc_mean, smc_se = float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values)))
  is_ = entry["importance_sampling"]
  if "quadrature" in entry:
    value, se, source = entry["quadrature"], 0.0, "quadrature"
  elif is_["log_z"] is not None and is_["ess_fraction"] >= 0.1:
    value, se, source = is_["log_z"], is_["standard_error"], "importance sampling"
  else:
    value, se, source = smc_mean, smc_se, "mean of the SMC runs"
  others = [smc_mean] + [v for v in (is_["log_z"], entry.get("quadrature")) if v is not None]
  return entry | {
    "log_z": value,
    "standard_error": se,
    "source": source,
    "smc_mean": smc_mean,
    "smc_standard_error": smc_se,
    "largest_difference": float(max(others) - min(others)),
  }


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument(
    "--targets", default="german_credit,breast_cancer,ionosphere,sonar,seeds,brownian"
  )
  parser.add_argument("--seeds", type=int, default=2)
  parser.add_argument("--is-samples", type=int, default=200_000)
  parser.add_argument(
    "--base-scales", default=",".join(f"{v:g}" for v in BASE_SCALES), help="SMC base scales"
  )
  parser.add_argument("--mcmc-steps", type=int, default=MOVES["num_mcmc_steps"])
  parser.add_argument("--force", action="store_true", help="recompute targets already in --out")
  parser.add_argument(
    "--out", default=os.path.join("fdiv_jax", "data", "sampling_benchmark", "reference_log_z.json")
  )
  argv = sys.argv[1:] if argv is None else argv
  args = parser.parse_args(argv)
  command = "python -m experiments.boltzmann.reference " + " ".join(argv)
  table = {"targets": {}}
  if os.path.exists(args.out):
    with open(args.out) as f:
      table = json.load(f)
  for name in args.targets.split(","):
    if name in table["targets"] and not args.force:
      continue
    print(name, flush=True)
    scales = tuple(float(v) for v in args.base_scales.split(","))
    moves = MOVES | {"num_mcmc_steps": args.mcmc_steps}
    entry = reference(name, args.seeds, args.is_samples, scales, moves)
    table["targets"][name] = summarise(entry | {"command": command})
    with open(args.out, "w") as f:
      json.dump(table, f, indent=1)
    entry = table["targets"][name]
    print(f"{name}: log Z {entry['log_z']:.4f} +- {entry['standard_error']:.4f}", flush=True)
  table["targets"] = {k: summarise(v) for k, v in table["targets"].items()}
  with open(args.out, "w") as f:
    json.dump(table, f, indent=1)


if __name__ == "__main__":
  main()
