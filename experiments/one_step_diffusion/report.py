"""Tables and plots of a one-step run: ``table.md``, ``samples.png``, ``curves.png``."""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np

from experiments.common import checkpoint, cli, distributed
from experiments.common import results as R
from experiments.one_step_diffusion import images
from experiments.one_step_diffusion.records import sample_seeds


def steps_to_cover_all(job, modes):
  """Per seed: the first evaluated step at which every mode is covered (or None)."""
  hist = job["history"]
  seeds = len(hist[0]["modes_covered"])
  return [
    next((h["step"] for h in hist if h["modes_covered"][s] == modes), None) for s in range(seeds)
  ]


def steps_to_quality(job, threshold):
  """Per seed: ``(step, training wall seconds)`` of the first evaluation with FD at most
  ``threshold`` (or None). The wall time is the cumulative training time recorded with the
  evaluation, or the job's total pro rata where the records predate it."""
  hist, total = job["history"], job["history"][-1]["step"]
  found = []
  for seed in range(len(hist[0]["fd"])):
    rec = next((h for h in hist if h["fd"][seed] <= threshold), None)
    if rec is None:
      found.append(None)
      continue
    wall = rec.get("train_wall_s", job["wall_s"] * rec["step"] / max(total, 1))
    found.append((rec["step"], wall))
  return found


METRICS = {
  "ring": ("modes_covered", "mode_tv", "off_mode_fraction", "mmd", "sinkhorn", "log_p_teacher"),
  "digits": ("fd", "class_tv", "classes_present"),
  "fashion": ("fd", "precision", "recall", "class_tv", "classes_present"),
}


def restore_final(student, seeds: int, teacher_init, workdir: str, spec: str):
  """The last checkpointed training state of divergence ``spec`` (all seeds), or None."""
  like = jax.jit(jax.vmap(student.init, in_axes=(0, None)))(
    jax.random.split(jax.random.PRNGKey(0), seeds), teacher_init
  )
  return checkpoint.Stages(ckpt_dir(workdir, spec)).restore_latest(like)


def ckpt_dir(workdir: str, spec: str) -> str:
  """Where the stages of divergence ``spec`` are checkpointed."""
  return os.path.join(workdir, "ckpt", spec.replace(":", "_"))


def write_reports(out, workdir, task, student, *, verbose):
  config = out["config"]
  keys = METRICS[config["dataset"]]
  rows = []
  for spec, job in out["jobs"].items():
    last = job["history"][-1]
    cells = [cli.divergence_label(spec)]
    for k in keys:
      sd = np.std(last[k], ddof=1) if len(last[k]) > 1 else 0.0
      cells.append(f"{np.mean(last[k]):.4g} ± {sd:.2g}")
    cells += [
      f"{np.min(last.get('h_min', [np.nan])):.3g}",
      f"{np.mean(last.get('h_mean', [np.nan])):.3g}",
      f"{np.max(last.get('h_max', [np.nan])):.3g}",
    ]
    noise = job.get("gradient_noise", {}).get("relative_variance", [np.nan])
    cells.append(f"{np.mean(noise):.3g}")
    if config["dataset"] == "ring":
      recover = steps_to_cover_all(job, config["modes"])
      cells.append("/".join("-" if r is None else str(r) for r in recover))
    else:
      reach = steps_to_quality(job, 2.0 * out["teacher"]["fd"])
      cells.append("/".join("-" if r is None else f"{r[0]} ({r[1]:.0f} s)" for r in reach))
    cells.append(f"{job['wall_s']:.0f}")
    rows.append(cells)
  t = out["teacher"]
  header = (
    ["divergence"]
    + [f"{k} (teacher {t[k]:.4g})" for k in keys]
    + ["h min", "h mean", "h max", "grad rel. var"]
  )
  if config["dataset"] == "ring":
    header.append("steps to cover all (per seed)")
  else:
    header.append("steps (train s) to FD <= 2x teacher (per seed)")
  header.append("train wall s")
  table = R.format_table(header, rows)
  R.write_text(os.path.join(workdir, "table.md"), table + "\n")
  if verbose:
    print(table)
  samples = {}
  for spec in config["divergences"]:
    state = restore_final(student, config["seeds"], task.teacher_init, workdir, spec)
    if state is not None:
      samples[spec] = distributed.to_host(
        sample_seeds(
          student,
          jax.tree.map(lambda a: a[:1], state.generator_ema),
          jax.random.PRNGKey(5)[None],
          1500,
        )[0]
      )
  if config["dataset"] == "ring":
    plot_ring_samples(out, samples, task.extra, os.path.join(workdir, "samples.png"))
  else:
    plot_digit_samples(out, samples, task.extra[1], os.path.join(workdir, "samples.png"))
  plot_curves(out, [k for k in keys if k != "sinkhorn"], os.path.join(workdir, "curves.png"))


def plot_ring_samples(out, samples, gmm, path):
  plt = R.pyplot()

  config = out["config"]
  specs = list(samples)
  lim = config["radius"] + 2.5
  g = np.linspace(-lim, lim, 200)
  xx, yy = np.meshgrid(g, g)
  dens = np.exp(np.asarray(gmm.log_prob(jnp.stack([xx.ravel(), yy.ravel()], -1))))
  fig, axes = plt.subplots(1, len(specs), figsize=(3.2 * len(specs), 3.4), squeeze=False)
  for ax, spec in zip(axes[0], specs):
    ax.contourf(xx, yy, dens.reshape(xx.shape), levels=20, cmap="Greys")
    x = samples[spec]
    ax.scatter(x[:, 0], x[:, 1], s=2, alpha=0.5, color="tab:red")
    last = out["jobs"][spec]["history"][-1]
    ax.set_title(
      f"{cli.divergence_label(spec)}: {last['modes_covered'][0]}/{config['modes']} modes",
      fontsize=9,
    )
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
  fig.suptitle("One-step student samples (seed 0, red) over the teacher density")
  fig.tight_layout()
  R.save_figure(fig, path)


def plot_digit_samples(out, samples, x_teacher, path):
  plt = R.pyplot()

  panels = [(f"teacher (Heun, {out['teacher']['nfe']} NFE)", x_teacher, out["teacher"]["fd"])] + [
    (cli.divergence_label(s), x, np.mean(out["jobs"][s]["history"][-1]["fd"]))
    for s, x in samples.items()
  ]
  fig, axes = plt.subplots(1, len(panels), figsize=(2.6 * len(panels), 2.9), squeeze=False)
  for ax, (name, x, fd_val) in zip(axes[0], panels):
    ax.imshow(images.image_grid(x, 8, 8), cmap="gray_r", vmin=0, vmax=1)
    ax.set_title(f"{name}\nFD {fd_val:.3g}", fontsize=8)
    ax.axis("off")
  fig.suptitle(
    f"{out['config']['dataset'].capitalize()}: one-step students (1 NFE, seed 0) vs the "
    "multi-step teacher"
  )
  fig.tight_layout()
  R.save_figure(fig, path)


def plot_curves(out, keys, path):
  plt = R.pyplot()

  fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.2), squeeze=False)
  for spec, job in out["jobs"].items():
    steps = [h["step"] for h in job["history"]]
    for ax, key in zip(axes[0], keys):
      ax.plot(steps, [np.mean(h[key]) for h in job["history"]], label=cli.divergence_label(spec))
  for ax, key in zip(axes[0], keys):
    ax.axhline(out["teacher"][key], color="k", ls="--", lw=1)
    ax.set_title(key + " (mean over seeds; dashed: teacher)", fontsize=9)
    ax.set_xlabel("generator step")
  axes[0][0].legend(fontsize=7)
  fig.tight_layout()
  R.save_figure(fig, path)
