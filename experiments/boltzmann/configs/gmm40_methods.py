"""GMM-40, every method side by side: the default's flow, start, seeds and TA-BG.

Each f-divergence is trained at T = 1 for ``steps`` steps of batch 512 from the
same initial flow (N(0, 15^2)); TA-BG is the default config's ladder.
"""

import dataclasses

from experiments.boltzmann.configs import default


def get_config() -> default.Config:
  return dataclasses.replace(default.get_config(), methods=default.ALL_METHODS)
