"""CPU-tiny config for the end-to-end test (RealNVP: a fraction of the spline's compile time)."""

import dataclasses

from experiments.boltzmann.configs import default


def get_config() -> default.Config:
  return dataclasses.replace(
    default.get_config(),
    methods=("reverse_kl", "alpha:2", "tabg", "fab"),
    seeds=2,
    flow="real_nvp",
    layers=2,
    hidden=(16,),
    bins=4,
    batch_size=64,
    steps=20,
    high_steps=10,
    levels=2,
    buffer_size=256,
    ml_steps=5,
    final_levels=1,
    eval_samples=500,
    log_every=10,
    fab_iterations=20,
    fab_log_every=10,
    fab_batch_size=64,
    fab_fill_batches=4,
    fab_buffer_batches=8,
    ais_levels=2,
    ais_integration_steps=2,
  )
