"""Distil a digits teacher into narrow students under every KD loss; CS-IB regression.

Usage:
  python -m experiments.knowledge_distillation.main --config default \
      --workdir runs/knowledge_distillation

Trains (or restores, from an orbax checkpoint under ``--workdir/teacher``) an MLP
teacher on sklearn's digits, then for every loss in the config trains
``seeds`` students of a smaller width (vmapped over seeds) and reports test
accuracy, NLL and expected calibration error; then trains the CS information
bottleneck and an MSE baseline on sklearn's diabetes and reports test RMSE and
the compression term I_CS(x; z). Writes ``results.json``, ``table.md``,
``reliability.png`` and ``curves.png``; finished jobs are saved as they
complete, so a killed run resumes; ``--fresh`` starts over.
"""

from __future__ import annotations

import os
import time

import jax
import numpy as np
from tqdm import tqdm

from experiments.common import checkpoint, cli
from experiments.common import digits as common_digits
from experiments.common import results as R
from experiments.knowledge_distillation import train as T


def _teacher(config, split, workdir):
  model = common_digits.MLP(tuple(config.teacher_hidden), 10)
  init, step = common_digits.make_classifier(
    split,
    model,
    steps=config.teacher_steps,
    batch_size=config.batch_size,
    learning_rate=config.learning_rate,
    loss_fn=common_digits.supervised_loss(model),
  )
  key = jax.random.PRNGKey(1234)

  def train(state):
    state, metrics = jax.jit(
      lambda s: jax.lax.scan(lambda s, _: step(s, key), s, length=config.teacher_steps)
    )(state)
    R.check_finite(metrics["loss"], what="teacher training loss")
    return state.params

  params, restored = checkpoint.restore_or_init(
    os.path.join(workdir, "teacher"),
    lambda: init(key).params,
    lambda params: train(init(key)._replace(params=params)),
    made_by={
      "data": "sklearn digits",
      "teacher_hidden": config.teacher_hidden,
      "teacher_steps": config.teacher_steps,
      "batch_size": config.batch_size,
      "learning_rate": config.learning_rate,
      "test_fraction": config.test_fraction,
    },
  )
  return model, params, restored


def run_distillation(config, workdir, out, bar):
  split = common_digits.digits_split(config.test_fraction)
  teacher, t_params, restored = _teacher(config, split, workdir)
  t_logits = np.asarray(teacher.apply(t_params, split.x_test)[1])
  out["teacher"] = dict(
    T.calibration(t_logits, split.y_test, config.ece_bins),
    restored_from_checkpoint=restored,
    hidden=list(config.teacher_hidden),
  )
  for method in config.losses:
    bar.set_postfix_str(f"digits {method}")
    if method in out["distillation"]:
      bar.update()
      continue
    projection = config.teacher_hidden[-1] if method == "cs_features" else None
    model = common_digits.MLP(tuple(config.student_hidden), 10, projection)
    init, step = common_digits.make_classifier(
      split,
      model,
      steps=config.student_steps,
      batch_size=config.batch_size,
      learning_rate=config.learning_rate,
      loss_fn=T.student_loss(model, teacher, t_params, method, config),
    )
    keys = jax.random.split(jax.random.PRNGKey(0), config.seeds)
    start = time.perf_counter()
    params, metrics = T.train_seeds(init, step, keys, config.student_steps)
    loss = np.asarray(jax.block_until_ready(metrics["loss"]))
    wall = time.perf_counter() - start
    R.check_finite(loss, what=f"student loss ({method})")
    per_seed = [
      T.calibration(
        np.asarray(model.apply(jax.tree.map(lambda a: a[i], params), split.x_test)[1]),
        split.y_test,
        config.ece_bins,
      )
      for i in range(config.seeds)
    ]
    agg = lambda k: (
      float(np.mean([s[k] for s in per_seed])),
      float(np.std([s[k] for s in per_seed], ddof=1)),
    )
    out["distillation"][method] = {
      "per_seed": per_seed,
      **{f"{k}_mean": agg(k)[0] for k in ("accuracy", "ece", "nll")},
      **{f"{k}_std": agg(k)[1] for k in ("accuracy", "ece", "nll")},
      "wall_s": wall,
      "loss_curve": loss.mean(0)[:: max(1, config.student_steps // 100)].tolist(),
      "kd_curve": np.asarray(metrics["kd"])
      .mean(0)[:: max(1, config.student_steps // 100)]
      .tolist(),
    }
    R.write_json(os.path.join(workdir, "results.json"), out)
    bar.update()


def run_ib(config, workdir, out, bar):
  split, y_std = T.diabetes_split(0.25)
  design = lambda x: np.concatenate([x, np.ones((len(x), 1), x.dtype)], 1)
  coef = np.linalg.lstsq(design(split.x_train), split.y_train, rcond=None)[0]
  out["ib_linear_reference_rmse"] = float(
    np.sqrt(np.mean((design(split.x_test) @ coef - split.y_test) ** 2)) * y_std
  )
  for method in config.ib_methods:
    bar.set_postfix_str(f"diabetes {method}")
    if method in out["ib"]:
      bar.update()
      continue
    init, step, evaluate = T.make_ib(split, method, config)
    keys = jax.random.split(jax.random.PRNGKey(0), config.seeds)
    start = time.perf_counter()
    params, metrics = T.train_seeds(init, step, keys, config.ib_steps)
    loss = np.asarray(jax.block_until_ready(metrics["loss"]))
    wall = time.perf_counter() - start
    R.check_finite(loss, what=f"IB training loss ({method})")
    rmse, mi = jax.jit(jax.vmap(evaluate, in_axes=(0, 0, None, None)))(
      params, keys, split.x_test, split.y_test
    )
    rmse = np.asarray(rmse) * y_std
    mi = np.asarray(mi)
    out["ib"][method] = {
      "rmse": rmse.tolist(),
      "compression": mi.tolist(),
      "rmse_mean": float(rmse.mean()),
      "rmse_std": float(rmse.std(ddof=1)),
      "compression_mean": float(mi.mean()),
      "compression_std": float(mi.std(ddof=1)),
      "wall_s": wall,
    }
    R.write_json(os.path.join(workdir, "results.json"), out)
    bar.update()


def run(config, workdir: str, *, fresh: bool = False, verbose: bool = True) -> dict:
  path = os.path.join(workdir, "results.json")
  out = None if fresh else R.read_json(path)
  if out is None or out.get("config") != R.to_jsonable(config):
    out = {
      "config": R.to_jsonable(config),
      "devices": [str(d) for d in jax.devices()],
      "distillation": {},
      "ib": {},
    }
  if fresh and os.path.isdir(os.path.join(workdir, "teacher")):
    import shutil

    shutil.rmtree(os.path.join(workdir, "teacher"))
  total = len(config.losses) + len(config.ib_methods)
  with tqdm(total=total, desc="knowledge distillation", disable=not verbose, unit="job") as bar:
    run_distillation(config, workdir, out, bar)
    run_ib(config, workdir, out, bar)
  R.write_json(path, out)
  write_reports(out, workdir, verbose=verbose)
  return out


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


def main(argv=None) -> None:
  cli.run_main(
    argv,
    package="experiments.knowledge_distillation",
    doc=__doc__,
    default_workdir="runs/knowledge_distillation",
    run=run,
    outputs="results.json, table.md, reliability.png",
  )


if __name__ == "__main__":
  main()
