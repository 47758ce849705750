"""CPU-tiny digits config for the end-to-end test."""

import dataclasses

from experiments.one_step_diffusion.configs import digits


def get_config() -> digits.DigitsConfig:
  return dataclasses.replace(
    digits.get_config(),
    hidden=(32,),
    disc_hidden=(16,),
    divergences=("kl",),
    seeds=2,
    steps=4,
    log_every=2,
    critic_updates=1,
    batch_size=32,
    eval_samples=200,
    teacher_steps=20,
    teacher_heun_steps=4,
    gradient_noise_batches=0,
  )
