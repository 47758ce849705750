"""CPU-tiny config for the end-to-end test."""

import dataclasses

from experiments.knowledge_distillation.configs import default


def get_config() -> default.Config:
  return dataclasses.replace(
    default.get_config(),
    teacher_hidden=(32,),
    teacher_steps=60,
    student_steps=40,
    batch_size=32,
    losses=("kl", "cs_features"),  # the other losses: tests/test_categorical.py
    ib_methods=("cs_ib",),
    regimes=("noisy", "multipeak", "self", "mutual"),
    regime_losses=("ce", "alpha:2"),
    seeds=2,
    ib_steps=40,
  )
