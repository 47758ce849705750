"""Self-distillation on digits: students of the teacher's width (256x256), clean labels,
the row-wise KD losses against cross-entropy alone, 5 seeds."""

import dataclasses

from experiments.knowledge_distillation.configs import default


def get_config() -> default.Config:
  return dataclasses.replace(
    default.get_config(),
    losses=(),
    ib_methods=(),
    seeds=5,
    regimes=("self",),
    regime_losses=("ce", "kl", "reverse_kl", "js", "alpha:0.5", "alpha:2", "total_variation"),
  )
