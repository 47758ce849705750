"""GMM-40, TA-BG only, with a longer ladder (about 4x the default's training time)."""

import dataclasses

from experiments.boltzmann.configs import default


def get_config() -> default.Config:
  return dataclasses.replace(default.get_config(), methods=("tabg",), high_steps=2000,
                             levels=10, buffer_size=20_000, ml_steps=200, final_levels=3)
