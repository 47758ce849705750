"""Strongly unequal mode weights: heaviest / lightest = 50, so the lightest of the
8 modes holds 0.87% of the mass. Is it covered, per divergence? 3 seeds."""

import dataclasses

from experiments.one_step_diffusion.configs import default


def get_config() -> default.Config:
  return dataclasses.replace(
    default.get_config(),
    weight_ratio=50.0,
    seeds=3,
    steps=1500,
    divergences=("reverse_kl", "kl", "js", "squared_hellinger"),
  )
