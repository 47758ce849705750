"""Estimate every registered f-divergence with a trained critic, beside the truth.

Usage:
  python -m experiments.divergence_estimation.main --config default \
      --workdir runs/divergence_estimation

Writes ``results.json`` (config, truth, estimate per seed, bias, std, wall time,
training curves), ``table.md`` and ``curves.png`` under ``--workdir``. Finished
(problem, divergence) jobs are saved as they complete, so a killed run resumes
where it stopped; ``--fresh`` starts over.
"""

from __future__ import annotations

import os
import time

import jax
import numpy as np
from tqdm import tqdm

from experiments.common import cli
from experiments.common import results as R
from experiments.divergence_estimation import problems as P
from experiments.divergence_estimation import train as T


def job_key(problem: str, spec: str) -> str:
  return f"{problem}|{spec}"


def run(config, workdir: str, *, fresh: bool = False, verbose: bool = True) -> dict:
  path = os.path.join(workdir, "results.json")
  out = None if fresh else R.read_json(path)
  if out is None or out.get("config") != R.to_jsonable(config):
    out = {"config": R.to_jsonable(config), "devices": [str(d) for d in jax.devices()], "jobs": {}}
  jobs = [(p, s) for p in config.problems for s in config.divergences]
  todo = [j for j in jobs if job_key(*j) not in out["jobs"]]
  bar = tqdm(todo, desc="divergence estimation", disable=not verbose, unit="job")
  problem_cache = {}
  for problem_name, spec in bar:
    bar.set_postfix_str(f"{problem_name} {cli.divergence_label(spec)}")
    if problem_name not in problem_cache:
      problem = P.make(problem_name, truth_samples=config.truth_samples)
      problem_cache[problem_name] = (problem, T.make_estimator(problem, config))
    problem, estimator = problem_cache[problem_name]
    div = cli.parse_divergence(spec)
    truth, truth_se, truth_method = problem.truth(div)
    keys = jax.random.split(jax.random.PRNGKey(0), config.seeds)
    start = time.perf_counter()
    estimates, curves = T.run_seeds(estimator, div, keys, config.steps)
    estimates = np.asarray(jax.block_until_ready(estimates), np.float64)
    wall = time.perf_counter() - start
    curves = np.asarray(curves, np.float64)
    R.check_finite(curves, what=f"training bound of {spec} on {problem_name}")
    R.check_finite(estimates, what=f"final estimate of {spec} on {problem_name}")
    mean_curve = curves.mean(axis=0)
    every = config.log_every
    out["jobs"][job_key(problem_name, spec)] = {
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
    R.write_json(path, out)
  write_reports(out, workdir, verbose=verbose)
  return out


def write_reports(out: dict, workdir: str, *, verbose: bool) -> None:
  config = out["config"]
  rows = []
  for spec in config["divergences"]:
    for problem in config["problems"]:
      job = out["jobs"].get(job_key(problem, spec))
      if job is None:
        continue
      rows.append(
        (
          cli.divergence_label(spec),
          problem,
          job["truth"],
          job["mean"],
          job["bias"],
          job["std"],
          job["truth_method"],
        )
      )
  table = R.format_table(
    (
      "divergence",
      "problem",
      "truth",
      "estimate (mean)",
      "bias",
      f"std ({config['seeds']} seeds)",
      "truth from",
    ),
    rows,
  )
  R.write_text(os.path.join(workdir, "table.md"), table + "\n")
  if verbose:
    print(table)
  plot_curves(out, os.path.join(workdir, "curves.png"))


def plot_curves(out: dict, path: str) -> None:
  plt = R.pyplot()

  config = out["config"]
  specs = config["divergences"]
  cols = 4
  rows = -(-len(specs) // cols)
  fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
  colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
  for ax, spec in zip(axes.flat, specs):
    for i, problem in enumerate(config["problems"]):
      job = out["jobs"].get(job_key(problem, spec))
      if job is None:
        continue
      c = colors[i % len(colors)]
      ax.plot(job["curve_steps"], job["curve"], color=c, label=problem)
      ax.axhline(job["truth"], color=c, ls="--", lw=1)
    ax.set_title(cli.divergence_label(spec))
    ax.set_xlabel("step")
  for ax in list(axes.flat)[len(specs) :]:
    ax.axis("off")
  axes.flat[0].set_ylabel("f-GAN bound (train batch)")
  axes.flat[0].legend(fontsize=7)
  fig.suptitle("Critic estimate vs training step (solid, mean over seeds) and truth (dashed)")
  fig.tight_layout()
  R.save_figure(fig, path)


def main(argv=None) -> None:
  cli.run_main(
    argv,
    package="experiments.divergence_estimation",
    doc=__doc__,
    default_workdir="runs/divergence_estimation",
    run=run,
    outputs="results.json, table.md, curves.png",
  )


if __name__ == "__main__":
  main()
