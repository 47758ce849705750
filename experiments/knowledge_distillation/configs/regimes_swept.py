"""The regimes of ``regimes`` with every loss swept alike: temperature in {1, 2, 4, 8, 16} x
weight scale in {0.25, 0.5, 1, 2, 4} (times the loss's ``kd_weight``; CS on features, which
has no temperature, the scales alone), chosen on a 20% validation split of the training
images; 5 seeds per setting. On 2 CPU cores every row-wise loss takes 0.3-1.5 minutes per
regime and CS on features under 3, but SinKD 30-45 (its B x B Sinkhorn, unrolled, for 125
students at once): ``regimes_swept_sinkd`` runs it (with CE) alone, into a results.json
that merges with this one's (the jobs are independent)."""

import dataclasses

from experiments.knowledge_distillation.configs import default, regimes


def get_config() -> default.Config:
  return dataclasses.replace(
    regimes.get_config(),
    sweep_temperatures=(1.0, 2.0, 4.0, 8.0, 16.0),
    sweep_weight_scales=(0.25, 0.5, 1.0, 2.0, 4.0),
  )
