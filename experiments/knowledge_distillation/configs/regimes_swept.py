"""The regimes of ``regimes`` with every loss swept alike: temperature in {1, 2, 4, 8} x
weight scale in {0.5, 1, 2} (times the loss's ``kd_weight``), chosen on a 20% validation
split of the training images; 5 seeds per setting."""

import dataclasses

from experiments.knowledge_distillation.configs import default, regimes


def get_config() -> default.Config:
  return dataclasses.replace(regimes.get_config(), sweep_temperatures=(1.0, 2.0, 4.0, 8.0))
