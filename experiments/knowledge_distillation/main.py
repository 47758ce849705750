"""Distil a digits teacher into narrow students under every KD loss; CS-IB regression.

Usage:
  python -m experiments.knowledge_distillation.main --config default \
      --workdir runs/knowledge_distillation

Trains (or restores, from an orbax checkpoint under ``--workdir/teacher``) an MLP teacher
on sklearn's digits, then for every loss in the config trains ``seeds`` students of a
smaller width (vmapped over seeds) and reports test accuracy, NLL and expected calibration
error; then the same losses where the labels are scarce or noisy (``--config regimes``); then
trains the CS information bottleneck and an MSE baseline on sklearn's diabetes
and reports test RMSE and the compression term I_CS(x; z). Writes ``results.json``,
``table.md`` and ``reliability.png``; finished jobs are saved as they complete, so a killed
run resumes; ``--fresh`` starts over.
"""

import functools

import numpy as np

from experiments.common import calibration, cli, jobs
from experiments.common import digits as common_digits
from experiments.knowledge_distillation import report, students
from experiments.knowledge_distillation import train as T


def run(config, workdir: str, *, fresh: bool = False, verbose: bool = True) -> dict:
  path, out = jobs.open_results(workdir, config, fresh=fresh, distillation={}, regimes={}, ib={})
  split = common_digits.digits_split(config.test_fraction)
  model, params, restored = students.teacher(config, split, workdir)
  out["teacher"] = dict(
    calibration.calibration(
      np.asarray(model.apply(params, split.x_test)[1]), split.y_test, config.ece_bins
    ),
    restored_from_checkpoint=restored,
    hidden=list(config.teacher_hidden),
  )
  distill = functools.partial(
    students.distill, config=config, split=split, teacher_model=model, teacher_params=params
  )
  jobs.for_each_job(
    out, "distillation", config.losses, distill, path=path, desc="digits KD", verbose=verbose
  )
  experts = None
  if "multipeak" in config.regimes:
    e_model, e_params, out["experts"] = students.experts(config, split, workdir)
    experts = (e_model, e_params)
  regime = functools.partial(
    students.distill_in_regime,
    config=config,
    split=split,
    teacher_model=model,
    teacher_params=params,
    experts=experts,
  )
  names = [f"{r}/{loss}" for r in config.regimes for loss in config.regime_losses]
  jobs.for_each_job(out, "regimes", names, regime, path=path, desc="KD regimes", verbose=verbose)
  ib_split, y_std = T.diabetes_split(0.25)
  out["ib_linear_reference_rmse"] = students.linear_reference_rmse(ib_split, y_std)
  ib = functools.partial(
    students.information_bottleneck, config=config, split=ib_split, y_std=y_std
  )
  jobs.for_each_job(
    out, "ib", config.ib_methods, ib, path=path, desc="diabetes IB", verbose=verbose
  )
  report.write_reports(out, workdir, verbose=verbose)
  return out


main = cli.command(run, __package__, __doc__)


if __name__ == "__main__":
  main()
