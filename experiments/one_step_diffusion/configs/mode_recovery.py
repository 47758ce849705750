"""Mode recovery: a generator pretrained on 3 of the 8 modes, then the full teacher."""

import dataclasses

from experiments.one_step_diffusion.configs import default


def get_config() -> default.Config:
  return dataclasses.replace(default.get_config(), init_modes=(0, 1, 2), init_steps=400,
                             steps=1000, log_every=100)
