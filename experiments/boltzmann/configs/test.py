"""CPU-tiny config for the end-to-end test."""

import dataclasses

from experiments.boltzmann.configs import default


def get_config() -> default.Config:
  return dataclasses.replace(
      default.get_config(), methods=("reverse_kl", "alpha:2", "tabg"), seeds=2, layers=2,
      hidden=(16,), bins=4, batch_size=64, steps=20, high_steps=10, levels=2,
      buffer_size=256, ml_steps=5, final_levels=1, eval_samples=500, log_every=10)
