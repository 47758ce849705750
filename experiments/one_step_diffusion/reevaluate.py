"""Re-evaluate the final students of a finished ring run on more samples.

Usage:
  python -m experiments.one_step_diffusion.reevaluate --config ring_full \
      --workdir runs/one_step_full --samples 40000

The run's ``mode_tv`` is estimated from ``eval_samples`` (4 000) samples, and at
that size sampling noise alone puts the exact teacher's own TV at 0.013-0.026
(it depends on the draw): close to the targets it is compared with. This
restores each divergence's final checkpoint, draws ``--samples`` samples per
seed and evaluates them as the run does (same reference, mode assignment and
off-mode bin), next to fresh teacher samples of the same size (the estimator's
floor). Prints a table and writes ``reevaluation_<samples>.json``; training is
not touched.
"""

from __future__ import annotations

import argparse
import functools
import os

import jax
import numpy as np

from experiments.common import cli
from experiments.common import results as R
from experiments.one_step_diffusion import records, report, task
from experiments.one_step_diffusion import train as T

KEYS = ("modes_covered", "mode_tv", "off_mode_fraction")


def reevaluate(config, workdir: str, samples: int) -> dict:
  if config.dataset != "ring":
    raise ValueError(f"only ring runs are re-evaluated, got dataset={config.dataset!r}")
  if samples < 1:
    raise ValueError(f"samples must be >= 1, got {samples}")
  gmm = T.ring_teacher(config)
  reference = np.asarray(gmm.sample(jax.random.PRNGKey(99), samples)[0])
  evaluate = functools.partial(
    T.evaluate,
    final=False,
    teacher=gmm,
    reference=reference,
    cover_fraction=config.cover_fraction,
    bandwidth=T.reference_bandwidth(reference),
  )
  floor = evaluate(np.asarray(gmm.sample(jax.random.PRNGKey(1234), samples)[0]))
  out = {"samples": samples, "teacher": {k: floor[k] for k in KEYS}, "jobs": {}}
  teacher_init, _ = T.fit_or_restore_teacher(
    config, task.gmm_draw(gmm), 2, workdir, jax.random.PRNGKey(2024), verbose=False
  )
  student = T.make_student(config, dim=2)
  for spec in config.divergences:
    state = report.restore_final(student, config.seeds, teacher_init, workdir, spec)
    if state is None:
      raise FileNotFoundError(
        f"no checkpoint of {spec!r} under {workdir}/ckpt: run the config first"
      )
    xs = records.sample_seeds(
      student, state.generator_ema, jax.random.split(jax.random.PRNGKey(7), config.seeds), samples
    )
    evals = [evaluate(np.asarray(x)) for x in xs]
    out["jobs"][spec] = {
      "step": int(np.asarray(state.step)[0]),
      **{k: [e[k] for e in evals] for k in KEYS},
    }
  R.write_json(os.path.join(workdir, f"reevaluation_{samples}.json"), out)
  return out


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--config", default="ring_full")
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--samples", type=int, default=40_000)
  parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
  args = parser.parse_args(argv)
  config = cli.override(cli.load_config("experiments.one_step_diffusion", args.config), args.set)
  out = reevaluate(config, args.workdir, args.samples)
  rows = [["teacher (fresh samples)", "-", *(f"{out['teacher'][k]:.4g}" for k in KEYS)]]
  for spec, job in out["jobs"].items():
    rows.append(
      [
        cli.divergence_label(spec),
        str(job["step"]),
        *("/".join(f"{v:.3g}" for v in job[k]) for k in KEYS),
      ]
    )
  print(R.format_table(["divergence", "step", *(f"{k} (per seed)" for k in KEYS)], rows))


if __name__ == "__main__":
  main()
