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
  maximum likelihood :math:`-\frac1B\sum_b\log q_\theta(x_b)` on minibatches of
  ``B = batch_size`` drawn uniformly (with replacement) from it.

  Args:
    key: PRNG key.
    params: The flow's parameters (a pytree).
    opt_state: The state of ``optimizer`` for ``params``.
    sample_and_log_prob: ``(params, key, n) -> (x [n, d], log_q [n])``.
    log_prob: ``(params, x [B, d]) -> [B]``.
    log_target: ``x [n, d] -> [n]``, the next level's unnormalised log density.
    optimizer: An optax transformation.
    buffer_size: Samples drawn and resampled (static).
    batch_size: Maximum-likelihood minibatch (static).
    num_steps: Optimiser steps (static).
    clip_quantile: Quantile in ``(0, 1]`` above which log weights are clipped (TA-BG
      uses one close to 1), or None.

  Returns:
    ``(params, opt_state, info)``: the parameters and optimiser state after
    ``num_steps`` steps, and a dict ``info`` with ``loss`` ``[num_steps]`` (each step's
    minibatch loss, before its update), ``buffer_ess`` (the Kish ESS fraction of the
    clipped weights) and ``clipped_fraction`` (the fraction of log weights clipped).

  References:
    Schopmans & Friederich. Temperature-annealed Boltzmann generators. ICML 2025, Alg. 1.
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
