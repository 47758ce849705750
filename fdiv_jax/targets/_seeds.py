r"""The seeds random-effects logistic regression (Crowder, 1978) of the sampling benchmark.

Plate :math:`j = 1..21` has :math:`R_j` of :math:`N_j` seeds germinated, seed type
:math:`X_{1j}` and root extract :math:`X_{2j}`:

.. math::
  \tau \sim \mathrm{Gamma}(0.01, \text{rate } 0.01),\quad
  a_0, a_1, a_2, a_{12} \sim N(0, 10^2),\quad b_j \mid \tau \sim N(0, 1/\tau),

.. math::
  R_j \sim \mathrm{Binomial}\big(N_j, \sigma(a_0 + a_1 X_{1j} + a_2 X_{2j}
    + a_{12} X_{1j} X_{2j} + b_j)\big).

The target is the posterior over
:math:`x = (a_0, a_1, a_2, a_{12}, \log\tau, b_1, \dots, b_{21})` (d = 26), the
Jacobian :math:`\tau` of :math:`\log\tau` included; every density is normalised
(binomial coefficients included), so :math:`\log Z` is the log marginal likelihood.

References:
  Crowder. Beta-binomial ANOVA for proportions. Applied Statistics 1978.
  Blessing et al. Beyond ELBOs. ICML 2024 (the benchmark's numpyro model; its
  parameter vector orders the same coordinates as a0, a1, a12, a2, b, log tau).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from fdiv_jax.targets._target import Target, load_csv, reference_log_z

__all__ = ["seeds"]

_PRIOR_SCALE = 10.0
_TAU_SHAPE = _TAU_RATE = 0.01


def seeds() -> Target:
  r"""The seeds random-effects logistic-regression posterior, d = 26.

  .. math::
    \tau \sim \mathrm{Gamma}(0.01, \text{rate } 0.01),\quad
    a_0, a_1, a_2, a_{12} \sim N(0, 10^2),\quad b_j \mid \tau \sim N(0, 1/\tau),\quad
    R_j \sim \mathrm{Binomial}\big(N_j, \sigma(a_0 + a_1 X_{1j} + a_2 X_{2j}
      + a_{12} X_{1j} X_{2j} + b_j)\big),

  for the plates :math:`j = 1..21`, over :math:`x = (a_0, a_1, a_2, a_{12}, \log\tau,
  b_1, \dots, b_{21})` with the Jacobian of :math:`\log\tau`; every density is normalised.

  Returns:
    A :class:`Target` named ``"seeds"`` with ``log_prob: x [..., 26] -> [...]``, the stored
    reference ``log_z`` (the log marginal likelihood) and its standard error (None if not
    stored), and no sampler.

  References:
    Crowder. Beta-binomial ANOVA for proportions. Applied Statistics 1978.
    Blessing et al. Beyond ELBOs. ICML 2024.
  """
  table = load_csv("seeds.csv")
  r, n, x1, x2 = (table[:, i] for i in range(4))
  design = np.stack([np.ones_like(x1), x1, x2, x1 * x2], axis=1)  # [21, 4]
  log_binom = sum(
    math.lgamma(a + 1) - math.lgamma(b + 1) - math.lgamma(a - b + 1) for a, b in zip(n, r)
  )
  plates = table.shape[0]
  dim = 5 + plates
  gamma_const = _TAU_SHAPE * math.log(_TAU_RATE) - math.lgamma(_TAU_SHAPE)
  half_log_2pi = 0.5 * math.log(2 * math.pi)

  def log_prob(x):
    x = jnp.asarray(x)
    if x.shape[-1:] != (dim,):
      raise ValueError(f"seeds: x must have shape [..., {dim}], got {x.shape}")
    a, log_tau, b = x[..., :4], x[..., 4], x[..., 5:]
    lp_a = jnp.sum(-0.5 * (a / _PRIOR_SCALE) ** 2, -1) - 4 * (math.log(_PRIOR_SCALE) + half_log_2pi)
    # Gamma(tau) density times the Jacobian d tau / d log tau = tau.
    lp_tau = gamma_const + _TAU_SHAPE * log_tau - _TAU_RATE * jnp.exp(log_tau)
    lp_b = jnp.sum(-0.5 * jnp.exp(log_tau)[..., None] * b**2, -1) + plates * (
      0.5 * log_tau - half_log_2pi
    )
    eta = a @ jnp.asarray(design, x.dtype).T + b  # [..., 21]
    r_, n_ = jnp.asarray(r, x.dtype), jnp.asarray(n, x.dtype)
    lik = jnp.sum(r_ * jax.nn.log_sigmoid(eta) + (n_ - r_) * jax.nn.log_sigmoid(-eta), -1)
    return lp_a + lp_tau + lp_b + lik + log_binom

  log_z, log_z_se = reference_log_z("seeds")
  return Target("seeds", dim, log_prob, log_z, None, log_z_se=log_z_se)
