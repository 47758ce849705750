"""Tables and plots of a KD run: ``table.md`` and ``reliability.png``."""

from __future__ import annotations

import os

import numpy as np

from experiments.common import results as R


def write_reports(out: dict, workdir: str, *, verbose: bool) -> None:
  config = out["config"]
  seeds = config["seeds"]
  t = out["teacher"]
  rows = [
    (
      "teacher " + "x".join(map(str, config["teacher_hidden"])),
      t["accuracy"],
      0.0,
      t["ece"],
      0.0,
      t["nll"],
    )
  ]
  for method, job in out["distillation"].items():
    rows.append(
      (
        method,
        job["accuracy_mean"],
        job["accuracy_std"],
        job["ece_mean"],
        job["ece_std"],
        job["nll_mean"],
      )
    )
  table = R.format_table(
    (
      "loss (student " + "x".join(map(str, config["student_hidden"])) + ")",
      "test accuracy",
      f"± std ({seeds} seeds)",
      "ECE",
      "± std",
      "NLL",
    ),
    rows,
  )
  ib_rows = [
    (m, j["rmse_mean"], j["rmse_std"], j["compression_mean"], j["compression_std"])
    for m, j in out["ib"].items()
  ]
  if "ib_linear_reference_rmse" in out:
    ib_rows.append(
      ("linear least squares (reference)", out["ib_linear_reference_rmse"], 0.0, "-", "-")
    )
  ib_table = R.format_table(
    ("diabetes", "test RMSE", "± std", "I_CS(x; z) (test)", "± std"), ib_rows
  )
  R.write_text(os.path.join(workdir, "table.md"), table + "\n\n" + ib_table + "\n")
  if verbose:
    print(table + "\n\n" + ib_table)
  plot_reliability(out, os.path.join(workdir, "reliability.png"))


def plot_reliability(out: dict, path: str) -> None:
  plt = R.pyplot()

  jobs = out["distillation"]
  bins = out["config"]["ece_bins"]
  centers = (np.arange(bins) + 0.5) / bins
  cols = 4
  rows = -(-(len(jobs) + 1) // cols)
  fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.2 * rows), squeeze=False)
  panels = [("teacher", [out["teacher"]])] + [(m, j["per_seed"]) for m, j in jobs.items()]
  for ax, (name, runs) in zip(axes.flat, panels):
    count = np.sum([r["bin_count"] for r in runs], axis=0)
    acc = np.sum(
      [np.multiply(r["bin_accuracy"], r["bin_count"]) for r in runs], axis=0
    ) / np.maximum(count, 1)
    keep = count > 0
    ax.bar(centers[keep], acc[keep], width=1.0 / bins, edgecolor="k", alpha=0.7)
    ax.plot([0, 1], [0, 1], "r--", lw=1)
    ece = np.mean([r["ece"] for r in runs])
    ax.set_title(f"{name}: ECE {ece:.3f}", fontsize=9)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence")
  for ax in list(axes.flat)[len(panels) :]:
    ax.axis("off")
  axes.flat[0].set_ylabel("accuracy")
  fig.suptitle("Reliability on digits test split (students pooled over seeds)")
  fig.tight_layout()
  R.save_figure(fig, path)
