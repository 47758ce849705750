"""GMM-40 with TA-BG only (the default config's flow, ladder and seeds)."""

import dataclasses

from experiments.boltzmann.configs import default


def get_config() -> default.Config:
  return dataclasses.replace(default.get_config(), methods=("tabg",))
