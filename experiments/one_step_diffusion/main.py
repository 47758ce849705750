"""Distil one-step students from an exact 2-D mixture teacher with every f-divergence.

Usage:
  python -m experiments.one_step_diffusion.main --config default \
      --workdir runs/one_step_diffusion
  python -m experiments.one_step_diffusion.main --config mode_recovery \
      --workdir runs/one_step_recovery
  (configs: default, ring_full, ring_long, unequal, mode_recovery, digits_fastgen,
  digits; ``python -m experiments.one_step_diffusion.reevaluate`` re-evaluates a
  finished ring run's students on more samples)

For each divergence, ``seeds`` students (vmapped) are trained with f-distill
against the exact score of a ring mixture with unequal weights, starting from a
teacher network fitted by DSM (generator and fake denoiser), as in FastGen. Every
``log_every`` steps the run evaluates mode coverage, the TV distance of the
per-mode histogram to the true weights, MMD and Sinkhorn divergence to teacher
samples and E_q[log p_teacher], saves an orbax checkpoint of the full training
state and writes ``results.json``; a killed run resumes from the last
checkpoint, and a NaN stops the run with a message, keeping the last good
checkpoint. Writes ``table.md``, ``samples.png`` and ``curves.png``.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

import fdiv_jax as fd
from experiments.common import checkpoint, cli
from experiments.common import results as R
from experiments.one_step_diffusion import digits
from experiments.one_step_diffusion import train as T
from fdiv_jax import parallel


class Task(NamedTuple):
  """What differs between the 2-D and the image configs."""

  dim: int
  teacher: T.Teacher
  teacher_init: Any  # teacher denoiser params to start from, or None
  evaluate: Callable  # samples [n, dim] -> dict of scalars
  summary: dict  # the teacher's own metrics (the floor)
  extra: Any = None  # ring: the mixture; digits: the Data


def make_task(config, workdir, verbose) -> Task:
  if config.dataset == "ring":
    gmm = T.ring_teacher(config)
    reference = np.asarray(gmm.sample(jax.random.PRNGKey(99), config.eval_samples)[0])
    evaluate = functools.partial(
      T.evaluate,
      teacher=gmm,
      reference=reference,
      cover_fraction=config.cover_fraction,
      bandwidth=T.reference_bandwidth(reference),
    )
    summary, init = evaluate(reference), None
    if config.generator == "denoiser":  # a teacher network to start from (FastGen)
      init, restored = T.fit_or_restore_teacher(
        config, _gmm_draw(gmm), 2, workdir, jax.random.PRNGKey(2024), verbose
      )
      summary["teacher_network"] = _network_summary(config, init, evaluate, restored)
    return Task(2, T.mixture_teacher(gmm), init, evaluate, summary, gmm)
  if config.dataset == "digits":
    data = digits.load()
    model, params, restored = digits.train_teacher(config, data, workdir, verbose)
    evaluator = digits.make_evaluator(config, data)
    sigmas = fd.diffusion.karras_sigmas(
      config.teacher_heun_steps, sigma_min=config.teacher_sigma_min, sigma_max=config.sigma_max
    )
    x_teacher = jax.jit(
      lambda k: fd.diffusion.heun_sample(
        lambda x, s: model.apply(params, x, s),
        jax.random.normal(k, (config.eval_samples, 64)),
        sigmas=sigmas,
      )
    )(jax.random.PRNGKey(3))
    summary = dict(
      evaluator(x_teacher),
      nfe=2 * config.teacher_heun_steps - 1,
      restored_from_checkpoint=restored,
      classifier_test_accuracy=evaluator.accuracy,
      train_vs_test=evaluator(data.x_train),
    )
    return Task(
      64,
      digits.teacher_pytree(model, params, data),
      params,
      evaluator,
      summary,
      (data, np.asarray(x_teacher)),
    )
  raise ValueError(f"dataset must be 'ring' or 'digits', got {config.dataset!r}")


def _gmm_draw(gmm):
  return lambda k, n: gmm.sample(k, n)[0]


def _network_summary(config, params, evaluate, restored):
  """The teacher network's own metrics: its Heun samples (35 NFE) and its one-step
  output D(sigma_max z, sigma_max), the student's starting point."""
  model = T.FakeDenoiser(tuple(config.hidden), config.sigma_data)
  sigmas = fd.diffusion.karras_sigmas(
    18, sigma_min=config.teacher_sigma_min, sigma_max=config.sigma_max
  )
  noise = jax.random.normal(jax.random.PRNGKey(3), (config.eval_samples, 2))
  heun = jax.jit(
    lambda z: fd.diffusion.heun_sample(lambda x, s: model.apply(params, x, s), z, sigmas=sigmas)
  )(noise)
  one_step = jax.jit(
    lambda z: model.apply(params, config.sigma_init * z, jnp.full((z.shape[0],), config.sigma_init))
  )(noise)
  pick = ("modes_covered", "mode_tv", "off_mode_fraction", "mmd")
  summarise = lambda x: {k: v for k, v in evaluate(np.asarray(x), False).items() if k in pick}
  return {
    "heun_35_nfe": summarise(heun),
    "one_step_at_init": summarise(one_step),
    "restored_from_checkpoint": restored,
  }


@functools.partial(jax.jit, static_argnums=(0, 3))
def _sample_seeds(student, gen_params, keys, n):
  return jax.vmap(lambda p, k: student.sample(p, k, n))(gen_params, keys)


def _evaluate_seeds(student, state, task, config, key, final=False):
  xs = _sample_seeds(
    student, state.gen_ema, jax.random.split(key, config.seeds), config.eval_samples
  )
  return [task.evaluate(x, final) for x in parallel.to_host(xs)]


def _initial_state(student, config, workdir, keys, task, verbose):
  state = jax.jit(jax.vmap(student.init, in_axes=(0, None)))(keys, task.teacher_init)
  if config.init_modes is None:
    return state
  path = os.path.join(workdir, "ckpt", "init")
  partial = T.mixture_teacher(T.ring_teacher(config, config.init_modes))

  def pretrain(state):
    it = tqdm(
      range(0, config.init_steps, config.log_every),
      desc=f"pretrain on modes {list(config.init_modes)}",
      disable=not verbose,
      leave=False,
    )
    for _ in it:
      state, metrics = jax.jit(T.train_chunk, static_argnums=(0, 5))(
        student, state, keys, partial, cli.parse_divergence("reverse_kl"), config.log_every
      )
      R.check_finite(metrics["grad_norm"], what="pretraining gradients")
    return state

  # The pretraining depends on the whole student and teacher configuration.
  state, _ = checkpoint.restore_or_init(
    path, lambda: state, pretrain, made_by=R.to_jsonable(config)
  )
  return state


def run(config, workdir: str, *, fresh: bool = False, verbose: bool = True) -> dict:
  path = os.path.join(workdir, "results.json")
  if fresh and os.path.isdir(workdir):
    import shutil

    shutil.rmtree(workdir)
  out = R.read_json(path)
  if out is None or out.get("config") != R.to_jsonable(config):
    out = {"config": R.to_jsonable(config), "devices": [str(d) for d in jax.devices()], "jobs": {}}
  task = make_task(config, workdir, verbose)
  out["teacher"] = task.summary
  student = T.make_student(config, dim=task.dim)
  keys = jax.random.split(jax.random.PRNGKey(0), config.seeds)
  chunk = jax.jit(T.train_chunk, static_argnums=(0, 5))
  init_state = _initial_state(student, config, workdir, keys, task, verbose)
  chunks = config.steps // config.log_every
  for spec in config.divergences:
    job = out["jobs"].setdefault(spec, {"history": [], "done": False, "wall_s": 0.0})
    if job["done"]:
      continue
    div = cli.parse_divergence(spec)
    ckpt = os.path.join(workdir, "ckpt", spec.replace(":", "_"))
    state = checkpoint.restore(ckpt, init_state) if job["history"] else None
    if state is None:
      state, job["history"] = init_state, []
      job["history"].append(
        _record(0, _evaluate_seeds(student, state, task, config, jax.random.PRNGKey(7)), None)
      )
      if config.gradient_noise_batches:
        job["gradient_noise_at_start"] = _gradient_noise(student, state, task, div, config)
      R.write_json(path, out)
    state = parallel.replicate(state)
    done = int(np.asarray(state.step)[0]) - int(np.asarray(init_state.step)[0])
    job["history"] = job["history"][: done // config.log_every + 1]
    bar = tqdm(
      range(done // config.log_every, chunks),
      desc=cli.divergence_label(spec),
      disable=not verbose,
      unit="chunk",
    )
    for i in bar:
      start = time.perf_counter()
      new_state, metrics = chunk(student, state, keys, task.teacher, div, config.log_every)
      metrics = jax.device_get(metrics)
      job["wall_s"] += time.perf_counter() - start
      R.check_finite(
        [metrics["grad_norm"], metrics["fake_loss"], metrics["disc_loss"]],
        what=f"training metrics of {spec} at steps {i * config.log_every}-"
        f"{(i + 1) * config.log_every} (last good checkpoint: {ckpt})",
      )
      state = new_state
      evals = _evaluate_seeds(
        student, state, task, config, jax.random.PRNGKey(7), final=i == chunks - 1
      )
      job["history"].append(_record((i + 1) * config.log_every, evals, metrics))
      if i == chunks - 1 and config.gradient_noise_batches:
        job["gradient_noise"] = _gradient_noise(student, state, task, div, config)
      checkpoint.save(ckpt, state)
      R.write_json(path, out)
      last = job["history"][-1]
      key = "modes_covered" if "modes_covered" in last else "fd"
      bar.set_postfix_str(f"{key} {np.mean(last[key]):.3g}")
    job["done"] = True
    R.write_json(path, out)
  write_reports(out, workdir, task, student, verbose=verbose)
  return out


@functools.partial(jax.jit, static_argnums=(0, 4))
def _gradient_noise_seeds(student, state, teacher, divergence, batches):
  return jax.vmap(
    lambda s: T.gradient_noise(student, s, jax.random.PRNGKey(11), teacher, divergence, batches)
  )(state)


def _gradient_noise(student, state, task, divergence, config) -> dict:
  """Per seed: the generator gradient's spread over ``config.gradient_noise_batches``
  batches (T.gradient_noise)."""
  noise = jax.device_get(
    _gradient_noise_seeds(student, state, task.teacher, divergence, config.gradient_noise_batches)
  )
  return {k: [float(v) for v in np.asarray(vals)] for k, vals in noise.items()}


def _record(step, evals, metrics):
  rec = {"step": step}
  for key in evals[0]:
    rec[key] = [e[key] for e in evals]
  if metrics is not None:
    for key in ("fake_loss", "disc_loss", "grad_norm"):
      rec[key] = [float(m[-1]) for m in np.asarray(metrics[key])]
    rec["h_min"] = [float(np.min(m)) for m in np.asarray(metrics["h_min"])]
    rec["h_max"] = [float(np.max(m)) for m in np.asarray(metrics["h_max"])]
    rec["h_mean"] = [float(np.mean(m)) for m in np.asarray(metrics["h_mean"])]
  return rec


def steps_to_cover_all(job, modes):
  """Per seed: the first evaluated step at which every mode is covered (or None)."""
  hist = job["history"]
  seeds = len(hist[0]["modes_covered"])
  return [
    next((h["step"] for h in hist if h["modes_covered"][s] == modes), None) for s in range(seeds)
  ]


METRICS = {
  "ring": ("modes_covered", "mode_tv", "off_mode_fraction", "mmd", "sinkhorn", "log_p_teacher"),
  "digits": ("fd", "class_tv", "classes_present"),
}


def restore_final(student, seeds: int, teacher_init, workdir: str, spec: str):
  """The last checkpointed training state of divergence ``spec`` (all seeds), or None."""
  like = jax.jit(jax.vmap(student.init, in_axes=(0, None)))(
    jax.random.split(jax.random.PRNGKey(0), seeds), teacher_init
  )
  return checkpoint.restore(os.path.join(workdir, "ckpt", spec.replace(":", "_")), like)


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
  header.append("train wall s")
  table = R.format_table(header, rows)
  R.write_text(os.path.join(workdir, "table.md"), table + "\n")
  if verbose:
    print(table)
  samples = {}
  for spec in config["divergences"]:
    state = restore_final(student, config["seeds"], task.teacher_init, workdir, spec)
    if state is not None:
      samples[spec] = parallel.to_host(
        _sample_seeds(
          student, jax.tree.map(lambda a: a[:1], state.gen_ema), jax.random.PRNGKey(5)[None], 1500
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
    ax.imshow(digits.image_grid(x, 8, 8), cmap="gray_r", vmin=0, vmax=1)
    ax.set_title(f"{name}\nFD {fd_val:.3g}", fontsize=8)
    ax.axis("off")
  fig.suptitle("Digits: one-step students (1 NFE, seed 0) vs the multi-step teacher")
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


def main(argv=None) -> None:
  cli.run_main(
    argv,
    package="experiments.one_step_diffusion",
    doc=__doc__,
    default_workdir="runs/one_step_diffusion",
    run=run,
    outputs="results.json, table.md, samples.png, curves.png",
  )


if __name__ == "__main__":
  main()
