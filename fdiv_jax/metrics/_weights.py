"""Importance-weight metrics of a sampler against an unnormalised target: log Z, ESS, ELBO, EUBO."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from fdiv_jax import monte_carlo


def log_z_estimate(log_p: ArrayLike, log_q: ArrayLike, *, axis: int = -1) -> jax.Array:
  r"""Importance-sampling estimate of the log normaliser :math:`\log Z` from flow samples.

  .. math::
    \log\hat Z = \log\frac1N\sum_{i=1}^N \frac{\tilde p(x_i)}{q(x_i)}, \qquad x_i \sim q,

  a lower bound on :math:`\log Z` in expectation (:math:`\hat Z` is unbiased).

  Args:
    log_p: Unnormalised target log density :math:`\log\tilde p(x_i)` at flow samples
      :math:`x_i \sim q`, ``[..., N]``.
    log_q: Flow log density :math:`\log q(x_i)` at the same samples, ``[..., N]``.
    axis: The sample axis (default the last; ``0`` for samples from TFP / distrax).

  Returns:
    ``[...]``, the batch axes (the sample axis reduced).

  References:
    Midgley et al. Flow Annealed Importance Sampling Bootstrap. ICLR 2023.
  """
  return monte_carlo.importance_weights(log_p, log_q, axis=axis).log_normalizer


def reverse_ess(log_p: ArrayLike, log_q: ArrayLike, *, axis: int = -1) -> jax.Array:
  r"""Reverse effective sample size fraction of flow samples, in ``(0, 1]``.

  .. math::
    \frac{\mathrm{ESS}}{N} = \frac{(\sum_i w_i)^2}{N\sum_i w_i^2}, \qquad
    w_i = \frac{\tilde p(x_i)}{q(x_i)}, \quad x_i \sim q.

  Args:
    log_p: Unnormalised target log density :math:`\log\tilde p(x_i)` at flow samples
      :math:`x_i \sim q`, ``[..., N]``.
    log_q: Flow log density :math:`\log q(x_i)` at the same samples, ``[..., N]``.
    axis: The sample axis (default the last; ``0`` for samples from TFP / distrax).

  Returns:
    ``[...]``, the batch axes (the sample axis reduced).

  References:
    Kong. A note on importance sampling using standardized weights. 1992.
    Midgley et al. Flow Annealed Importance Sampling Bootstrap. ICLR 2023.
  """
  return monte_carlo.importance_weights(log_p, log_q, axis=axis).ess_fraction


def forward_ess(
  log_p_at_target: ArrayLike, log_q_at_target: ArrayLike, *, axis: int = -1
) -> jax.Array:
  r"""Forward effective sample size fraction from exact target samples, in ``(0, 1]``.

  .. math::
    \frac{\mathrm{ESS}}{N} = \frac{1}{\overline{w}\;\overline{w^{-1}}}
    = \frac{N^2}{\sum_j w(y_j) \sum_j w(y_j)^{-1}}, \qquad
    w = \frac{\tilde p}{q}, \quad y_j \sim p,

  invariant to the scale of :math:`\tilde p`; unlike :func:`reverse_ess` it sees the
  modes the flow misses.

  Args:
    log_p_at_target: Unnormalised target log density :math:`\log\tilde p(y_j)` at exact
      target samples :math:`y_j \sim p`, ``[..., N]``.
    log_q_at_target: Flow log density :math:`\log q(y_j)` at the same samples, ``[..., N]``.
    axis: The sample axis (default the last; ``0`` for samples from TFP / distrax).

  Returns:
    ``[...]``, the batch axes (the sample axis reduced).

  References:
    Midgley et al. Flow Annealed Importance Sampling Bootstrap. ICLR 2023, App. B.
  """
  lp, lq = _target_pair(log_p_at_target, log_q_at_target, axis)
  lw = lp - lq
  n = math.log(lw.shape[-1])
  return jnp.exp(-(jax.nn.logsumexp(lw, axis=-1) - n) - (jax.nn.logsumexp(-lw, axis=-1) - n))


def elbo(log_p: ArrayLike, log_q: ArrayLike, *, axis: int = -1) -> jax.Array:
  r"""Evidence lower bound :math:`\mathbb E_q[\log\tilde p - \log q]` from flow samples.

  .. math::
    \mathrm{ELBO} = \frac1N\sum_{i=1}^N \big(\log\tilde p(x_i) - \log q(x_i)\big),
    \qquad x_i \sim q,

  an unbiased estimate of :math:`\mathbb E_q[\log\tilde p - \log q] \le \log Z`.

  Args:
    log_p: Unnormalised target log density :math:`\log\tilde p(x_i)` at flow samples
      :math:`x_i \sim q`, ``[..., N]``.
    log_q: Flow log density :math:`\log q(x_i)` at the same samples, ``[..., N]``.
    axis: The sample axis (default the last; ``0`` for samples from TFP / distrax).

  Returns:
    ``[...]``, the batch axes (the sample axis reduced).
  """
  return jnp.mean(monte_carlo.log_ratio(log_p, log_q, axis=axis), axis=axis)


def eubo(log_p_at_target: ArrayLike, log_q_at_target: ArrayLike, *, axis: int = -1) -> jax.Array:
  r"""Evidence upper bound :math:`\mathbb E_p[\log\tilde p - \log q]` from exact target samples.

  .. math::
    \mathrm{EUBO} = \frac1N\sum_{j=1}^N \big(\log\tilde p(y_j) - \log q(y_j)\big),
    \qquad y_j \sim p,

  an unbiased estimate of :math:`\mathbb E_p[\log\tilde p - \log q] \ge \log Z`;
  :math:`\mathrm{EUBO} - \mathrm{ELBO}` estimates
  :math:`\mathrm{KL}(q\|p) + \mathrm{KL}(p\|q)`, large for a flow that misses modes.

  Args:
    log_p_at_target: Unnormalised target log density :math:`\log\tilde p(y_j)` at exact
      target samples :math:`y_j \sim p`, ``[..., N]``.
    log_q_at_target: Flow log density :math:`\log q(y_j)` at the same samples, ``[..., N]``.
    axis: The sample axis (default the last; ``0`` for samples from TFP / distrax).

  Returns:
    ``[...]``, the batch axes (the sample axis reduced).
  """
  lp, lq = _target_pair(log_p_at_target, log_q_at_target, axis)
  return jnp.mean(lp - lq, axis=-1)


def _target_pair(lp: ArrayLike, lq: ArrayLike, axis: int) -> tuple[jax.Array, jax.Array]:
  return monte_carlo._pair(lp, lq, axis, names=("log_p_at_target", "log_q_at_target"))
