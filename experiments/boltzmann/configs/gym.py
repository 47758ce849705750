"""Inference Gym's posteriors with ground-truth moments, FAB and reverse KL against SMC.

Eight Schools (centred, d = 10, exact log Z) and stochastic volatility (d = 103, whitened
AR(1) path), each in
``<workdir>/<target>``, with ``suite.md`` over all of them: the standardised errors of
the posterior means and standard deviations against Inference Gym's Stan ground truth
(root-mean-square over coordinates; flows importance-weighted, SMC by its particle
weights), beside log Z and the target evaluations. The flows, FAB and SMC settings are
the sampling suite's (``configs/suite.py``; SMC keeps an ESS of 0.9 per tempering step, at
particle counts whose largest reaches about FAB's target evaluations).
"""

import dataclasses

from experiments.boltzmann.configs import suite

TARGETS = ("eight_schools", "stochastic_volatility_whitened")


def get_config():
  return dataclasses.replace(
    suite.get_config(),
    suite=TARGETS,
    target=TARGETS[0],
    methods=("fab", "reverse_kl", "smc"),
  )
