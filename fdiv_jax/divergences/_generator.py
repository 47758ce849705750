"""User-defined entries: :func:`from_generator` derives a record from its generator."""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from fdiv_jax.divergences._record import (
  Divergence,
  _elementwise_derivatives,
)


def _conjugate_by_bisection(t, phi, *, log_u_range: float, iterations: int):
  r"""f*(t) = sup_l t e^l - phi(l) by bisection on the monotone f'(e^l) = t."""
  ones = lambda x: jnp.ones_like(x)
  f_prime = lambda l: jax.jvp(phi, (l,), (ones(l),))[1] * jnp.exp(-l)
  lo = jnp.full_like(t, -log_u_range)
  hi = jnp.full_like(t, log_u_range)

  def body(_, bounds):
    lo, hi = bounds
    mid = 0.5 * (lo + hi)
    go_right = f_prime(mid) < t
    return jnp.where(go_right, mid, lo), jnp.where(go_right, hi, mid)

  lo, hi = jax.lax.fori_loop(0, iterations, body, (lo, hi))
  l_star = jax.lax.stop_gradient(0.5 * (lo + hi))
  # Envelope theorem: d f*/dt = u*, which this expression reproduces.
  return t * jnp.exp(l_star) - phi(l_star)


def from_generator(
  f: Callable[[jax.Array], jax.Array],
  *,
  name: str = "custom",
  conjugate: Callable[[jax.Array], jax.Array] | None = None,
  activation: Callable[[jax.Array], jax.Array] | None = None,
  conjugate_of_activation: Callable[[jax.Array], jax.Array] | None = None,
  weight: Callable[[jax.Array], jax.Array] | None = None,
  f_prime_at_one: float | None = None,
  log_u_range: float = 30.0,
  bisection_iterations: int = 60,
) -> Divergence:
  r"""Builds a :class:`Divergence` from a generator written in log space.

  Whatever is not given is derived from ``f`` by autodiff of
  :math:`\varphi(l) = f(e^l)`:

  * ``weight``: :math:`r^2 f''(r) = \varphi''(l) - \varphi'(l)`.
  * ``f_prime_at_one``: :math:`\varphi'(0)`.
  * ``activation``: the log-ratio parameterisation
    :math:`g(v) = f'(e^v) = \varphi'(v) e^{-v}`, whose optimal critic is
    ``v = log(p / q)``; with it, by the Fenchel-Young equality,
    :math:`f^*(g(v)) = \varphi'(v) - \varphi(v)` (no conjugate needed).
  * ``conjugate``: :math:`\sup_l t e^l - \varphi(l)` by bisection on
    :math:`f'(e^l) = t` over :math:`|l| \le` ``log_u_range`` (for ``t`` outside
    the range of :math:`f'` there, the supremum over that interval, a lower
    bound on :math:`f^*`).

  If ``activation`` is given, ``conjugate_of_activation`` defaults to
  ``conjugate(activation(v))``.

  Args:
    f: Elementwise convex generator as a function of ``log_u`` with
      ``f(0) == 0``.
    name: Name shown in reprs and errors.
    conjugate: Closed-form :math:`f^*(t)`, optional.
    activation: Output map onto ``dom f*``, optional.
    conjugate_of_activation: Fused :math:`f^*(g(v))`, optional.
    weight: Closed-form :math:`h` as a function of ``log_r``, optional.
    f_prime_at_one: Closed-form :math:`f'(1)`, optional.
    log_u_range: Search interval half-width for the numerical conjugate.
    bisection_iterations: Iterations of the numerical conjugate.

  Returns:
    The record.
  """
  if not callable(f):
    raise TypeError(f"f must be callable, got {type(f).__name__}")
  phi = lambda l: f(l)

  if weight is None:

    def weight(l):
      d1, d2 = _elementwise_derivatives(phi, l)
      return d2 - d1

  if f_prime_at_one is None:
    fp1 = lambda: jax.jvp(phi, (jnp.zeros(()),), (jnp.ones(()),))[1]
  else:
    fp1 = lambda: f_prime_at_one

  if conjugate is None:
    conjugate = functools.partial(
      _conjugate_by_bisection, phi=phi, log_u_range=log_u_range, iterations=bisection_iterations
    )

  if activation is None:
    if conjugate_of_activation is not None:
      raise ValueError("conjugate_of_activation was given without activation")
    activation = lambda v: _elementwise_derivatives(phi, v)[0] * jnp.exp(-v)
    conjugate_of_activation = lambda v: _elementwise_derivatives(phi, v)[0] - phi(v)
  elif conjugate_of_activation is None:
    conjugate_of_activation = lambda v: conjugate(activation(v))

  return Divergence(
    name=name,
    params={},
    _f=phi,
    _conjugate=conjugate,
    _activation=activation,
    _conjugate_of_activation=conjugate_of_activation,
    _f_prime_at_one=fp1,
    _weight=weight,
    scale_free_gradient=_scale_free(phi),
  )


def _scale_free(phi: Callable[[jax.Array], jax.Array]) -> bool:
  """Whether ``phi(l - c) - phi(l)`` is the same at every ``l`` (``f = -c log u``), read
  from ``phi`` at a few points in float64 NumPy-concrete arithmetic."""
  with jax.ensure_compile_time_eval():
    l = jnp.asarray([-3.0, -0.5, 0.0, 1.5, 4.0])
    shift = np.asarray(phi(l - 1.0) - phi(l), np.float64)
  return bool(np.all(np.isfinite(shift)) and np.ptp(shift) <= 1e-4 * (1.0 + np.abs(shift).max()))
