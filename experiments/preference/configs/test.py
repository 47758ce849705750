"""CPU-tiny config for the end-to-end test."""

import dataclasses

from experiments.preference.configs import default


def get_config() -> default.Config:
  return dataclasses.replace(
    default.get_config(),
    vocab=3,
    length=4,
    solve_rates=(0.3, 0.05),
    hidden=(16,),
    reference_steps=30,
    seeds=2,
    dpo_divergences=("kl", "alpha:0.5"),
    dpo_betas=(0.3, 1.0),
    dpo_pairs=32,
    dpo_batch=16,
    dpo_steps=20,
    dpg_divergences=("js",),
    dpg_samples=8,
    dpg_steps=20,
    rl_regularizers=("none", "kl"),
    rl_coefs=(0.1,),
    rl_group=8,
    rl_init_samples=64,
    rl_steps=20,
    rl_eval_every=10,
    pass_ks=(1, 4),
  )
