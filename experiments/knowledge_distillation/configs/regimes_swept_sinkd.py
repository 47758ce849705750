"""SinKD alone (with CE for the reference) on the grid, regimes, validation split, settings and
seeds of ``regimes_swept``: the one loss whose sweep takes 30-45 minutes per regime on 2 CPU
cores."""

import dataclasses

from experiments.knowledge_distillation.configs import regimes_swept


def get_config():
  return dataclasses.replace(regimes_swept.get_config(), regime_losses=("ce", "sinkd"))
