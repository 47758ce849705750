"""Paths of densities: geometric, tempered, and the alpha target FAB anneals to."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from fdiv_jax import _checks
from fdiv_jax import divergences as _divergences

LogDensity = Callable[[jax.Array], jax.Array]  # x [N, d] -> [N]


def geometric_path(log_base: ArrayLike, log_target: ArrayLike, beta: ArrayLike) -> jax.Array:
  r"""Geometric interpolation :math:`(1-\beta)\log q(x) + \beta\log\gamma(x)`.

  Args:
    log_base: :math:`\log q` at the points, ``[...]``.
    log_target: (Unnormalised) :math:`\log\gamma` at the same points, ``[...]``.
    beta: Level in ``[0, 1]`` (broadcasts; traced).

  Returns:
    ``[...]`` (the broadcast shape of the inputs), the unnormalised log density of
    level ``beta``. A target that is :math:`-\infty` stays :math:`-\infty` for
    ``beta > 0`` (no ``0 * inf``).
  """
  log_base, log_target = jnp.asarray(log_base), jnp.asarray(log_target)
  beta = jnp.asarray(beta, jnp.result_type(log_base, log_target))
  # beta * log_target with beta = 0 and log_target = -inf is 0, not NaN.
  safe = jnp.where(beta == 0, 0.0, log_target)
  return (1.0 - beta) * log_base + beta * safe


def temperature_path(log_p: ArrayLike, temperature: ArrayLike) -> jax.Array:
  r"""Tempered log density :math:`\log p(x) / T` (TA-BG; ``T = 1`` is the target).

  Args:
    log_p: (Unnormalised) target log density :math:`\log p` at the points, ``[...]``.
    temperature: :math:`T > 0`, a scalar or an array that broadcasts with ``log_p``
      (traced).

  Returns:
    ``[...]`` (the broadcast shape), the unnormalised tempered log density.

  References:
    Schopmans & Friederich. Temperature-annealed Boltzmann generators. ICML 2025.
  """
  return jnp.asarray(log_p) / _checks.positive("temperature", temperature)


def alpha_of(divergence: _divergences.Divergence | str | ArrayLike) -> jax.Array:
  r"""The order :math:`\alpha` of an alpha-divergence given as a number or registry entry.

  Accepts a number / array (returned as an array, traced values pass through),
  the registry's ``alpha`` family (its ``params["alpha"]``), ``"kl"``
  (:math:`\alpha = 1`, forward KL) or ``"reverse_kl"`` (:math:`\alpha = 0`).

  Args:
    divergence: A number or array, a :class:`fdiv_jax.divergences.Divergence` or its
      registry name.

  Returns:
    :math:`\alpha` as a floating JAX array (the input's shape for an array, else a
    scalar). Raises ``ValueError`` for a divergence that is not an alpha-divergence.
  """
  if isinstance(divergence, str):
    divergence = _divergences.get(divergence)
  if isinstance(divergence, _divergences.Divergence):
    if divergence.alpha_order is not None:
      return divergence.alpha_order
    raise ValueError(
      "divergence must be an alpha-divergence (the registry's 'alpha' "
      f"family, 'kl' or 'reverse_kl') or a number, got {divergence.name!r}"
    )
  return jnp.asarray(divergence, _checks.float_dtype(divergence))


def alpha_target(
  log_p: ArrayLike, log_q: ArrayLike, *, alpha: _divergences.Divergence | str | ArrayLike
) -> jax.Array:
  r"""FAB's AIS target :math:`\log\gamma = \alpha\log p + (1-\alpha)\log q`.

  For the registry's alpha-divergence
  :math:`D_\alpha(p\|q) = \frac{\int p^\alpha q^{1-\alpha} - 1}{\alpha(\alpha-1)}`,
  :math:`\gamma \propto p^\alpha q^{1-\alpha}` minimises the variance of the
  importance-sampling estimate of :math:`\int p^\alpha q^{1-\alpha}`
  (Midgley et al., 2023, Sec. 3). ``alpha = 2`` gives :math:`p^2/q`,
  ``alpha = 1`` the target :math:`p` itself.

  Args:
    log_p: (Unnormalised) target log density, ``[...]``.
    log_q: Flow log density at the same points, ``[...]``.
    alpha: The order: a number, a traced array or a registry entry (:func:`alpha_of`).

  Returns:
    ``[...]`` (the broadcast shape of the inputs), the unnormalised :math:`\log\gamma`;
    with ``alpha = 1`` it is ``log_p`` even where ``log_q`` is :math:`-\infty`.

  References:
    Midgley et al. Flow annealed importance sampling bootstrap. ICLR 2023.
  """
  a = alpha_of(alpha)
  log_p, log_q = jnp.asarray(log_p), jnp.asarray(log_q)
  # (1 - alpha) log q with alpha = 1 is 0 even where log q = -inf.
  return a * log_p + jnp.where(a == 1, 0.0, (1.0 - a) * log_q)
