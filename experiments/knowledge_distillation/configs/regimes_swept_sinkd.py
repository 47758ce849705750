"""SinKD on the grid of ``regimes_swept`` (the loss that config leaves out for its cost), with
CE for the reference: the same regimes, validation split, settings and seeds. Not run to the
end on the 2-core CPU: its first regime had not finished after 27 minutes."""

import dataclasses

from experiments.knowledge_distillation.configs import regimes_swept


def get_config():
  return dataclasses.replace(regimes_swept.get_config(), regime_losses=("ce", "sinkd"))
