"""Digits with FastGen's f-distill setup: the generator is the teacher network at
sigma_init = sigma_max, G(z) = D(10 z, 10); distillation noise levels from 0.02
(the teacher sampler's last level) on FastGen's "polynomial" law (a uniform index
into the Karras grid); the generator step in x0 space, averaged over the 64
pixels (weighting="dmd"), with the GAN term at 1e-3 of it; 4 critic updates per
generator update (FastGen's student_update_freq = 5)."""

import dataclasses

from experiments.one_step_diffusion.configs import digits


def get_config() -> digits.DigitsConfig:
  return dataclasses.replace(
    digits.get_config(),
    weighting="dmd",
    sigma_min=0.02,
    sigma_init=10.0,
    sigma_distribution="polynomial",
    divergences=("reverse_kl", "kl", "js"),
    critic_updates=4,
    generator_lr=1e-4,
    generator_lr_final=1e-5,
    steps=2000,
    log_every=200,
  )
