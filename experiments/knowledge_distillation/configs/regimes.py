"""Scarce labels (5%), label noise (40%) and a multi-peaked teacher (a mean of experts on
disjoint classes, with the scarce labels) on digits: every KD loss, 5 seeds."""

from experiments.knowledge_distillation.configs import default

LOSSES = (
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
)


def get_config() -> default.Config:
  return default.regimes_only(("scarce", "noisy", "multipeak"), LOSSES)
