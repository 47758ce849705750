"""Alanine dipeptide in vacuum at 300 K (d = 60 internal coordinates), FAB and reverse KL.

The target is ``fd.targets.alanine_dipeptide(coordinates="standardized")``: AMBER ff96 in
vacuum, checked against OpenMM, over the Z-matrix's bonds and angles standardised by
their harmonic scales and its 19 torsions on the circle. Flow: rational-quadratic spline
couplings over ``N(0, I)`` x uniform torsions, circular splines and periodic conditioners
for the torsions (``fd.flows.spline_flow(circular=...)``). FAB (alpha = 2, prioritised
buffer) runs HMC AIS through 4 levels of one 5-step move.
"""

import dataclasses

from experiments.boltzmann.configs import suite


def get_config():
  return dataclasses.replace(
    suite.get_config(),
    suite=(),
    target="alanine_dipeptide",
    methods=("fab", "reverse_kl"),
    flow="spline",
    layers=8,
    hidden=(128, 128),
    bins=8,
    bound=5.0,
    base_scale=1.0,
    linear_skip=False,
    marginal_bins=0,
    steps=2000,
    fab_iterations=1200,
    fab_log_every=300,
    eval_samples=10_000,
    sinkhorn_epsilon=0.0,
  )
