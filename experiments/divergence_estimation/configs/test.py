"""CPU-tiny config for the end-to-end test."""

import dataclasses

from experiments.divergence_estimation.configs import default


def get_config() -> default.Config:
  return dataclasses.replace(
    default.get_config(),
    problems=("gauss_d1", "gmm_1d"),
    divergences=("kl", "js", "alpha:0.5"),
    seeds=2,
    steps=60,
    batch_size=64,
    hidden=(16,),
    eval_samples=2_000,
    log_every=10,
    truth_samples=100_000,
  )
