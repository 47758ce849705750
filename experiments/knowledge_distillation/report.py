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
  if "experts" in out:  # the multi-peaked teacher of the "multipeak" regime
    e = out["experts"]
    rows.append(("mean of experts (multipeak)", e["accuracy"], 0.0, e["ece"], 0.0, e["nll"]))
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
  grouped = _by_regime(out)
  deviations = [deviation_table(grouped["self"])] if "self" in grouped else []
  text = "\n\n".join([table, *regime_tables(out), *deviations, ib_table])
  R.write_text(os.path.join(workdir, "table.md"), text + "\n")
  if verbose:
    print(text)
  plot_reliability(out, os.path.join(workdir, "reliability.png"))
  if out.get("regimes"):
    plot_regimes(out, os.path.join(workdir, "regimes.png"))
  if "self" in grouped:
    plot_deviation(grouped["self"], os.path.join(workdir, "self_distillation.png"))


def deviation(job: dict, bins: int = 10) -> dict:
  """Student minus teacher probability of the true label, averaged in ``bins`` quantile
  bins of the teacher's (the student-teacher deviation of Nagarajan et al., 2023)."""
  t = np.asarray(job["teacher_label_confidence"])
  d = np.asarray(job["label_confidence"]) - t
  order = np.argsort(t)
  chunks = np.array_split(order, bins)
  return {
    "teacher": [float(t[c].mean()) for c in chunks],
    "deviation": [float(d[c].mean()) for c in chunks],
  }


def deviation_table(losses: dict, shown: int = 4) -> str:
  """Student minus teacher probability of the true label in the teacher's ``shown`` least
  confident deciles of the test images (each headed by the teacher's mean there), per loss."""
  teacher = deviation(next(iter(losses.values())))["teacher"][:shown]
  rows = [(name, *deviation(job)["deviation"][:shown]) for name, job in losses.items()]
  header = (
    "self: student − teacher p(y | x)",
    *(f"decile {i + 1} (teacher {t:.3f})" for i, t in enumerate(teacher)),
  )
  return R.format_table(header, rows)


def plot_deviation(losses: dict, path: str) -> None:
  """Self-distillation: per-example student vs teacher confidence in the true label
  (left, the forward-KL student) and the binned deviation per loss (right)."""
  plt = R.pyplot()
  fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2))
  shown = "kl" if "kl" in losses else next(iter(losses))
  for name, color in ((shown, "tab:blue"), ("ce", "tab:gray")):
    if name in losses:
      job = losses[name]
      ax.scatter(
        job["teacher_label_confidence"],
        job["label_confidence"],
        s=4,
        alpha=0.5,
        color=color,
        label=f"{name} student",
      )
  ax.plot([0, 1], [0, 1], "k--", lw=1)
  ax.set_xlabel("teacher p(y | x) (test images)")
  ax.set_ylabel("student p(y | x), mean over seeds")
  ax.legend(fontsize=8)
  for name, job in losses.items():
    dev = deviation(job)
    bx.plot(dev["teacher"], dev["deviation"], marker="o", label=name)
  bx.axhline(0.0, color="k", lw=1)
  bx.set_xlabel("teacher p(y | x), mean of each decile of the test images")
  bx.set_ylabel("student − teacher")
  bx.legend(fontsize=7)
  fig.suptitle("Self-distillation: where the student deviates from the teacher")
  fig.tight_layout()
  R.save_figure(fig, path)


def _by_regime(out: dict) -> dict:
  """``{regime: {loss: job}}`` from the ``"<regime>/<loss>"`` jobs."""
  grouped: dict = {}
  for name, job in out.get("regimes", {}).items():
    regime, loss = name.split("/", 1)
    grouped.setdefault(regime, {})[loss] = job
  return grouped


def _gain(job: dict, ce: dict | None) -> tuple:
  """Accuracy gain over CE and that gain in pooled seed-std units."""
  if ce is None:
    return "-", "-"
  gain = job["accuracy_mean"] - ce["accuracy_mean"]
  pooled = np.sqrt((job["accuracy_std"] ** 2 + ce["accuracy_std"] ** 2) / 2)
  return gain, (gain / pooled if pooled > 0 else float("nan"))


def regime_tables(out: dict) -> list[str]:
  """One table per regime: accuracy, ECE, NLL (mean ± std over seeds) and the gain
  over cross-entropy alone in pooled seed standard deviations; for a swept run also the
  setting chosen on the validation split, its validation accuracy, and the test accuracy
  at the config's own setting."""
  config = out["config"]
  tables = []
  for regime, losses in _by_regime(out).items():
    ce = losses.get("ce")
    rows = [
      (
        loss,
        f"{j['accuracy_mean']:.4f} ± {j['accuracy_std']:.4f}",
        f"{j['ece_mean']:.4f} ± {j['ece_std']:.4f}",
        f"{j['nll_mean']:.3f} ± {j['nll_std']:.3f}",
        *_gain(j, ce),
      )
      for loss, j in losses.items()
    ]
    any_job = next(iter(losses.values()))
    swept = "grid" in any_job
    if swept:  # the chosen setting, its validation accuracy, and the config's own setting
      rows = [
        (
          *row,
          "-" if loss == "ce" else f"T {j['temperature']:g}, w {j['weight']:g}",
          j["val_accuracy"][j["chosen"]],
          "-"
          if j["default"] is None
          else f"{j['default']['accuracy_mean']:.4f} ± {j['default']['accuracy_std']:.4f}",
        )
        for row, (loss, j) in zip(rows, losses.items())
      ]
    what = {
      "scarce": f"{any_job['labels_seen']} labels seen",
      "self": "self-distillation, all labels, the teacher's width",
      "mutual": "two peers distil each other, all labels, no teacher; both peers counted",
      "multipeak": (
        f"teacher: mean of {len(config['expert_classes'])} experts on disjoint classes, "
        f"test accuracy {out.get('experts', {}).get('accuracy', float('nan')):.3f}; "
        f"{any_job['labels_seen']} labels seen"
      ),
      "noisy": f"{1 - any_job['labels_correct']:.0%} of labels wrong",
    }.get(regime, regime)
    width = config["teacher_hidden"] if regime == "self" else config["student_hidden"]
    header = (
      f"{regime} ({what}; student " + "x".join(map(str, width)) + ")",
      f"test accuracy ({config['seeds']} seeds)",
      "ECE",
      "NLL",
      "Δ accuracy vs ce",
      "Δ / pooled std",
      *(
        (
          "chosen on validation",
          "validation accuracy",
          f"test accuracy at T {config['temperature']:g}, kd_weight",
        )
        if swept
        else ()
      ),
    )
    tables.append(R.format_table(header, rows))
  return tables


def plot_regimes(out: dict, path: str) -> None:
  """Test accuracy per loss (mean ± seed std), one panel per regime, CE dashed."""
  plt = R.pyplot()
  grouped = _by_regime(out)
  fig, axes = plt.subplots(1, len(grouped), figsize=(6 * len(grouped), 4), squeeze=False)
  for ax, (regime, losses) in zip(axes[0], grouped.items()):
    names = list(losses)
    mean = [losses[n]["accuracy_mean"] for n in names]
    std = [losses[n]["accuracy_std"] for n in names]
    ax.bar(range(len(names)), mean, yerr=std, capsize=3, color="tab:blue", alpha=0.8)
    if "ce" in losses:
      ax.axhline(losses["ce"]["accuracy_mean"], color="k", ls="--", lw=1, label="ce")
      ax.legend(fontsize=8)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    lo = min(m - s for m, s in zip(mean, std))
    ax.set_ylim(max(0.0, lo - 0.05), 1.0)
    ax.set_title(regime)
    ax.set_ylabel("test accuracy")
  fig.suptitle("Digits students by regime (mean ± std over seeds)")
  fig.tight_layout()
  R.save_figure(fig, path)


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
