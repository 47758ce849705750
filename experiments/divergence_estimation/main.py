"""Estimate every registered f-divergence with a trained critic, beside the truth.

Usage:
  python -m experiments.divergence_estimation.main --config default \
      --workdir runs/divergence_estimation

Writes ``results.json`` (config, truth, estimate per seed, bias, std, wall time,
training curves), ``table.md`` and ``curves.png`` under ``--workdir``. Finished
(problem, divergence) jobs are saved as they complete, so a killed run resumes
where it stopped; ``--fresh`` starts over.
"""

import functools

import jax
import numpy as np

from experiments.common import cli, jobs
from experiments.common import results as R
from experiments.divergence_estimation import problems as P
from experiments.divergence_estimation import report
from experiments.divergence_estimation import train as T


def estimate(key: str, *, config, problems: dict) -> dict:
  """One (problem, divergence) job: ``seeds`` critics trained side by side (vmapped);
  ``problems`` caches each problem and its compiled estimator for the run."""
  problem_name, spec = key.split("|")
  if problem_name not in problems:
    problem = P.make(problem_name, truth_samples=config.truth_samples)
    problems[problem_name] = (problem, T.make_estimator(problem, config))
  problem, estimator = problems[problem_name]
  div = cli.parse_divergence(spec)
  truth, truth_se, truth_method = problem.truth(div)
  keys = jax.random.split(jax.random.PRNGKey(0), config.seeds)
  (estimates, curves), wall = jobs.timed(lambda: T.run_seeds(estimator, div, keys, config.steps))
  estimates, curves = np.asarray(estimates, np.float64), np.asarray(curves, np.float64)
  R.check_finite(curves, what=f"training bound of {spec} on {problem_name}")
  R.check_finite(estimates, what=f"final estimate of {spec} on {problem_name}")
  mean_curve, every = curves.mean(axis=0), config.log_every
  return {
    "problem": problem_name,
    "divergence": spec,
    "truth": truth,
    "truth_stderr": truth_se,
    "truth_method": truth_method,
    "estimates": estimates.tolist(),
    "mean": float(estimates.mean()),
    "bias": float(estimates.mean() - truth),
    "std": float(estimates.std(ddof=1)) if len(estimates) > 1 else 0.0,
    "wall_s": wall,
    "curve_steps": list(range(every, config.steps + 1, every)),
    "curve": [
      float(mean_curve[i - every : i].mean()) for i in range(every, config.steps + 1, every)
    ],
  }


def run(config, workdir: str, *, fresh: bool = False, verbose: bool = True) -> dict:
  path, out = jobs.open_results(workdir, config, fresh=fresh, jobs={})
  names = [report.job_key(p, s) for p in config.problems for s in config.divergences]
  jobs.for_each_job(
    out,
    "jobs",
    names,
    functools.partial(estimate, config=config, problems={}),
    path=path,
    desc="divergence estimation",
    verbose=verbose,
    label=lambda k: " ".join((k.split("|")[0], cli.divergence_label(k.split("|")[1]))),
  )
  report.write_reports(out, workdir, verbose=verbose)
  return out


main = cli.command(run, __package__, __doc__)


if __name__ == "__main__":
  main()
