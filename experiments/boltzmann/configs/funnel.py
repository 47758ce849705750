"""Funnel-10: RealNVP, every method, 3 seeds."""

import dataclasses

from experiments.boltzmann.configs import default


def get_config() -> default.Config:
  return dataclasses.replace(
      default.get_config(), target="funnel10", flow="real_nvp", layers=10,
      hidden=(64, 64), base_scale=1.0, t_high=5.0, levels=5)
