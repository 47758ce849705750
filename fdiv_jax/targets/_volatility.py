r"""Stochastic volatility of the S&P 500, centred (Inference Gym, small set).

.. math::
  \tfrac{\phi + 1}{2} \sim \mathrm{Beta}(20, 1.5),\quad
  \mu \sim \mathrm{Cauchy}(0, 5),\quad \sigma \sim \mathrm{HalfCauchy}(0, 2),

  h_0 \sim N\!\big(\mu, \sigma^2 / (1 - \phi^2)\big),\quad
  h_t \sim N\big(\mu + \phi (h_{t-1} - \mu), \sigma^2\big),\quad
  r_t \sim N\big(0, e^{h_t}\big),\quad t = 0..99,

on the last 100 mean-adjusted daily returns :math:`r` of the S&P 500. The target is the
posterior in Inference Gym's unconstrained space, :math:`x = (u, \mu, v, h_0..h_{99})`
(d = 103), :math:`\phi = 2\,\mathrm{sigmoid}(u) - 1`, :math:`\sigma = \mathrm{softplus}(v)`,
with the Jacobian :math:`\log 2 + \log\mathrm{sigmoid}(u) + \log\mathrm{sigmoid}(-u) +
\log\mathrm{sigmoid}(v)`; every density is normalised.

References:
  Inference Gym, ``StochasticVolatilitySP500Small`` (TensorFlow Probability), data and
  ground-truth moments from its Stan runs; Stan User's Guide, stochastic volatility.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from fdiv_jax.targets._target import Target, gym_moments, load_csv

__all__ = ["stochastic_volatility"]

_LOG_2PI = math.log(2 * math.pi)
_BETA_A, _BETA_B = 20.0, 1.5
_MEAN_SCALE, _SHOCK_SCALE = 5.0, 2.0


def _normal_log_scale(x, loc, log_scale):
  diff = x - loc
  # diff = 0 with a vanishing scale: the limit 0, not 0 * inf.
  z = jnp.where(diff == 0, 0.0, diff * jnp.exp(-jnp.where(diff == 0, 0.0, log_scale)))
  return -0.5 * z**2 - log_scale - 0.5 * _LOG_2PI


def _scales(u, v):
  """phi, log sigma and the log stationary scale from the unconstrained u, v."""
  log_s, log_1ms = jax.nn.log_sigmoid(u), jax.nn.log_sigmoid(-u)
  phi = 2 * jax.nn.sigmoid(u) - 1
  # log softplus(v), = v below -20 where softplus(v) = e^v underflows in float32.
  low = v < -20.0
  log_sigma = jnp.where(low, v, jnp.log(jax.nn.softplus(jnp.where(low, 0.0, v))))
  # 1 - phi^2 = 4 s (1 - s): the stationary scale's log, without 0 * inf at extremes.
  log_stationary = log_sigma - math.log(2.0) - 0.5 * (log_s + log_1ms)
  return phi, log_sigma, log_stationary, log_s, log_1ms


def _path(x):
  """The log-volatilities h ``[..., T]`` from the whitened ``x = (u, mu, v, eps)``:
  ``h_0 - mu = s_0 eps_0``, ``h_t - mu = phi (h_{t-1} - mu) + sigma eps_t``."""
  phi, log_sigma, log_stationary, _, _ = _scales(x[..., 0], x[..., 2])
  eps = x[..., 3:]
  first = jnp.exp(log_stationary) * eps[..., 0]
  shocks = jnp.exp(log_sigma)[..., None] * eps[..., 1:]

  def step(d, shock):
    d = phi * d + shock
    return d, d

  _, rest = jax.lax.scan(step, first, jnp.moveaxis(shocks, -1, 0))
  d = jnp.concatenate([first[..., None], jnp.moveaxis(rest, 0, -1)], -1)
  return x[..., 1:2] + d


def _constrain(x, whitened: bool):
  h = _path(x) if whitened else x[..., 3:]
  return jnp.concatenate(
    [2 * jax.nn.sigmoid(x[..., :1]) - 1, x[..., 1:2], jax.nn.softplus(x[..., 2:3]), h], -1
  )


_PARAMETERIZATIONS = ("latent", "whitened")


def stochastic_volatility(parameterization: str = "latent") -> Target:
  r"""The centred stochastic-volatility posterior of the S&P 500 returns, d = 103.

  .. math::
    \tfrac{\phi + 1}{2} \sim \mathrm{Beta}(20, 1.5),\quad
    \mu \sim \mathrm{Cauchy}(0, 5),\quad \sigma \sim \mathrm{HalfCauchy}(0, 2),\quad
    h_0 \sim N\!\big(\mu, \sigma^2 / (1 - \phi^2)\big),\quad
    h_t \sim N\big(\mu + \phi (h_{t-1} - \mu), \sigma^2\big),\quad
    r_t \sim N\big(0, e^{h_t}\big),

  for :math:`t = 0..99`, with :math:`\phi = 2\,\mathrm{sigmoid}(u) - 1`,
  :math:`\sigma = \mathrm{softplus}(v)` and their Jacobians; every density is normalised.

  Args:
    parameterization: ``"latent"`` (Inference Gym's, ``x = (u, mu, v, h)``) or
      ``"whitened"`` (``x = (u, mu, v, eps)`` with the AR(1) path driven by standard
      normal shocks, :math:`h_0 = \mu + s_0\varepsilon_0`,
      :math:`h_t = \mu + \phi(h_{t-1} - \mu) + \sigma\varepsilon_t`,
      :math:`s_0 = \sigma/\sqrt{1-\phi^2}`; the Jacobian cancels the path prior's
      normalisers, so log Z is the same).

  Returns:
    A :class:`Target` named ``"stochastic_volatility"`` with
    ``log_prob: x [..., 103] -> [...]``, no ``log_z``, no sampler, and Inference Gym's
    ground-truth :class:`PosteriorMoments` of :math:`(\phi, \mu, \sigma, h_0..h_{99})`.

  References:
    Inference Gym, ``StochasticVolatilitySP500Small`` (TensorFlow Probability); Stan
    User's Guide, stochastic volatility.
  """
  if parameterization not in _PARAMETERIZATIONS:
    raise ValueError(
      f"stochastic_volatility: parameterization must be one of {_PARAMETERIZATIONS}, "
      f"got {parameterization!r}"
    )
  whitened = parameterization == "whitened"
  returns = load_csv("sp500_small_returns.csv")[:, 0]
  dim = 3 + returns.shape[0]
  log_beta_norm = math.lgamma(_BETA_A) + math.lgamma(_BETA_B) - math.lgamma(_BETA_A + _BETA_B)

  def log_prob(x):
    x = jnp.asarray(x)
    if x.shape[-1:] != (dim,):
      raise ValueError(f"stochastic_volatility: x must have shape [..., {dim}], got {x.shape}")
    u, mu, v = x[..., 0], x[..., 1], x[..., 2]
    phi, log_sigma, log_stationary, log_s, log_1ms = _scales(u, v)
    sigma = jnp.exp(log_sigma)
    # (phi + 1) / 2 = sigmoid(u) ~ Beta; the Jacobian d phi / du = 2 s (1 - s) and the
    # Beta's own 1/2 cancel, leaving s^a (1 - s)^b / B(a, b).
    lp_phi = _BETA_A * log_s + _BETA_B * log_1ms - log_beta_norm
    lp_mu = -jnp.log1p((mu / _MEAN_SCALE) ** 2) - math.log(math.pi * _MEAN_SCALE)
    lp_sigma = (
      -jnp.log1p((sigma / _SHOCK_SCALE) ** 2)
      - math.log(math.pi * _SHOCK_SCALE / 2)
      + jax.nn.log_sigmoid(v)
    )
    if whitened:
      h = _path(x)
      eps = x[..., 3:]
      lp_path = jnp.sum(-0.5 * eps**2 - 0.5 * _LOG_2PI, -1)
    else:
      h = x[..., 3:]
      lp_h0 = _normal_log_scale(h[..., 0], mu, log_stationary)
      loc = mu[..., None] + phi[..., None] * (h[..., :-1] - mu[..., None])
      lp_path = lp_h0 + jnp.sum(_normal_log_scale(h[..., 1:], loc, log_sigma[..., None]), -1)
    r = jnp.asarray(returns, x.dtype)
    lp_r = jnp.sum(-0.5 * r**2 * jnp.exp(-h) - 0.5 * h - 0.5 * _LOG_2PI, -1)
    return lp_phi + lp_mu + lp_sigma + lp_path + lp_r

  moments = gym_moments("stochastic_volatility", lambda x: _constrain(x, whitened))
  return Target("stochastic_volatility", dim, log_prob, None, None, moments=moments)
