r"""FAB as a sampler object: ``init`` and ``step`` in blackjax's style.

Flow annealed importance sampling bootstrap (Midgley et al., 2023) with its prioritised
replay buffer. With flow :math:`q_\theta`, target :math:`p` and order :math:`\alpha`
(2 by default), each :meth:`FABSampler.step`:

1. draws ``updates_per_ais * batch_size`` buffer samples in proportion to their weights
   (:func:`fdiv_jax.annealing.buffer_sample`),
2. runs AIS (:func:`fdiv_jax.annealing.ais`) from ``batch_size`` samples of the current
   flow towards :math:`p^\alpha q_\theta^{1-\alpha}`,
3. takes ``updates_per_ais`` optimiser steps of
   :func:`fdiv_jax.annealing.fab_buffer_loss` on the buffer batches,
4. re-weights the used buffer samples for the new flow
   (:func:`fdiv_jax.annealing.buffer_adjust`), adds the AIS batch to the buffer and
   adapts the per-level AIS step sizes towards ``target_acceptance``
   (:func:`fdiv_jax.annealing.adapt_step_size`),

as fab-jax's ``fab_with_buffer`` does. :meth:`FABSampler.init` fills the buffer with
``fill_batches`` AIS batches before the first update. The flow's parameters pass through
``jax.lax.stop_gradient`` wherever the flow is the AIS base (the AIS samples and
weights are data for the loss); ``log_q`` stored in the buffer is the flow's density at
the time the sample was added or last re-weighted. Everything is jit-able and, with
``jax.vmap`` over keys and states, runs independent seeds side by side.

Example (``tests/test_fab.py`` runs the same on a Gaussian)::

  flow = fd.flows.real_nvp(d, num_layers=4, hidden=(64,))
  sampler = fd.fab.fab(flow, target.log_prob, optax.adam(1e-3), batch_size=256)
  state = jax.jit(sampler.init)(key, flow.init(key))  # fills the buffer
  step = jax.jit(sampler.step)
  for k in jax.random.split(key, 1000):
    state, info = step(k, state)
  x, log_q = flow.sample_and_log_prob(state.params, key, 10_000)

References:
  Midgley, Stimper, Simm, Schoelkopf & Hernandez-Lobato. Flow annealed importance sampling
  bootstrap. ICLR 2023 (reference code lollcat/fab-jax).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from fdiv_jax import _checks, annealing

__all__ = ["FABInfo", "FABSampler", "FABState", "fab", "fab_target_evals"]


class FABState(NamedTuple):
  """State of :func:`fab`.

  Attributes:
    params: The flow's parameters.
    opt_state: The optimiser's state.
    buffer: The prioritised replay buffer (:class:`fdiv_jax.annealing.ReplayBuffer`).
    step_size: ``[L]`` AIS step size per intermediate level.
    step: Steps taken (int32; the buffer fill is not a step).
  """

  params: Any
  opt_state: Any
  buffer: annealing.ReplayBuffer
  step_size: jax.Array
  step: jax.Array


class FABInfo(NamedTuple):
  r"""What one :meth:`FABSampler.step` reports.

  Attributes:
    loss: Mean FAB buffer loss over the step's updates.
    ais_ess: Kish ESS fraction of the step's AIS weights.
    acceptance_rate: ``[L]`` mean acceptance rate per intermediate level.
    log_normalizer: The AIS estimate of :math:`\log\int p^\alpha q^{1-\alpha}`.
  """

  loss: jax.Array
  ais_ess: jax.Array
  acceptance_rate: jax.Array
  log_normalizer: jax.Array


class FABSampler(NamedTuple):
  """``init(key, params) -> FABState`` (the buffer filled by ``fill_batches`` calls of
  ``fill``), ``fill(key, state) -> (FABState, FABInfo)`` (one AIS batch into the
  buffer, no update), ``step(key, state) -> (FABState, FABInfo)`` and
  ``ais(key, params, step_size) -> AISResult`` (one AIS batch from the flow, held
  constant). Each uses ``key`` as given: pass a fresh key each call."""

  init: Callable[[jax.Array, Any], FABState]
  fill: Callable[[jax.Array, FABState], tuple[FABState, FABInfo]]
  step: Callable[[jax.Array, FABState], tuple[FABState, FABInfo]]
  ais: Callable[[jax.Array, Any, jax.Array], annealing.AISResult]


def fab_target_evals(
  batch_size: int, *, num_levels: int, kernel: str, num_integration_steps: int, num_mcmc_steps: int
) -> int:
  r"""Target evaluations of one AIS batch of :func:`fab`: :math:`N\,(1 + L\,(M K + 1))`.

  Per particle: one at the start, then per intermediate level every leapfrog / MALA /
  random-walk move (:math:`K` = ``num_integration_steps`` for HMC, else 1, per
  transition) and one evaluation at the new point.

  Args:
    batch_size: ``N``, the AIS particles.
    num_levels: ``L``, the intermediate AIS levels.
    kernel: The AIS transition, ``"hmc"``, ``"mala"`` or ``"rwm"``.
    num_integration_steps: Leapfrog steps per HMC transition (ignored for the others).
    num_mcmc_steps: ``M``, the transitions per intermediate level.

  Returns:
    The number of evaluations of the target (value or value and gradient), a Python int.
  """
  per_move = num_integration_steps if kernel == "hmc" else 1
  return batch_size * (1 + num_levels * (num_mcmc_steps * per_move + 1))


def fab(
  flow,
  log_target: Callable[[jax.Array], jax.Array],
  optimizer: optax.GradientTransformation,
  *,
  alpha: float = 2.0,
  batch_size: int = 256,
  buffer_batches: int = 100,
  fill_batches: int = 10,
  updates_per_ais: int = 4,
  num_levels: int = 8,
  kernel: str = "hmc",
  step_size: float = 0.1,
  num_integration_steps: int = 5,
  num_mcmc_steps: int = 1,
  target_acceptance: float = 0.65,
  max_weight: float = 10.0,
  ais_fn: Callable[[jax.Array, Any, jax.Array], annealing.AISResult] | None = None,
) -> FABSampler:
  r"""FAB with a prioritised replay buffer (the algorithm is in the module docstring).

  Args:
    flow: Anything with ``log_prob(params, x [n, d]) -> [n]`` and
      ``sample_and_log_prob(params, key, n) -> (x [n, d], log_q [n])``, e.g. a
      :class:`fdiv_jax.flows.Flow`; its ``dim`` (or the AIS samples' width) sets ``d``.
    log_target: ``x [n, d] -> [n]``, the unnormalised target :math:`\log p`.
    optimizer: An optax transformation of the flow's parameters.
    alpha: Order of the AIS target :math:`p^\alpha q^{1-\alpha}` (fab-jax: 2).
    batch_size: AIS particles per step, and the size of each update's buffer batch.
    buffer_batches: Buffer capacity in batches.
    fill_batches: AIS batches added by ``init`` before any update (fab-jax: the
      buffer's minimum length over the batch size, plus one).
    updates_per_ais: Optimiser steps per AIS batch (fab-jax: 4).
    num_levels: Intermediate AIS levels, linear in :math:`\beta`.
    kernel: AIS transition, ``"hmc"``, ``"mala"`` or ``"rwm"``.
    step_size: Initial step size of every level.
    num_integration_steps: Leapfrog steps per HMC transition.
    num_mcmc_steps: Transitions per intermediate level.
    target_acceptance: Acceptance rate the step sizes are adapted towards.
    max_weight: Clip of the buffer re-weighting (fab-jax's ``w_adjust_clip``).
    ais_fn: ``(key, params, step_size [L]) -> AISResult`` replacing the AIS batch
      (e.g. a defensive start); its ``log_base`` must be :math:`\log q_\theta` at the
      final samples, which the buffer stores. Default: AIS from ``batch_size`` flow
      samples with the arguments above.

  Returns:
    A :class:`FABSampler` with fields ``init``, ``fill``, ``step`` and ``ais`` (pure,
    jit-able functions).

  References:
    Midgley et al. Flow annealed importance sampling bootstrap. ICLR 2023 (reference
    code lollcat/fab-jax).
  """
  for name, v in (
    ("batch_size", batch_size),
    ("buffer_batches", buffer_batches),
    ("updates_per_ais", updates_per_ais),
    ("num_levels", num_levels),
  ):
    _checks.integer(name, v, 1)
  _checks.integer("fill_batches", fill_batches, 0)
  if updates_per_ais > buffer_batches:
    raise ValueError(
      f"updates_per_ais ({updates_per_ais}) must not exceed buffer_batches ({buffer_batches})"
    )
  betas = jnp.linspace(0.0, 1.0, num_levels + 2)

  def ais_batch(key, params, step_size):
    params = jax.lax.stop_gradient(params)
    k_s, k_a, _ = jax.random.split(key, 3)
    x0, _ = flow.sample_and_log_prob(params, k_s, batch_size)
    return annealing.ais(
      k_a,
      x0,
      log_base=lambda x: flow.log_prob(params, x),
      log_target=log_target,
      betas=betas.astype(x0.dtype),
      kernel=kernel,
      step_size=step_size,
      num_integration_steps=num_integration_steps,
      num_mcmc_steps=num_mcmc_steps,
      alpha=alpha,
    )

  ais_batch = ais_batch if ais_fn is None else ais_fn

  def add(buffer, step_size, res):
    buffer = annealing.buffer_add(buffer, res.samples, res.log_weights, res.log_base)
    adapted = annealing.adapt_step_size(step_size, res.acceptance_rate, target=target_acceptance)
    return buffer, adapted

  def info(res, loss):
    return FABInfo(loss, res.ess_fraction, res.acceptance_rate, res.log_normalizer)

  def fill(key, state: FABState) -> tuple[FABState, FABInfo]:
    res = ais_batch(key, state.params, state.step_size)
    buffer, sizes = add(state.buffer, state.step_size, res)
    return state._replace(buffer=buffer, step_size=sizes), info(res, jnp.zeros_like(sizes[0]))

  def init(key, params) -> FABState:
    x, _ = jax.eval_shape(lambda: flow.sample_and_log_prob(params, key, 1))
    buffer = annealing.buffer_init(buffer_batches * batch_size, x.shape[-1], dtype=x.dtype)
    sizes = jnp.full((num_levels,), step_size, x.dtype)
    state = FABState(params, optimizer.init(params), buffer, sizes, jnp.zeros((), jnp.int32))
    state, _ = jax.lax.scan(lambda s, k: fill(k, s), state, jax.random.split(key, fill_batches))
    return state

  def loss_fn(params, batch):
    x, log_q_old = batch
    # Rows the loss drops (a non-finite x, stored or current log q) are replaced by a
    # finite stand-in before the differentiable pass (double-where), so that their NaN
    # or inf partials cannot reach the gradient as 0 * NaN.
    log_q_now = jax.lax.stop_gradient(flow.log_prob(params, x))
    ok = jnp.isfinite(log_q_now) & jnp.isfinite(log_q_old) & jnp.all(jnp.isfinite(x), -1)
    log_q = flow.log_prob(params, jnp.where(ok[:, None], x, 0.0))
    log_q_old = jnp.where(ok, log_q_old, jnp.nan)  # weight 0 in fab_buffer_loss
    loss, _ = annealing.fab_buffer_loss(log_q, log_q_old, alpha=alpha, max_weight=max_weight)
    return loss, jnp.where(ok, log_q, log_q_now)

  def update(carry, batch):
    params, opt_state = carry
    (loss, log_q), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, batch)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return (optax.apply_updates(params, updates), opt_state), (loss, log_q)

  def step(key, state: FABState) -> tuple[FABState, FABInfo]:
    k_b, k_a = jax.random.split(key)
    x, log_q_old, idx = annealing.buffer_sample(k_b, state.buffer, updates_per_ais * batch_size)
    batches = jax.tree.map(
      lambda a: a.reshape((updates_per_ais, batch_size) + a.shape[1:]), (x, log_q_old)
    )
    res = ais_batch(k_a, state.params, state.step_size)  # with the flow before the updates
    (params, opt_state), (losses, log_q) = jax.lax.scan(
      update, (state.params, state.opt_state), batches
    )
    buffer = annealing.buffer_adjust(state.buffer, idx, log_q.reshape(-1), alpha=alpha)
    buffer, sizes = add(buffer, state.step_size, res)
    new = FABState(params, opt_state, buffer, sizes, state.step + 1)
    # Non-finite parameters make the reported loss NaN (the loss itself drops the rows
    # they spoil and would read 0).
    finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(p)) for p in jax.tree.leaves(params)]))
    return new, info(res, jnp.where(finite, jnp.mean(losses), jnp.nan))

  return FABSampler(init, fill, step, ais_batch)
