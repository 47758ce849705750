"""The Finnish-pines Cox process (d = 1 600, whitened), FAB against SMC, one seed.

The sampling benchmark's hardest target: the latent field ``x = L e + mu`` sampled through
the whitened ``e`` (``fd.targets.lgcp(parameterization="whitened")``, the same log Z as the
latent form; fab-jax's reference 501.806). Flow: RealNVP over ``N(0, I)``, 4 couplings of
width 128 and a last elementwise spline. FAB (alpha = 2, prioritised buffer) runs HMC AIS
through 4 levels of one 5-step move, sized to one seed in about an hour on 2 CPU cores; SMC
tempers from ``N(0, I)`` with an ESS of 0.9 per step at two particle counts around FAB's
target evaluations.
"""

import dataclasses

from experiments.boltzmann.configs import suite


def get_config():
  return dataclasses.replace(
    suite.get_config(),
    suite=(),
    target="lgcp40_whitened",
    methods=("fab", "smc"),
    seeds=1,
    layers=4,
    hidden=(128,),
    linear_skip=False,
    marginal_bins=8,
    marginal_bound=8.0,
    fab_iterations=1200,
    fab_log_every=300,
    fab_fill_batches=20,
    fab_buffer_batches=100,
    smc_particles=(512, 2048),
    eval_samples=2000,
    sinkhorn_epsilon=0.0,
  )
