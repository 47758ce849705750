"""Distil one-step students from an exact 2-D mixture teacher with every f-divergence.

Usage:
  python -m experiments.one_step_diffusion.main --config default \
      --workdir runs/one_step_diffusion
  python -m experiments.one_step_diffusion.main --config mode_recovery \
      --workdir runs/one_step_recovery

For each divergence, ``seeds`` students (vmapped) are trained with f-distill
against the exact score of a ring mixture with unequal weights. Every
``log_every`` steps the run evaluates mode coverage, the TV distance of the
per-mode histogram to the true weights, MMD and Sinkhorn divergence to teacher
samples and E_q[log p_teacher], saves an orbax checkpoint of the full training
state and writes ``results.json``; a killed run resumes from the last
checkpoint, and a NaN stops the run with a message, keeping the last good
checkpoint. Writes ``table.md``, ``samples.png`` and ``curves.png``.
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from experiments.common import checkpoint
from experiments.common import cli
from experiments.common import results as R
from experiments.one_step_diffusion import train as T


def _evaluate_seeds(student, state, teacher, reference, config, key):
  xs = jax.vmap(lambda p, k: student.sample(p, k, config.eval_samples))(
      state.gen, jax.random.split(key, config.seeds))
  return [T.evaluate(np.asarray(x), teacher, reference, config.cover_fraction) for x in xs]


def _initial_state(student, config, workdir, keys, verbose):
  state = jax.vmap(student.init)(keys)
  if config.init_modes is None:
    return state
  path = os.path.join(workdir, "ckpt", "init")
  partial = T.ring_teacher(config, config.init_modes)

  def pretrain(state):
    it = tqdm(range(0, config.init_steps, config.log_every), desc="pretrain on "
              f"modes {list(config.init_modes)}", disable=not verbose, leave=False)
    for _ in it:
      state, metrics = jax.jit(T.train_chunk, static_argnums=(0, 5))(
          student, state, keys, partial, cli.parse_divergence("reverse_kl"),
          config.log_every)
      R.check_finite(metrics["grad_norm"], what="pretraining gradients")
    return state

  state, _ = checkpoint.restore_or_init(path, lambda: state, pretrain)
  return state


def run(config, workdir: str, *, fresh: bool = False, verbose: bool = True) -> dict:
  path = os.path.join(workdir, "results.json")
  if fresh and os.path.isdir(workdir):
    import shutil
    shutil.rmtree(workdir)
  out = R.read_json(path)
  if out is None or out.get("config") != R.to_jsonable(config):
    out = {"config": R.to_jsonable(config), "devices": [str(d) for d in jax.devices()],
           "jobs": {}}
  teacher = T.ring_teacher(config)
  reference = np.asarray(teacher.sample(jax.random.PRNGKey(99), config.eval_samples)[0])
  out["teacher"] = T.evaluate(reference, teacher, reference, config.cover_fraction)
  student = T.make_student(config)
  keys = jax.random.split(jax.random.PRNGKey(0), config.seeds)
  chunk = jax.jit(T.train_chunk, static_argnums=(0, 5))
  init_state = _initial_state(student, config, workdir, keys, verbose)
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
      job["history"].append(_record(0, _evaluate_seeds(student, state, teacher, reference,
                                                       config, jax.random.PRNGKey(7)), None))
      R.write_json(path, out)
    done = int(np.asarray(state.step)[0]) - int(np.asarray(init_state.step)[0])
    job["history"] = job["history"][:done // config.log_every + 1]
    bar = tqdm(range(done // config.log_every, chunks), desc=cli.divergence_label(spec),
               disable=not verbose, unit="chunk")
    for i in bar:
      start = time.perf_counter()
      new_state, metrics = chunk(student, state, keys, teacher, div, config.log_every)
      metrics = jax.device_get(metrics)
      job["wall_s"] += time.perf_counter() - start
      R.check_finite([metrics["grad_norm"], metrics["fake_loss"], metrics["disc_loss"]],
                     what=f"training metrics of {spec} at steps {i * config.log_every}-"
                     f"{(i + 1) * config.log_every} (last good checkpoint: {ckpt})")
      state = new_state
      evals = _evaluate_seeds(student, state, teacher, reference, config,
                              jax.random.PRNGKey(7))
      job["history"].append(_record((i + 1) * config.log_every, evals, metrics))
      checkpoint.save(ckpt, state)
      R.write_json(path, out)
      last = job["history"][-1]
      bar.set_postfix_str(f"modes {np.mean(last['modes_covered']):.1f} "
                          f"tv {np.mean(last['mode_tv']):.3f}")
    job["done"] = True
    R.write_json(path, out)
  write_reports(out, workdir, teacher, reference, student, verbose=verbose)
  return out


def _record(step, evals, metrics):
  rec = {"step": step}
  for key in ("modes_covered", "mode_tv", "off_mode_fraction", "mmd", "sinkhorn",
              "log_p_teacher"):
    rec[key] = [e[key] for e in evals]
  rec["histogram"] = [e["histogram"] for e in evals]
  if metrics is not None:
    for key in ("h_min", "h_mean", "h_max", "fake_loss", "disc_loss", "grad_norm"):
      rec[key] = [float(np.mean(m[-1:])) for m in np.asarray(metrics[key])]
    rec["h_min"] = [float(np.min(m)) for m in np.asarray(metrics["h_min"])]
    rec["h_max"] = [float(np.max(m)) for m in np.asarray(metrics["h_max"])]
    rec["h_mean"] = [float(np.mean(m)) for m in np.asarray(metrics["h_mean"])]
  return rec


def steps_to_cover_all(job, modes):
  """Per seed: the first evaluated step at which every mode is covered (or None)."""
  hist = job["history"]
  seeds = len(hist[0]["modes_covered"])
  return [next((h["step"] for h in hist if h["modes_covered"][s] == modes), None)
          for s in range(seeds)]


def write_reports(out, workdir, teacher, reference, student, *, verbose):
  config = out["config"]
  rows = []
  for spec, job in out["jobs"].items():
    last = job["history"][-1]
    m = lambda k: (np.mean(last[k]), np.std(last[k], ddof=1) if len(last[k]) > 1 else 0.0)
    recover = steps_to_cover_all(job, config["modes"])
    rows.append((cli.divergence_label(spec), f"{m('modes_covered')[0]:.1f} ± "
                 f"{m('modes_covered')[1]:.1f}", f"{m('mode_tv')[0]:.3f} ± {m('mode_tv')[1]:.3f}",
                 f"{m('mmd')[0]:.4f}", f"{m('sinkhorn')[0]:.3f} ± {m('sinkhorn')[1]:.3f}",
                 f"{m('log_p_teacher')[0]:.3f}", f"{np.min(last.get('h_min', [np.nan])):.3g}",
                 f"{np.mean(last.get('h_mean', [np.nan])):.3g}",
                 f"{np.max(last.get('h_max', [np.nan])):.3g}",
                 "/".join("-" if r is None else str(r) for r in recover),
                 f"{job['wall_s']:.0f}"))
  t = out["teacher"]
  header = (f"divergence", f"modes covered (of {config['modes']})", "mode-histogram TV",
            "MMD", "Sinkhorn", f"E_q log p (teacher: {t['log_p_teacher']:.3f})", "h min",
            "h mean", "h max", "steps to cover all (per seed)", "wall s")
  table = R.format_table(header, rows)
  with open(os.path.join(workdir, "table.md"), "w") as f:
    f.write(table + "\n")
  if verbose:
    print(table)
  plot_samples(out, workdir, teacher, student)
  plot_curves(out, os.path.join(workdir, "curves.png"))


def plot_samples(out, workdir, teacher, student):
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  config = out["config"]
  specs = [s for s in config["divergences"] if s in out["jobs"]]
  lim = config["radius"] + 2.5
  g = np.linspace(-lim, lim, 200)
  xx, yy = np.meshgrid(g, g)
  dens = np.exp(np.asarray(teacher.log_prob(jnp.stack([xx.ravel(), yy.ravel()], -1))))
  fig, axes = plt.subplots(1, len(specs), figsize=(3.2 * len(specs), 3.4), squeeze=False)
  for ax, spec in zip(axes[0], specs):
    ckpt = os.path.join(workdir, "ckpt", spec.replace(":", "_"))
    like = jax.vmap(student.init)(jax.random.split(jax.random.PRNGKey(0), config["seeds"]))
    state = checkpoint.restore(ckpt, like)
    ax.contourf(xx, yy, dens.reshape(xx.shape), levels=20, cmap="Greys")
    if state is not None:
      x = np.asarray(student.sample(jax.tree.map(lambda a: a[0], state.gen),
                                    jax.random.PRNGKey(5), 1500))
      ax.scatter(x[:, 0], x[:, 1], s=2, alpha=0.5, color="tab:red")
    last = out["jobs"][spec]["history"][-1]
    ax.set_title(f"{cli.divergence_label(spec)}: {last['modes_covered'][0]}/"
                 f"{config['modes']} modes", fontsize=9)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
  fig.suptitle("One-step student samples (seed 0, red) over the teacher density")
  fig.tight_layout()
  fig.savefig(os.path.join(workdir, "samples.png"), dpi=110)
  plt.close(fig)


def plot_curves(out, path):
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  keys = ("modes_covered", "mode_tv", "sinkhorn", "log_p_teacher")
  fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.2))
  for spec, job in out["jobs"].items():
    steps = [h["step"] for h in job["history"]]
    for ax, key in zip(axes, keys):
      ax.plot(steps, [np.mean(h[key]) for h in job["history"]],
              label=cli.divergence_label(spec))
  for ax, key in zip(axes, keys):
    ax.set_title(key + " (mean over seeds)", fontsize=9)
    ax.set_xlabel("generator step")
  axes[0].legend(fontsize=7)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--config", default="default", help="configs/<name>.py")
  parser.add_argument("--workdir", default="runs/one_step_diffusion")
  parser.add_argument("--fresh", action="store_true", help="delete the workdir first")
  args = parser.parse_args(argv)
  config = cli.load_config("experiments.one_step_diffusion", args.config)
  start = time.perf_counter()
  run(config, args.workdir, fresh=args.fresh)
  print(f"wrote {args.workdir}/results.json, table.md, samples.png, curves.png "
        f"in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
  main()
