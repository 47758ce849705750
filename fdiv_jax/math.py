"""Numerically stable helpers shared by every estimator (log space throughout).

Also :func:`pad_rows`, the padding shared by the blocked kernel sums and the
row split over devices.

Each helper keeps both values and gradients finite where the untaken branch of a
``jnp.where`` would produce ``inf`` or ``NaN`` (the "double-where" trick: the
argument of the dangerous branch is replaced by a safe value before it is used).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

__all__ = [
  "double_where",
  "expm1_over",
  "log1p_over",
  "cumulant",
  "log_mean_exp",
  "lambertw_exp",
  "pad_rows",
]

# |a| below which `expm1_over` / `cumulant` switch to their second-order Taylor
# expansions; the relative truncation error there is O(_TAYLOR_EPS**2).
_TAYLOR_EPS = 1e-4


def double_where(
  condition: ArrayLike, fn, x: ArrayLike, *, safe: ArrayLike, otherwise: ArrayLike
) -> jax.Array:
  """``fn(x)`` where ``condition`` holds, else ``otherwise``, never evaluating ``fn`` elsewhere.

  The double-where trick: outside ``condition`` ``fn`` sees ``safe`` instead of ``x``, so
  that neither the value nor the gradient picks up the ``inf`` / ``NaN`` of the untaken
  branch.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from fdiv_jax.math import double_where
    >>> f = lambda d2: double_where(d2 > 0, jnp.sqrt, d2, safe=1.0, otherwise=0.0)
    >>> float(jax.grad(f)(0.0))  # jnp.where(d2 > 0, jnp.sqrt(d2), 0.0) gives NaN
    0.0

  Args:
    condition: Boolean array, broadcastable with ``x``.
    fn: Elementwise function (e.g. ``jnp.sqrt``), called once, on ``x`` where ``condition``
      holds and on ``safe`` elsewhere.
    x: Array ``[...]``, the argument of ``fn``.
    safe: Stand-in for ``x`` where ``condition`` is false, a point where ``fn`` and its
      derivative are finite; broadcastable with ``x``.
    otherwise: The result where ``condition`` is false; broadcastable with ``x``.

  Returns:
    ``fn(x)`` where ``condition`` holds and ``otherwise`` elsewhere, of the broadcast shape
    of ``condition``, ``fn(x)`` and ``otherwise``.
  """
  return jnp.where(condition, fn(jnp.where(condition, x, safe)), otherwise)


def expm1_over(x: ArrayLike, a: ArrayLike) -> jax.Array:
  r"""Returns :math:`(e^{a x} - 1) / a`, continuous at ``a = 0`` where it is ``x``.

  Used by the alpha family, whose generator and conjugate have removable
  singularities at the orders 0 and 1.

  .. math::
    \frac{\operatorname{expm1}(a x)}{a} \approx x + \tfrac{a x^2}{2}
    \quad (|a| < 10^{-4})

  Args:
    x: Array ``[...]``.
    a: Scale, broadcastable with ``x``; may be traced.

  Returns:
    Array of the broadcast shape of ``x`` and ``a``.
  """
  x = jnp.asarray(x)
  a = jnp.asarray(a, dtype=x.dtype)
  small = jnp.abs(a) < _TAYLOR_EPS
  a_safe = jnp.where(small, 1.0, a)
  # Double-where: each branch sees x only where it is selected, so the other
  # one's overflow (expm1(x) at x > 88, x * x at 2e19) never reaches the gradient.
  general = jnp.expm1(a_safe * jnp.where(small, 0.0, x)) / a_safe
  x_t = jnp.where(small, x, 0.0)
  # (a x) x, not a (x x): no x^2 overflow to inf * 0 at a = 0, and d/da = x^2 / 2 there.
  taylor = x_t + 0.5 * (a * x_t) * x_t
  return jnp.where(small, taylor, general)


def log1p_over(x: ArrayLike, a: ArrayLike) -> jax.Array:
  r"""Returns :math:`\log(1 + a x) / a`, continuous at ``a = 0`` where it is ``x``.

  Only meaningful where :math:`1 + a x > 0`; elsewhere returns ``NaN``-free
  garbage that the caller masks (the argument is clamped before the log).

  Args:
    x: Array ``[...]``.
    a: Scale, broadcastable with ``x``; may be traced.

  Returns:
    Array of the broadcast shape of ``x`` and ``a``.
  """
  x = jnp.asarray(x)
  a = jnp.asarray(a, dtype=x.dtype)
  small = jnp.abs(a) < _TAYLOR_EPS
  a_safe = jnp.where(small, 1.0, a)
  # Double-where, as in expm1_over.
  arg = jnp.maximum(a_safe * jnp.where(small, 0.0, x), -1.0 + jnp.finfo(x.dtype).eps)
  general = jnp.log1p(arg) / a_safe
  x_t = jnp.where(small, x, 0.0)
  taylor = x_t - 0.5 * (a * x_t) * x_t
  return jnp.where(small, taylor, general)


def log_mean_exp(x: ArrayLike, axis: int = -1) -> jax.Array:
  r"""Log of the mean of ``exp(x)`` over the sample axis, computed with ``logsumexp``.

  .. math::
    \operatorname{lme}(x) = \log\frac1N\sum_{i=1}^N e^{x_i}
    = \operatorname{logsumexp}_i(x_i) - \log N.

  Args:
    x: Array ``[..., N]``.
    axis: The sample axis (default the last; ``0`` for samples from TFP / distrax).

  Returns:
    ``[...]``, the batch axes (the sample axis reduced).
  """
  x = jnp.asarray(x)
  n = x.shape[axis]
  return jax.nn.logsumexp(x, axis=axis) - jnp.log(n).astype(x.dtype)


def cumulant(x: ArrayLike, a: ArrayLike, axis: int = -1) -> jax.Array:
  r"""Scaled cumulant generating function of the samples ``x``, continuous at ``a = 0``.

  .. math::
    \Lambda(a) = \frac{1}{a}\log\frac1N\sum_{i=1}^N e^{a x_i}
    \approx \bar x + \frac{a}{2}\,\widehat{\mathrm{Var}}[x] \quad (|a| < 10^{-4}),

  so its limit at ``a = 0`` is the sample mean :math:`\bar x` (with the biased sample
  variance :math:`\widehat{\mathrm{Var}}` in the second-order expansion).

  Args:
    x: Samples ``[..., N]``.
    a: Scale, a scalar (may be traced).
    axis: The sample axis (default the last; ``0`` for samples from TFP / distrax).

  Returns:
    ``[...]``, the batch axes (the sample axis reduced).

  References:
    Pantazis et al. Cumulant GAN. IEEE TNNLS 2022 (arXiv:2006.06625).
  """
  x = jnp.asarray(x)
  a = jnp.asarray(a, dtype=x.dtype)
  small = jnp.abs(a) < _TAYLOR_EPS
  a_safe = jnp.where(small, 1.0, a)
  general = log_mean_exp(a_safe * x, axis=axis) / a_safe
  mean = jnp.mean(x, axis=axis)
  var = jnp.var(x, axis=axis)
  return jnp.where(small, mean + 0.5 * a * var, general)


@jax.custom_jvp
def lambertw_exp(s: ArrayLike) -> jax.Array:
  r"""Principal Lambert W of :math:`e^{s}`, i.e. the ``w > 0`` with :math:`w + \log w = s`.

  Working with ``s`` rather than :math:`e^s` keeps it finite for ``s`` up to
  the float range (needed by the Jeffreys conjugate). Solved by Newton's method
  on :math:`w + \log w - s` from an asymptotic start; the derivative
  :math:`dw/ds = w / (1 + w)` is supplied analytically.

  Args:
    s: Array ``[...]``.

  Returns:
    :math:`W(e^s)`, ``[...]`` (the shape of ``s``).
  """
  s = jnp.asarray(s)
  dtype = jnp.result_type(s, float)
  s = s.astype(dtype)
  # Start: w ~ exp(s) for s << 0, w ~ s - log(s) for s >> 1.
  big = s > 1.0
  s_big = jnp.where(big, s, 2.0)
  w0 = jnp.where(big, s_big - jnp.log(s_big), jnp.exp(jnp.minimum(s, 1.0)) / 1.5)

  def newton(_, w):
    w = jnp.maximum(w, jnp.finfo(dtype).tiny)
    g = w + jnp.log(w) - s
    return w - g / (1.0 + 1.0 / w)

  return jax.lax.fori_loop(0, 12, newton, w0)


@lambertw_exp.defjvp
def _lambertw_exp_jvp(primals, tangents):
  (s,), (ds,) = primals, tangents
  w = lambertw_exp(s)
  return w, ds * w / (1.0 + w)


def pad_rows(x: jax.Array, multiple: int, *, value: ArrayLike | None = None) -> jax.Array:
  """Pads the leading axis of ``x`` up to a multiple of ``multiple``.

  The new rows are copies of ``x[0]`` (finite, so they cannot put NaN into a
  blocked computation whose padded outputs are then dropped), or ``value``
  when given (e.g. ``-inf`` log weights, which make padded columns vanish).

  Args:
    x: Array ``[n, ...]``, non-empty when ``value`` is None.
    multiple: Positive int; the leading axis is padded to the next multiple of it.
    value: Fill of the new rows; None copies ``x[0]``.

  Returns:
    ``[n + pad, ...]`` with ``pad = (-n) % multiple`` rows appended (``x`` itself when
    ``n`` is already a multiple).
  """
  pad = (-x.shape[0]) % multiple
  if not pad:
    return x
  fill = (
    jnp.broadcast_to(x[:1], (pad,) + x.shape[1:])
    if value is None
    else jnp.full((pad,) + x.shape[1:], value, x.dtype)
  )
  return jnp.concatenate([x, fill], axis=0)
