"""Tables and plots of a divergence-estimation run: ``table.md`` and ``curves.png``."""

from __future__ import annotations

import os

from experiments.common import cli
from experiments.common import results as R


def job_key(problem: str, spec: str) -> str:
  return f"{problem}|{spec}"


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
