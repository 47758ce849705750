r"""Benchmark targets: unnormalised log densities, log Z, exact or reference samples.

Each target is a :class:`Target` with ``log_prob(x [..., d]) -> [...]`` (possibly
unnormalised), ``log_z`` (exact, or a stored reference estimate with its standard error),
and an exact sampler or reference samples for evaluation.

* Synthetic, exact log Z and samplers: :func:`gmm40`, :func:`many_well`, :func:`funnel`.
* The sampling benchmark's real-data posteriors (Blessing et al., ICML 2024), data
  shipped in ``fdiv_jax/data/sampling_benchmark``: logistic regressions
  :func:`german_credit`, :func:`breast_cancer`, :func:`ionosphere`, :func:`sonar`; the
  random-effects :func:`seeds`; Inference Gym's :func:`brownian`; the Cox process
  :func:`lgcp` on the Finnish pines.
* Inference Gym's posteriors with ground-truth moments (:class:`PosteriorMoments`) from
  long Stan runs, data shipped likewise: :func:`eight_schools` (exact log Z),
  :func:`stochastic_volatility`, :func:`synthetic_lgcp`, :func:`item_response`, and
  :func:`brownian`.
* A molecule: :func:`alanine_dipeptide` in vacuum (AMBER ff96, checked against OpenMM),
  in internal coordinates (:mod:`fdiv_jax.internal_coordinates`) or Cartesian.
"""

from fdiv_jax.targets._alanine import (
  ForceField,
  alanine_dipeptide,
  alanine_dipeptide_chirality,
  alanine_dipeptide_dihedrals,
  alanine_dipeptide_energy,
  alanine_dipeptide_force_field,
  alanine_dipeptide_standardization,
  alanine_dipeptide_zmatrix,
)
from fdiv_jax.targets._brownian import brownian
from fdiv_jax.targets._eight_schools import eight_schools
from fdiv_jax.targets._gp_cox import synthetic_lgcp
from fdiv_jax.targets._item_response import item_response
from fdiv_jax.targets._lgcp import lgcp, pines_counts
from fdiv_jax.targets._logistic import (
  breast_cancer,
  german_credit,
  ionosphere,
  logistic_regression,
  sonar,
)
from fdiv_jax.targets._seeds import seeds
from fdiv_jax.targets._synthetic import funnel, gmm40, gmm40_means, many_well
from fdiv_jax.targets._target import PosteriorMoments, Target
from fdiv_jax.targets._volatility import stochastic_volatility

__all__ = [
  "ForceField",
  "PosteriorMoments",
  "alanine_dipeptide",
  "alanine_dipeptide_chirality",
  "alanine_dipeptide_dihedrals",
  "alanine_dipeptide_energy",
  "alanine_dipeptide_force_field",
  "alanine_dipeptide_standardization",
  "alanine_dipeptide_zmatrix",
  "Target",
  "breast_cancer",
  "brownian",
  "eight_schools",
  "funnel",
  "german_credit",
  "gmm40",
  "gmm40_means",
  "item_response",
  "ionosphere",
  "lgcp",
  "logistic_regression",
  "many_well",
  "pines_counts",
  "seeds",
  "sonar",
  "stochastic_volatility",
  "synthetic_lgcp",
]
