"""CPU-tiny config for the end-to-end test."""

import dataclasses

from experiments.one_step_diffusion.configs import default


def get_config() -> default.Config:
  return dataclasses.replace(
    default.get_config(),
    divergences=("reverse_kl", "kl"),
    seeds=2,
    steps=10,
    critic_updates=2,
    batch_size=64,
    hidden=(32,),
    disc_hidden=(16,),
    log_every=10,
    eval_samples=500,
    teacher_steps=20,
    teacher_batch=64,
  )
