r"""Brownian motion with unknown scales and missing middle observations (Inference Gym).

A random walk :math:`x_0 \sim N(0, s_i^2)`, :math:`x_t \sim N(x_{t-1}, s_i^2)`,
:math:`t = 1..29`, observed as :math:`y_t \sim N(x_t, s_o^2)` except at
:math:`t = 10..19`, with :math:`s_i, s_o \sim \mathrm{LogNormal}(0, 2)`. The target is
the posterior in Inference Gym's unconstrained space,
:math:`z = (z_i, z_o, x_0, \dots, x_{29})` (d = 32), :math:`s = \mathrm{softplus}(z)`,
with the Jacobian :math:`\log\sigma(z_i) + \log\sigma(z_o)`; every density is
normalised, so :math:`\log Z` is the log marginal likelihood of the 20 observations.

References:
  Inference Gym, ``BrownianMotionUnknownScalesMissingMiddleObservations`` (TensorFlow
  Probability), whose observations are copied here.
  Blessing et al. Beyond ELBOs. ICML 2024.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from fdiv_jax.targets._target import Target, gym_moments, reference_log_z

__all__ = ["BROWNIAN_OBSERVATIONS", "brownian"]

BROWNIAN_OBSERVATIONS = np.array(
  [0.21592641, 0.118771404, -0.07945447, 0.037677474, -0.27885845, -0.1484156,
   -0.3250906, -0.22957903, -0.44110894, -0.09830782] + [np.nan] * 10 +
  [-0.8786016, -0.83736074, -0.7384849, -0.8939254, -0.7774566, -0.70238715,
   -0.87771565, -0.51853573, -0.6948214, -0.6202789],
  dtype=np.float32,
).astype(np.float64)  # fmt: skip
_PRIOR_LOG_SCALE = 2.0


def _normal_logpdf(x, loc, scale):
  return -0.5 * ((x - loc) / scale) ** 2 - jnp.log(scale) - 0.5 * math.log(2 * math.pi)


def brownian() -> Target:
  r"""The Brownian-motion posterior with missing middle observations, d = 32.

  .. math::
    s_i, s_o \sim \mathrm{LogNormal}(0, 2),\quad x_0 \sim N(0, s_i^2),\quad
    x_t \sim N(x_{t-1}, s_i^2),\quad y_t \sim N(x_t, s_o^2),\ t \notin \{10..19\},

  for :math:`t = 0..29`, over :math:`z = (z_i, z_o, x_0, \dots, x_{29})` with
  :math:`s = \mathrm{softplus}(z)` and its Jacobian included; every density is normalised.

  Returns:
    A :class:`Target` named ``"brownian"`` with ``log_prob: z [..., 32] -> [...]``, the
    stored reference ``log_z`` (the log marginal likelihood) and its standard error (None
    if not stored), no sampler, and Inference Gym's ground-truth :class:`PosteriorMoments`
    of :math:`(s_i, s_o, x_0, \dots, x_{29})`.

  References:
    Inference Gym, ``BrownianMotionUnknownScalesMissingMiddleObservations`` (TensorFlow
    Probability).
    Blessing et al. Beyond ELBOs. ICML 2024.
  """
  observed = ~np.isnan(BROWNIAN_OBSERVATIONS)
  y = np.where(observed, BROWNIAN_OBSERVATIONS, 0.0)
  steps = BROWNIAN_OBSERVATIONS.shape[0]
  dim = steps + 2

  def log_prob(z):
    z = jnp.asarray(z)
    if z.shape[-1:] != (dim,):
      raise ValueError(f"brownian: z must have shape [..., {dim}], got {z.shape}")
    u = z[..., :2]
    s = jax.nn.softplus(u)
    log_s = jnp.log(s)
    lp_scales = jnp.sum(
      -log_s - 0.5 * (log_s / _PRIOR_LOG_SCALE) ** 2
      - math.log(_PRIOR_LOG_SCALE) - 0.5 * math.log(2 * math.pi)
      + jax.nn.log_sigmoid(u),
      -1,
    )  # fmt: skip
    s_i, s_o = s[..., :1], s[..., 1:2]
    x = z[..., 2:]
    previous = jnp.concatenate([jnp.zeros_like(x[..., :1]), x[..., :-1]], -1)
    lp_walk = jnp.sum(_normal_logpdf(x, previous, s_i), -1)
    lp_obs = jnp.sum(jnp.where(observed, _normal_logpdf(jnp.asarray(y, z.dtype), x, s_o), 0.0), -1)
    return lp_scales + lp_walk + lp_obs

  log_z, log_z_se = reference_log_z("brownian")
  moments = gym_moments(
    "brownian", lambda z: jnp.concatenate([jax.nn.softplus(z[..., :2]), z[..., 2:]], -1)
  )
  return Target("brownian", dim, log_prob, log_z, None, log_z_se=log_z_se, moments=moments)
