"""SinKD on the grid of ``regimes_swept`` (the loss that config leaves out for its cost), with
CE for the reference: the same regimes, validation split, settings and seeds."""

import dataclasses

from experiments.knowledge_distillation.configs import regimes_swept


def get_config():
  return dataclasses.replace(regimes_swept.get_config(), regime_losses=("ce", "sinkd"))
