"""Many-Well-32 (2^16 modes): RealNVP, every method, 3 seeds."""

import dataclasses

from experiments.boltzmann.configs import default


def get_config() -> default.Config:
  return dataclasses.replace(
      default.get_config(), target="many_well32", flow="real_nvp", layers=12,
      hidden=(128, 128), base_scale=1.5, t_high=5.0, levels=5)
