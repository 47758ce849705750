"""One TA-BG level: importance-resample to the next temperature, fit by maximum likelihood."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from fdiv_jax.annealing._resampling import resample

LogDensity = Callable[[jax.Array], jax.Array]  # x [N, d] -> [N]


def tabg_level(
  key: jax.Array,
  params,
  opt_state,
  *,
  sample_and_log_prob: Callable,
  log_prob: Callable,
  log_target: LogDensity,
  optimizer: optax.GradientTransformation,
  buffer_size: int,
  batch_size: int,
  num_steps: int,
  clip_quantile: float | None = None,
):
  r"""One TA-BG level: reweight flow samples to the next level, resample, refit.

  Draws ``buffer_size`` samples :math:`x \sim q_\theta` (held constant),
  weights them by :math:`\log w = \log\pi_{\rm next}(x) - \log q_\theta(x)`,
  clips the weights above ``clip_quantile``, resamples a buffer by
  :func:`resample` (multinomial) and takes ``num_steps`` optimiser steps of
  maximum likelihood :math:`-\frac1B\sum\log q_\theta(x_b)` on minibatches drawn
  uniformly from it (Schopmans & Friederich, 2025, Alg. 1).

  Args:
    key: PRNG key.
    params: Flow parameters.
    opt_state: ``optimizer`` state.
    sample_and_log_prob: ``(params, key, n) -> (x [n, d], log_q [n])``.
    log_prob: ``(params, x [B, d]) -> [B]``.
    log_target: ``x [n, d] -> [n]``, the next level's unnormalised log density.
    optimizer: An optax transformation.
    buffer_size: Samples drawn and resampled (static).
    batch_size: Maximum-likelihood minibatch (static).
    num_steps: Optimiser steps (static).
    clip_quantile: Log-weight clipping quantile (TA-BG: 0.999-ish), or None.

  Returns:
    ``(params, opt_state, info)``, ``info`` holding ``loss [num_steps]``,
    ``buffer_ess`` (fraction) and ``clipped_fraction``.
  """
  k_s, k_r, k_t = jax.random.split(key, 3)
  x, log_q = jax.lax.stop_gradient(
    sample_and_log_prob(jax.lax.stop_gradient(params), k_s, buffer_size)
  )
  res = resample(k_r, log_target(x) - log_q, buffer_size, clip_quantile=clip_quantile)
  buffer = x[res.indices]

  def nll(p, k):
    idx = jax.random.randint(k, (batch_size,), 0, buffer_size)
    return -jnp.mean(log_prob(p, buffer[idx]))

  def step(carry, i):
    p, s = carry
    value, grads = jax.value_and_grad(nll)(p, jax.random.fold_in(k_t, i))
    updates, s = optimizer.update(grads, s, p)
    return (optax.apply_updates(p, updates), s), value

  (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), jnp.arange(num_steps))
  return (
    params,
    opt_state,
    {"loss": losses, "buffer_ess": res.ess_fraction, "clipped_fraction": res.clipped_fraction},
  )
