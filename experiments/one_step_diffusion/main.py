"""Distil one-step students from a diffusion teacher with every f-divergence (f-distill).

Usage:
  python -m experiments.one_step_diffusion.main --config default \
      --workdir runs/one_step_diffusion
  (configs: default, ring_full, ring_long, unequal, mode_recovery, digits_fastgen, digits;
  ``python -m experiments.one_step_diffusion.reevaluate`` re-evaluates a finished ring
  run's students on more samples)

For each divergence, ``seeds`` students (vmapped) are trained with f-distill against an
exact ring-mixture score (or a digits denoiser), starting from a teacher network fitted by
DSM, as in FastGen. Every ``log_every`` steps: mode coverage, mode-histogram TV, MMD,
Sinkhorn, E_q[log p_teacher] (digits: FD, classes) and an orbax checkpoint committed with
``results.json`` (:mod:`experiments.common.jobs`). Writes ``table.md``, ``samples.png``,
``curves.png``.
"""

import jax
import numpy as np

from experiments.common import cli, jobs
from experiments.common import results as R
from experiments.one_step_diffusion import records, report, task
from experiments.one_step_diffusion import train as T
from fdiv_jax import parallel


def run(config, workdir: str, *, fresh: bool = False, verbose: bool = True) -> dict:
  path, out = jobs.open_results(workdir, config, fresh=fresh, jobs={})
  problem = task.make_task(config, workdir, verbose)
  out["teacher"] = problem.summary
  student = T.make_student(config, dim=problem.dim)
  keys = jax.random.split(jax.random.PRNGKey(0), config.seeds)
  chunk = jax.jit(T.train_chunk, static_argnums=(0, 5))
  init_state = task.initial_state(student, config, workdir, keys, problem, verbose)
  chunks = config.steps // config.log_every
  key = jax.random.PRNGKey(7)
  evaluate = lambda s, final=False: records.evaluate_seeds(student, s, problem, config, key, final)
  for spec in config.divergences:
    job = out["jobs"].setdefault(spec, {"history": [], "done": False, "wall_s": 0.0})
    if job["done"]:
      continue
    div = cli.parse_divergence(spec)

    def start(state, job=job, div=div):
      if config.gradient_noise_batches:
        job["gradient_noise_at_start"] = records.gradient_noise(
          student, state, problem, div, config
        )
      return [records.record(0, evaluate(state), None)]

    def stage(i, state, last_good, job=job, div=div, spec=spec):
      steps = (i * config.log_every, (i + 1) * config.log_every)
      (state, metrics), wall = jobs.timed(
        lambda: chunk(
          student, parallel.replicate(state), keys, problem.teacher, div, steps[1] - steps[0]
        )
      )
      metrics = jax.device_get(metrics)
      job["wall_s"] += wall
      R.check_finite(
        [metrics["grad_norm"], metrics["fake_loss"], metrics["disc_loss"]],
        what=f"training metrics of {spec} at steps {steps[0]}-{steps[1]} ({last_good})",
      )
      if i == chunks - 1 and config.gradient_noise_batches:
        job["gradient_noise"] = records.gradient_noise(student, state, problem, div, config)
      rec = records.record(steps[1], evaluate(state, i == chunks - 1), metrics)
      rec["train_wall_s"] = job["wall_s"]
      return state, rec

    jobs.run_stages(
      job,
      init_state=init_state,
      num_stages=chunks,
      stage=stage,
      start=start,
      ckpt_dir=report.ckpt_dir(workdir, spec),
      commit=lambda: R.write_json(path, out),
      desc=cli.divergence_label(spec),
      verbose=verbose,
      postfix=lambda r: " ".join(
        f"{k} {np.mean(r[k]):.3g}" for k in ("modes_covered", "fd") if k in r
      ),
    )
  report.write_reports(out, workdir, problem, student, verbose=verbose)
  return out


main = cli.command(run, __package__, __doc__)


if __name__ == "__main__":
  main()
