"""The sampling benchmark's real-data posteriors with d <= 61, every method, 3 seeds.

German Credit (25), Breast Cancer (31), Ionosphere (35), Sonar (61), Seeds (26) and
Brownian motion (32), each in ``<workdir>/<target>`` with its own table, and
``suite.md`` over all of them: FAB (alpha = 2, prioritised buffer, HMC AIS), TA-BG,
reverse KL and the tempered-SMC baseline (an ESS of 0.9 kept per tempering step) at
three particle counts around FAB's target-evaluation budget. Flow: RealNVP over
``N(0, I)``, 4 couplings of width 64 with a linear path in every conditioner (the
posteriors are close to correlated Gaussians), a last elementwise spline layer. FAB's AIS
follows the benchmark's FAB configuration in kind (HMC, intermediate levels linear in
beta, step sizes adapted towards acceptance 0.65), sized for two CPU cores: 4 levels of
one 5-step HMC move, 900 AIS batches of 256.
"""

import dataclasses

from experiments.boltzmann.configs import default

TARGETS = ("german_credit", "breast_cancer", "ionosphere", "sonar", "seeds", "brownian")


def get_config() -> default.Config:
  return dataclasses.replace(
    default.get_config(),
    suite=TARGETS,
    target=TARGETS[0],
    methods=("fab", "tabg", "reverse_kl", "smc"),
    flow="real_nvp",
    layers=4,
    hidden=(64,),
    linear_skip=True,
    base_scale=1.0,
    scale_max=3.0,
    marginal_bins=8,
    marginal_bound=8.0,
    batch_size=256,
    steps=2000,
    log_every=500,
    t_high=10.0,
    high_steps=500,
    levels=6,
    buffer_size=10_000,
    ml_steps=200,
    ais_kernel="hmc",
    ais_levels=4,
    ais_step_size=0.05,
    ais_integration_steps=5,
    fab_iterations=900,
    fab_log_every=300,
    fab_batch_size=256,
    fab_buffer_batches=100,
    fab_fill_batches=20,
    fab_updates_per_ais=8,
    fab_learning_rate=1e-3,
    smc_particles=(512, 2048, 8192),
    smc_target_ess=0.9,
    eval_samples=10_000,
    sinkhorn_epsilon=1e-2,
  )
