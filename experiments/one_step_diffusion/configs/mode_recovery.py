"""Mode recovery: a generator pretrained on 3 of the 8 modes, then the full teacher.

Pretraining is reverse KL against the teacher restricted to modes 0-2 (from the
teacher-network initialisation of the default); every divergence then continues
from that state on the full ring, and "steps to cover all" records when each
seed first covers all 8 modes (evaluated every 100 steps)."""

import dataclasses

from experiments.one_step_diffusion.configs import default


def get_config() -> default.Config:
  return dataclasses.replace(
    default.get_config(),
    init_modes=(0, 1, 2),
    init_steps=500,
    steps=1500,
    log_every=100,
    seeds=3,
    divergences=("reverse_kl", "kl", "js", "squared_hellinger"),
  )
