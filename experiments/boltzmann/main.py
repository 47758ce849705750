"""Train Boltzmann generators (flows, no data) with f-divergences and TA-BG.

Usage:
  python -m experiments.boltzmann.main --config default --workdir runs/boltzmann_gmm40
  python -m experiments.boltzmann.main --config gmm40_methods --workdir runs/boltzmann_gmm40_methods
  python -m experiments.boltzmann.main --config many_well --workdir runs/boltzmann_mw32
  python -m experiments.boltzmann.main --config funnel --workdir runs/boltzmann_funnel

For each method (a registry divergence, estimated by ``fdiv_jax.monte_carlo``,
or the TA-BG ladder: ``tabg`` by temperature, ``tabg:base`` along the
geometric path from the flow's base) ``seeds`` flows are trained side by side
(vmapped). After every stage the run evaluates log Z error, reverse / forward
ESS, ELBO / EUBO, mode coverage and energy distance to exact samples, saves an
orbax checkpoint and ``results.json``; a killed run resumes at the last
finished stage, and a NaN stops the run with a message, keeping the last good
checkpoint. Writes ``table.md``, ``samples.png`` (2-D targets) and ``curves.png``.
"""

from __future__ import annotations

import logging
import os
import shutil
import time

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from experiments.boltzmann import train as T
from experiments.common import checkpoint, cli
from experiments.common import results as R
from fdiv_jax import metrics as M
from fdiv_jax import parallel

log = logging.getLogger("experiments.boltzmann")

SUMMARY = (
  "log_z_error",
  "reverse_ess",
  "forward_ess",
  "elbo",
  "eubo",
  "modes_covered",
  "mode_entropy",
  "sign_patterns",
  "energy_distance",
  "energy_clipped_fraction",
)


def _evaluate(evaluate_seeds, state, config, target):
  evals = evaluate_seeds(state.params, jax.random.split(jax.random.PRNGKey(11), config.seeds))
  evals = parallel.to_host(evals)
  samples = evals.pop("_samples")
  out = {k: np.asarray(v).tolist() for k, v in evals.items()}
  if target.name.startswith("many_well"):
    out["sign_patterns"] = [M.sign_patterns(s) for s in samples]
  return out, samples


def run(config, workdir: str, *, fresh: bool = False, verbose: bool = True) -> dict:
  if fresh and os.path.isdir(workdir):
    shutil.rmtree(workdir)
  path = os.path.join(workdir, "results.json")
  out = R.read_json(path)
  if out is None or out.get("config") != R.to_jsonable(config):
    out = {
      "config": R.to_jsonable(config),
      "devices": [str(d) for d in jax.devices()],
      "methods": {},
    }
  target = T.make_target(config.target)
  flow = T.make_flow(config, target.dim)
  exact = (
    None
    if target.sample is None
    else jnp.asarray(target.sample(jax.random.PRNGKey(123), config.eval_samples))
  )
  if exact is not None and target.name.startswith("many_well"):
    out["exact_sign_patterns"] = M.sign_patterns(np.asarray(exact[:2000]))
  trainer = T.make_trainer(config, target, flow, exact)
  keys = jax.random.split(jax.random.PRNGKey(config.seed), config.seeds)
  evaluate_seeds = jax.jit(jax.vmap(trainer.evaluate))  # compiled once, not op by op
  for method in config.methods:
    job = out["methods"].setdefault(
      method, {"history": [], "done": False, "wall_s": 0.0, "target_evals": 0}
    )
    if job["done"]:
      continue
    stages = T.stages_for(method, config, trainer)
    init = jax.jit(jax.vmap(lambda k: trainer.init(k, method)))(keys)
    # One checkpoint per finished stage, committed by the results.json write that
    # follows it: a run killed between the two resumes from the stage results.json
    # records (the newer checkpoint is ignored), so no stage is applied twice.
    ckpt_dir = os.path.join(workdir, "ckpt", method.replace(":", "_"))
    ckpt = _stage_checkpoint(ckpt_dir, len(job["history"]) - 1)
    state = checkpoint.restore(ckpt, init) if job["history"] else None
    if state is None:
      state, job["history"], job["wall_s"], job["target_evals"] = init, [], 0.0, 0
    state = parallel.replicate(state)
    done = len(job["history"])
    bar = tqdm(stages[done:], desc=f"{config.target} {method}", disable=not verbose, unit="stage")
    for i, stage in enumerate(bar, start=done):
      start = time.perf_counter()
      new_state, metrics = stage.run(state, keys)
      metrics = jax.device_get(metrics)
      job["wall_s"] += time.perf_counter() - start
      last_good = f"last good checkpoint: {ckpt}" if i else "no checkpoint yet"
      R.check_finite(
        metrics["loss"], what=f"{method} loss in stage {i} ({stage.label}); {last_good}"
      )
      state = new_state
      job["target_evals"] += stage.target_evals
      evals, samples = _evaluate(evaluate_seeds, state, config, target)
      rec = {
        "stage": stage.label,
        "target_evals": job["target_evals"],
        "wall_s": job["wall_s"],
        "loss": np.asarray(metrics["loss"])[:, -1].tolist(),
        **evals,
      }
      for k in ("buffer_ess", "clipped_fraction", "ais_ess", "acceptance", "batch_ess"):
        if k in metrics:  # per seed; per-step series are summarised by their last value
          v = np.asarray(metrics[k])
          rec[k] = (v if v.ndim == 1 else v[:, -1]).tolist()
          if v.ndim > 1:
            rec[f"{k}_min"] = v.min(axis=1).tolist()
      if "batch_ess_min" in rec:
        collapsed = [
          i
          for i, e in enumerate(rec["batch_ess_min"])
          if e * config.batch_size < config.collapse_ess
        ]
        rec["collapsed_seeds"] = collapsed
        if collapsed and method != "reverse_kl":  # reverse KL does not use the weights
          log.warning(
            "%s, stage %d (%s): the self-normalised weights collapsed onto one "
            "sample (batch ESS < %.3g samples) in seeds %s; the objective is "
            "training on a single point",
            method,
            i,
            stage.label,
            config.collapse_ess,
            collapsed,
          )
      job["history"].append(rec)
      previous, ckpt = ckpt, _stage_checkpoint(ckpt_dir, i)
      checkpoint.save(ckpt, state)
      np.save(os.path.join(workdir, f"samples_{method.replace(':', '_')}.npy"), samples)
      R.write_json(path, out)  # the commit point of stage i
      shutil.rmtree(previous, ignore_errors=True)
      post = {
        k: np.mean(rec[k]) for k in ("modes_covered", "reverse_ess", "log_z_error") if k in rec
      }
      bar.set_postfix_str(" ".join(f"{k} {v:.3g}" for k, v in post.items()))
    job["done"] = True
    R.write_json(path, out)
  write_reports(out, workdir, target, verbose=verbose)
  return out


def _stage_checkpoint(ckpt_dir: str, stage: int) -> str:
  """The checkpoint directory of the state after ``stage`` (-1: none yet)."""
  return os.path.join(ckpt_dir, f"stage_{stage}")


def _cell(values):
  values = np.asarray(values, np.float64)
  sd = values.std(ddof=1) if values.size > 1 else 0.0
  return f"{values.mean():.4g} ± {sd:.2g}"


def write_reports(out, workdir, target, *, verbose):
  keys = [
    k
    for k in SUMMARY
    if any(k in j["history"][-1] for j in out["methods"].values() if j["history"])
  ]
  rows = []
  for method, job in out["methods"].items():
    if not job["history"]:
      continue
    last = job["history"][-1]
    rows.append(
      [method]
      + [_cell(last[k]) if k in last else "-" for k in keys]
      + [f"{job['target_evals']:.3g}", f"{job['wall_s']:.0f}"]
    )
  seeds = out["config"]["seeds"]
  table = R.format_table(
    ["method"]
    + [f"{k} ({seeds} seeds)" if i == 0 else k for i, k in enumerate(keys)]
    + ["target evals / seed", "train wall s"],
    rows,
  )
  R.write_text(os.path.join(workdir, "table.md"), table + "\n")
  if verbose:
    print(table)
  plot_curves(out, keys, os.path.join(workdir, "curves.png"))
  if target.dim == 2:
    plot_samples(out, workdir, target, os.path.join(workdir, "samples.png"))


def plot_curves(out, keys, path):
  plt = R.pyplot()

  keys = [
    k
    for k in keys
    if k
    in (
      "modes_covered",
      "mode_entropy",
      "reverse_ess",
      "forward_ess",
      "log_z_error",
      "sign_patterns",
    )
  ]
  fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.2), squeeze=False)
  for method, job in out["methods"].items():
    evals = [h["target_evals"] for h in job["history"]]
    for ax, k in zip(axes[0], keys):
      if k in job["history"][-1]:
        ax.plot(evals, [np.mean(h[k]) for h in job["history"]], marker=".", label=method)
  for ax, k in zip(axes[0], keys):
    ax.set_xscale("log")
    ax.set_xlabel("target energy evaluations per seed")
    ax.set_title(f"{k} (mean over seeds)", fontsize=9)
  axes[0][0].legend(fontsize=7)
  fig.tight_layout()
  R.save_figure(fig, path)


def plot_samples(out, workdir, target, path):
  plt = R.pyplot()

  methods = list(out["methods"])
  lim = 50
  g = np.linspace(-lim, lim, 300)
  xx, yy = np.meshgrid(g, g)
  dens = np.exp(np.asarray(target.log_prob(jnp.stack([xx.ravel(), yy.ravel()], -1))))
  fig, axes = plt.subplots(
    1, len(methods), figsize=(max(3.3 * len(methods), 5.0), 3.8), squeeze=False
  )
  for ax, method in zip(axes[0], methods):
    ax.contourf(xx, yy, dens.reshape(xx.shape), levels=30, cmap="Greys")
    f = os.path.join(workdir, f"samples_{method.replace(':', '_')}.npy")
    if os.path.exists(f):
      x = np.load(f)[0]
      ax.scatter(x[:, 0], x[:, 1], s=1, alpha=0.5, color="tab:red")
    last = out["methods"][method]["history"][-1]
    title = method
    if "modes_covered" in last:
      title += f": {last['modes_covered'][0]}/40 modes, ESS {last['reverse_ess'][0]:.2f}"
    ax.set_title(title, fontsize=8)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
  fig.suptitle(f"{target.name}: flow samples (seed 0, red) over the target density", fontsize=9)
  fig.tight_layout()
  R.save_figure(fig, path)


def main(argv=None) -> None:
  cli.run_main(
    argv,
    package="experiments.boltzmann",
    doc=__doc__,
    default_workdir="runs/boltzmann_gmm40",
    run=run,
    outputs="results.json, table.md, curves.png",
  )


if __name__ == "__main__":
  main()
