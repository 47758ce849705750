"""FAB's prioritised replay buffer, a fixed-capacity pytree."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from fdiv_jax import _checks
from fdiv_jax import divergences as _divergences
from fdiv_jax.annealing._paths import alpha_of

LogDensity = Callable[[jax.Array], jax.Array]  # x [N, d] -> [N]


class ReplayBuffer(NamedTuple):
  r"""FAB's prioritised replay buffer: a fixed-capacity ring of weighted samples.

  Attributes:
    x: ``[C, d]`` samples (empty slots hold zeros).
    log_w: ``[C]`` log weights; empty or invalidated slots hold :math:`-\infty`
      and are never sampled.
    log_q: ``[C]`` the flow's log density when ``log_w`` was last set.
    index: Next slot to write (int32).
    size: Number of filled slots, up to ``C`` (int32).
  """

  x: jax.Array
  log_w: jax.Array
  log_q: jax.Array
  index: jax.Array
  size: jax.Array


def buffer_init(capacity: int, dim: int, *, dtype=None) -> ReplayBuffer:
  r"""An empty buffer of ``capacity`` samples of dimension ``dim``.

  Args:
    capacity: ``C``, the number of slots (a positive int).
    dim: ``d``, the samples' dimension (a positive int).
    dtype: Dtype of the samples and log weights; default JAX's default float (float32, or
      float64 under ``jax_enable_x64``).

  Returns:
    A :class:`ReplayBuffer` with fields ``x`` ``[C, d]`` (zeros), ``log_w`` ``[C]``
    (:math:`-\infty`: empty), ``log_q`` ``[C]`` (zeros), ``index`` and ``size`` (0).
  """
  dtype = dtype or _checks.float_dtype()
  for name, v in (("capacity", capacity), ("dim", dim)):
    if not isinstance(v, (int, np.integer)) or v < 1:
      raise ValueError(f"{name} must be a positive int, got {v!r}")
  return ReplayBuffer(
    jnp.zeros((capacity, dim), dtype),
    jnp.full((capacity,), -jnp.inf, dtype),
    jnp.zeros((capacity,), dtype),
    jnp.zeros((), jnp.int32),
    jnp.zeros((), jnp.int32),
  )


def buffer_add(
  buffer: ReplayBuffer, x: ArrayLike, log_w: ArrayLike, log_q: ArrayLike
) -> ReplayBuffer:
  r"""Write a batch ``[B, d]`` into the next ``B`` slots, overwriting the oldest.

  Samples with a non-finite ``x``, ``log_w`` or ``log_q`` are stored with
  :math:`\log w = -\infty` (never sampled), so a NaN from the sampler cannot
  reach the loss.

  Args:
    buffer: The buffer, of capacity ``C`` and dimension ``d``.
    x: ``[B, d]`` samples, ``B <= C``.
    log_w: ``[B]`` their log weights (e.g. :attr:`AISResult.log_weights`).
    log_q: ``[B]`` the flow's log density at ``x`` (e.g. :attr:`AISResult.log_base`).

  Returns:
    A :class:`ReplayBuffer` with the ``B`` slots from ``index`` on (modulo ``C``)
    overwritten, ``index`` advanced by ``B`` (modulo ``C``) and ``size`` increased by
    ``B`` up to ``C``.
  """
  x = _checks.floating("x", x, min_ndim=2)
  log_w, log_q = jnp.asarray(log_w, buffer.log_w.dtype), jnp.asarray(log_q, buffer.log_q.dtype)
  capacity = buffer.log_w.shape[0]
  if x.ndim != 2 or x.shape[1] != buffer.x.shape[1]:
    raise ValueError(f"x must have shape [B, {buffer.x.shape[1]}], got {x.shape}")
  if log_w.shape != x.shape[:1] or log_q.shape != x.shape[:1]:
    raise ValueError(
      f"log_w and log_q must have shape [B] = [{x.shape[0]}], got {log_w.shape} and {log_q.shape}"
    )
  if x.shape[0] > capacity:
    raise ValueError(f"x holds {x.shape[0]} samples, more than the capacity {capacity}")
  valid = jnp.isfinite(log_w) & jnp.isfinite(log_q) & jnp.all(jnp.isfinite(x), -1)
  slots = (buffer.index + jnp.arange(x.shape[0])) % capacity
  return ReplayBuffer(
    buffer.x.at[slots].set(jnp.where(valid[:, None], x, 0.0).astype(buffer.x.dtype)),
    buffer.log_w.at[slots].set(jnp.where(valid, log_w, -jnp.inf)),
    buffer.log_q.at[slots].set(jnp.where(valid, log_q, 0.0)),
    ((buffer.index + x.shape[0]) % capacity).astype(jnp.int32),
    jnp.minimum(buffer.size + x.shape[0], capacity).astype(jnp.int32),
  )


class BufferDraw(NamedTuple):
  """Samples drawn from a :class:`ReplayBuffer`.

  Attributes:
    x: ``[M, d]`` samples.
    log_q: ``[M]`` the flow log density stored with them (the old one).
    indices: ``[M]`` their slots (for :func:`buffer_adjust`).
  """

  x: jax.Array
  log_q: jax.Array
  indices: jax.Array


def buffer_sample(key: jax.Array, buffer: ReplayBuffer, num_samples: int) -> BufferDraw:
  r"""Draw ``num_samples`` distinct slots with probability :math:`\propto w` (Gumbel top-k).

  Sampling without replacement in proportion to the weights (the Gumbel
  top-k trick, as fab-jax): the ``M`` largest :math:`\log w_i + g_i`,
  :math:`g_i \sim \mathrm{Gumbel}(0, 1)`, in a random order. Fill the buffer with
  at least ``num_samples`` valid samples before sampling (FAB keeps a minimum
  length); otherwise empty slots may be drawn.

  Args:
    key: PRNG key.
    buffer: The buffer, of capacity ``C``.
    num_samples: ``M``, the number of slots to draw, an int in ``[1, C]`` (static).

  Returns:
    A :class:`BufferDraw` with fields ``x`` ``[M, d]``, ``log_q`` ``[M]`` (the stored,
    old flow log density that :func:`fab_buffer_loss` needs) and ``indices`` ``[M]``.

  References:
    Midgley et al. Flow annealed importance sampling bootstrap. ICLR 2023, Alg. 2.
  """
  capacity = buffer.log_w.shape[0]
  if not isinstance(num_samples, (int, np.integer)) or not 1 <= num_samples <= capacity:
    raise ValueError(f"num_samples must be an int in [1, capacity={capacity}], got {num_samples!r}")
  k1, k2 = jax.random.split(key)
  g = jax.random.gumbel(k1, buffer.log_w.shape, buffer.log_w.dtype)
  _, idx = jax.lax.top_k(buffer.log_w + g, num_samples)
  idx = jax.random.permutation(k2, idx)
  return BufferDraw(buffer.x[idx], buffer.log_q[idx], idx)


def buffer_adjust(
  buffer: ReplayBuffer,
  indices: ArrayLike,
  log_q: ArrayLike,
  *,
  alpha: _divergences.Divergence | str | ArrayLike,
) -> ReplayBuffer:
  r"""Re-weight stored samples for the updated flow (FAB, Midgley et al. 2023, Alg. 2).

  The stored weight targets :math:`p^\alpha q_{\rm old}^{1-\alpha}/q_{\rm old}`;
  for the new flow it becomes
  :math:`\log w \leftarrow \log w + (1-\alpha)(\log q_{\rm new} - \log q_{\rm old})`,
  and ``log_q`` is stored. A non-finite new ``log_q`` invalidates the slot.

  Args:
    buffer: The buffer.
    indices: ``[M]`` slots (from :func:`buffer_sample`).
    log_q: ``[M]`` the current flow's log density at those samples.
    alpha: The order (number, traced array or registry entry, :func:`alpha_of`).

  Returns:
    A :class:`ReplayBuffer` with ``log_w`` and ``log_q`` of the slots ``indices``
    updated (the other slots, ``x``, ``index`` and ``size`` unchanged).
  """
  a = alpha_of(alpha)
  indices = jnp.asarray(indices)
  log_q = jnp.asarray(log_q, buffer.log_q.dtype)
  if log_q.shape != indices.shape:
    raise ValueError(f"log_q must have the shape of indices {indices.shape}, got {log_q.shape}")
  old_w, old_q = buffer.log_w[indices], buffer.log_q[indices]
  new_w = old_w + (1.0 - a) * (log_q - old_q)
  ok = jnp.isfinite(new_w) & jnp.isfinite(log_q)
  return buffer._replace(
    log_w=buffer.log_w.at[indices].set(jnp.where(ok, new_w, -jnp.inf).astype(old_w.dtype)),
    log_q=buffer.log_q.at[indices].set(jnp.where(ok, log_q, 0.0)),
  )
