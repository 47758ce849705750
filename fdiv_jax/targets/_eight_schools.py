r"""Eight Schools, centred (Inference Gym).

.. math::
  \mu \sim N(0, 10^2),\quad \log\tau \sim N(5, 1),\quad
  \theta_i \sim N(\mu, \tau^2),\quad y_i \sim N(\theta_i, \sigma_i^2),\quad i = 1..8,

with the treatment effects :math:`y` and their standard errors :math:`\sigma` of Rubin
(1981). The target is the posterior over :math:`x = (\mu, \log\tau, \theta_1..\theta_8)`
(d = 10) in the centred form, whose funnel between :math:`\log\tau` and :math:`\theta` is
what makes it hard. Every density is normalised, so :math:`\log Z` is the log marginal
likelihood; it is computed here exactly (:math:`\theta` and :math:`\mu` integrate out in
closed form, a 1-D quadrature over :math:`\log\tau` remains).

References:
  Rubin. Estimation in parallel randomized experiments. J. Educ. Stat. 1981.
  Inference Gym, ``EightSchools`` (TensorFlow Probability); ground-truth moments from its
  Stan runs.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from fdiv_jax.targets._target import Target, gym_moments

__all__ = ["eight_schools"]

EFFECTS = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
STDDEVS = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
_MU_SCALE, _LOG_TAU_LOC = 10.0, 5.0
_LOG_2PI = math.log(2 * math.pi)


def _normal_logpdf(x, loc, scale):
  return -0.5 * ((x - loc) / scale) ** 2 - jnp.log(scale) - 0.5 * _LOG_2PI


def eight_schools_log_z(num_points: int = 200_001) -> float:
  r""":math:`\log Z` by integrating :math:`\theta, \mu` in closed form and
  :math:`\log\tau` by the trapezoidal rule on ``[-15, 25]``."""
  t = np.linspace(-15.0, 25.0, num_points)
  v = np.exp(2 * t)[:, None] + STDDEVS**2  # Var(y_i | mu, tau).
  precision = 1 / _MU_SCALE**2 + np.sum(1 / v, -1)
  b = np.sum(EFFECTS / v, -1)
  log_marginal = (
    -0.5 * np.sum(np.log(2 * np.pi * v) + EFFECTS**2 / v, -1)
    - 0.5 * np.log(2 * np.pi * _MU_SCALE**2)
    + 0.5 * b**2 / precision
    + 0.5 * np.log(2 * np.pi / precision)
  )
  log_f = log_marginal - 0.5 * (t - _LOG_TAU_LOC) ** 2 - 0.5 * _LOG_2PI
  peak = log_f.max()
  return float(peak + np.log(np.trapezoid(np.exp(log_f - peak), t)))


def eight_schools() -> Target:
  r"""The centred Eight Schools posterior, d = 10, with its exact log Z.

  .. math::
    \mu \sim N(0, 10^2),\quad \log\tau \sim N(5, 1),\quad
    \theta_i \sim N(\mu, \tau^2),\quad y_i \sim N(\theta_i, \sigma_i^2),\quad i = 1..8,

  over :math:`x = (\mu, \log\tau, \theta_1..\theta_8)`; every density is normalised.

  Returns:
    A :class:`Target` named ``"eight_schools"`` with ``log_prob: x [..., 10] -> [...]``,
    the log marginal likelihood as ``log_z`` (:math:`\theta, \mu` integrated in closed
    form, :math:`\log\tau` by quadrature; ``log_z_se = 0``), no sampler, and Inference
    Gym's ground-truth :class:`PosteriorMoments` of :math:`x`.

  References:
    Rubin. Estimation in parallel randomized experiments. J. Educ. Stat. 1981.
    Inference Gym, ``EightSchools`` (TensorFlow Probability).
  """
  dim = 2 + EFFECTS.shape[0]

  def log_prob(x):
    x = jnp.asarray(x)
    if x.shape[-1:] != (dim,):
      raise ValueError(f"eight_schools: x must have shape [..., {dim}], got {x.shape}")
    mu, log_tau, theta = x[..., 0], x[..., 1], x[..., 2:]
    return (
      _normal_logpdf(mu, 0.0, _MU_SCALE)
      + _normal_logpdf(log_tau, _LOG_TAU_LOC, 1.0)
      + jnp.sum(_normal_logpdf(theta, mu[..., None], jnp.exp(log_tau)[..., None]), -1)
      + jnp.sum(
        _normal_logpdf(jnp.asarray(EFFECTS, x.dtype), theta, jnp.asarray(STDDEVS, x.dtype)), -1
      )
    )

  moments = gym_moments("eight_schools", lambda x: x)
  return Target(
    "eight_schools", dim, log_prob, eight_schools_log_z(), None, log_z_se=0.0, moments=moments
  )
