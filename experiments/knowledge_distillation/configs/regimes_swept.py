"""The regimes of ``regimes`` with every loss swept alike: temperature in {1, 2, 4, 8, 16} x
weight scale in {0.25, 0.5, 1, 2, 4} (times the loss's ``kd_weight``; CS on features, which
has no temperature, the scales alone), chosen on a 20% validation split of the training
images; 5 seeds per setting. SinKD is left out: one setting takes it 107 s for 5 seeds on 2
cores (the B x B Sinkhorn, unrolled), and its 25 alone (``regimes_swept_sinkd``) had not
finished the first regime after 27 minutes, against 0.3-1.5 minutes for every row-wise loss
and under 3 for CS on features."""

import dataclasses

from experiments.knowledge_distillation.configs import default, regimes


def get_config() -> default.Config:
  return dataclasses.replace(
    regimes.get_config(),
    regime_losses=tuple(loss for loss in regimes.LOSSES if loss != "sinkd"),
    sweep_temperatures=(1.0, 2.0, 4.0, 8.0, 16.0),
    sweep_weight_scales=(0.25, 0.5, 1.0, 2.0, 4.0),
  )
