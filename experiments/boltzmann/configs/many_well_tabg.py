"""Many-Well-32: reverse KL at T = 1 against TA-BG (the many_well config's flow)."""

import dataclasses

from experiments.boltzmann.configs import many_well


def get_config():
  return dataclasses.replace(many_well.get_config(), methods=("reverse_kl", "tabg"))
