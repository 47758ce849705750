"""Scarce labels (5%), label noise (40%) and a multi-peaked teacher (a mean of experts on
disjoint classes, with the scarce labels) on digits: every KD loss, 5 seeds."""

import dataclasses

from experiments.knowledge_distillation.configs import default


def get_config() -> default.Config:
  return dataclasses.replace(
    default.get_config(),
    losses=(),  # the control regime is the default config's table
    ib_methods=(),
    seeds=5,
    regimes=("scarce", "noisy", "multipeak"),
    regime_losses=(
      "ce",
      "kl",
      "reverse_kl",
      "js",
      "alpha:0.5",
      "alpha:2",
      "total_variation",
      "bd_kd",
      "sinkd",
      "cs_features",
    ),
  )
