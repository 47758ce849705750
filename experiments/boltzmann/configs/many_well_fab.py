"""Many-Well-32 by FAB (alpha = 2, prioritised replay buffer), 3 seeds, vmapped.

The ``many_well`` config's flow (RealNVP, 12 couplings of width 128, a last
elementwise spline layer); fab-jax's AIS for this target (HMC, 8 levels, 5
leapfrog steps, step sizes adapted per level towards acceptance 0.65, here from
0.1); 400 AIS batches of 256 into a buffer of 100 batches.

Sixteen flow updates per AIS batch, not fab-jax's four: on this CPU an AIS
batch (8 levels x 5 leapfrog steps through the flow and the target) costs
about ten times the four updates, and one seed, one change, measured after 400
AIS batches: 4 updates -> reverse ESS 0.12, forward ESS 0.002; 16 -> 0.27,
0.074 (log Z error -0.035 -> 0.0004). Fewer AIS batches with more updates each
(200 x 32) was worse at equal update count (reverse ESS 0.005 vs 0.015 after
1 600 updates).
"""

import dataclasses

from experiments.boltzmann.configs import many_well


def get_config():
  return dataclasses.replace(
    many_well.get_config(),
    methods=("fab",),
    ais_kernel="hmc",
    ais_levels=8,
    ais_step_size=0.1,
    fab_iterations=400,
    fab_log_every=100,
    fab_buffer_batches=100,
    fab_updates_per_ais=16,
  )
