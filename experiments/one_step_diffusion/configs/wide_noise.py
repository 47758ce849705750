"""The 2-D ring with distillation noise levels from 0.3 (= the mode scale) up.

Below about the mode scale the fake denoiser cannot follow the student's score;
raising sigma_min trades sharpness (more off-mode samples) for coverage.
Reverse KL and forward KL, 3 seeds."""

import dataclasses

from experiments.one_step_diffusion.configs import default


def get_config() -> default.Config:
  return dataclasses.replace(default.get_config(), divergences=("reverse_kl", "kl"), seeds=3,
                             sigma_min=0.3)
