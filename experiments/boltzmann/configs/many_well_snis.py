"""Many-Well-32: the self-normalised importance-weight objectives (alpha = 2,
forward KL, JS) at T = 1 with the many_well config's flow, start and budget.

Together with ``many_well_tabg`` (reverse KL and TA-BG) this is the
``many_well`` config split in two runs (every method runs from the same
initial flow and seeds, so the rows are the same as one ``many_well`` run).
"""

import dataclasses

from experiments.boltzmann.configs import many_well


def get_config():
  return dataclasses.replace(many_well.get_config(), methods=("alpha:2", "kl", "js"))
