"""What a Boltzmann stage records: the evaluation on fresh samples, the stage's own
metrics (per seed), and whether the self-normalised weights collapsed."""

from __future__ import annotations

import logging

import jax
import numpy as np

from experiments.common import distributed
from fdiv_jax import metrics as M

log = logging.getLogger("experiments.boltzmann")

STAGE_METRICS = ("buffer_ess", "clipped_fraction", "ais_ess", "acceptance", "batch_ess")


def evaluate(evaluate_seeds, params, config, target) -> tuple[dict, np.ndarray]:
  """Per-seed metrics of the flows on ``config.eval_samples`` fresh samples, and the samples."""
  evals = evaluate_seeds(params, jax.random.split(jax.random.PRNGKey(11), config.seeds))
  evals = distributed.to_host(evals)
  samples = evals.pop("_samples")
  out = {k: np.asarray(v).tolist() for k, v in evals.items()}
  if target.name.startswith("many_well"):
    out["sign_patterns"] = [M.sign_patterns(s) for s in samples]
  return out, samples


def stage_record(job: dict, stage, metrics: dict, evals: dict) -> dict:
  """The history entry of a finished stage: cumulative cost, last loss, evaluation, and
  the stage's per-seed series summarised by their last value (and minimum)."""
  record = {
    "stage": stage.label,
    "target_evals": job["target_evals"],
    "wall_s": job["wall_s"],
    "loss": np.asarray(metrics["loss"])[:, -1].tolist(),
    **evals,
  }
  for k in STAGE_METRICS:
    if k in metrics:
      v = np.asarray(metrics[k])
      record[k] = (v if v.ndim == 1 else v[:, -1]).tolist()
      if v.ndim > 1:
        record[f"{k}_min"] = v.min(axis=1).tolist()
  return record


def flag_collapse(record: dict, *, method: str, index: int, config) -> None:
  """Lists the seeds whose batch ESS fell below ``config.collapse_ess`` samples in the
  stage as ``collapsed_seeds`` and warns, naming method, stage and seeds."""
  if "batch_ess_min" not in record:
    return
  collapsed = [
    s for s, e in enumerate(record["batch_ess_min"]) if e * config.batch_size < config.collapse_ess
  ]
  record["collapsed_seeds"] = collapsed
  if collapsed and method != "reverse_kl":  # reverse KL does not use the weights
    log.warning(
      "%s, stage %d (%s): the self-normalised weights collapsed onto one sample (batch "
      "ESS < %.3g samples) in seeds %s; the objective is training on a single point",
      method,
      index,
      record["stage"],
      config.collapse_ess,
      collapsed,
    )
