"""GMM-40 by FAB (alpha = 2, prioritised replay buffer) and FAB without the buffer, 3 seeds.

The default config's spline flow and N(0, 15^2) start; AIS from the flow to
p^2 / q over ``ais_levels`` intermediate levels with blackjax random-walk
Metropolis (the default ``ais_kernel``), the step
sizes adapted towards acceptance 0.65 (fab-jax's rule), four flow updates per
AIS batch drawn from a buffer of ``fab_buffer_batches`` batches.
"""

import dataclasses

from experiments.boltzmann.configs import default


def get_config() -> default.Config:
  return dataclasses.replace(default.get_config(), methods=("fab", "fab:nobuffer"))
