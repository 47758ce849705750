"""Many-Well-32 by FAB (alpha = 2, prioritised replay buffer), 3 seeds, vmapped.

Flow: RealNVP with 4 couplings of width 128 (parity masks) and a last elementwise spline
layer of 16 bins on every coordinate; fab-jax's AIS for this target (HMC, 8 levels, 5
leapfrog steps, step sizes adapted per level towards acceptance 0.65, here from 0.1); 400
AIS batches of 256 into a buffer of 100 batches, 16 flow updates per AIS batch.
"""

import dataclasses

from experiments.boltzmann.configs import many_well


def get_config():
  return dataclasses.replace(
    many_well.get_config(),
    methods=("fab",),
    layers=4,
    marginal_bins=16,
    ais_kernel="hmc",
    ais_levels=8,
    ais_step_size=0.1,
    fab_iterations=400,
    fab_log_every=100,
    fab_buffer_batches=100,
    fab_updates_per_ais=16,
  )
