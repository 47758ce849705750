"""Amari's alpha family: its generator, stable in the order and in :math:`\\log u`."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from fdiv_jax import _checks
from fdiv_jax import math as fmath
from fdiv_jax.divergences._record import (
  _INF,
  _LARGE_L,
  Divergence,
  _exp_form_above,
  _exp_of,
  _with_limit_at_zero,
  _zero,
)

# Orders closer than this to 0 or 1 use first-order expansions of the alpha
# generator where they are accurate: while |(alpha - alpha_0) log u| < _ALPHA_TAYLOR
# (relative truncation error below _ALPHA_TAYLOR^2 / 6 ~ 2e-5; the general
# formula's cancellation error is about 1e-7 / _ALPHA_TAYLOR there). Beyond
# that (e.g. alpha = 1e-5 at log u = -1e6, where f ~ 1 / alpha) the general
# formula is exact and the expansion is not.
_ALPHA_EPS = 1e-3
_ALPHA_TAYLOR = 1e-2
# In float64 the same balance sits at 1e-5 for both (truncation (1e-5)^2 / 6 ~ 2e-11,
# cancellation ~ 1e-16 / 1e-5 = 1e-11).
_ALPHA_EPS_64 = 1e-5
_ALPHA_TAYLOR_64 = 1e-5


def _thresholds(dtype) -> tuple[float, float]:
  """(order window, expansion window) for computations in ``dtype``."""
  if jnp.finfo(dtype).bits >= 64:
    return _ALPHA_EPS_64, _ALPHA_TAYLOR_64
  return _ALPHA_EPS, _ALPHA_TAYLOR


_ALPHA_LARGE = 30.0  # max(a l, l) above which _alpha_general uses its exp form


def _alpha_log_large(l, a):
  """log f_alpha where max(a l, l) is large (see :func:`_alpha_general`)."""
  d = a * (a - 1.0)
  b_a = jnp.where(
    a > 1.0,
    -a * jnp.expm1((1.0 - a) * l) + (a - 1.0) * jnp.expm1(-a * l),
    1.0 - a * jnp.exp((1.0 - a) * l) + (a - 1.0) * jnp.exp(-a * l),
  )
  b_l = jnp.where(
    a > 0.5,
    jnp.expm1((a - 1.0) * l) - (1.0 - a) * jnp.expm1(-l),
    -a + jnp.exp((a - 1.0) * l) - (1.0 - a) * jnp.exp(-l),
  )
  top = a * l >= l  # a l is the dominant exponent (a > 1, or a < 0 with l < 0)
  ratio = jnp.where(top, b_a, b_l) / d
  return jnp.where(top, a * l, l) + jnp.log(jnp.where(ratio > 0, ratio, 1.0))


_alpha_large = _exp_of(_alpha_log_large)


def _alpha_general(l, a):
  r"""(expm1(a l) - a expm1(l)) / (a (a - 1)): the linear terms of
  u^a - 1 - a(u - 1) cancel exactly in this form.

  Where :math:`m = \max(a l, l) > 30` that form is inf - inf long before the
  value overflows (alpha = 3 at l = 30: e^90 / 6 fits float32), so there the
  dominant exponential is factored out, f = exp(m + log(B / (a (a - 1)))):
  with ``a l`` dominant (a > 1, or a < 0 with l < 0)
  :math:`B = 1 - a e^{(1-a)l} + (a-1) e^{-al}`, with ``l`` dominant (a < 1)
  :math:`B = -a + e^{(a-1)l} - (1-a) e^{-l}`; each written through expm1
  where a is near 1, so that B has no cancellation.
  """
  big = jnp.maximum(a * l, l) > _ALPHA_LARGE
  lo_l = jnp.where(big, 0.0, l)
  lo = (jnp.expm1(a * lo_l) - a * jnp.expm1(lo_l)) / (a * (a - 1.0))
  hi = _alpha_large(jnp.where(big, l, 0.0), a)  # stand-in 0: exp(0) elsewhere
  return jnp.where(big, hi, lo)


# alpha = 1: K = u log u - u + 1 = e^l (l - 1) + 1 (1 at u = 0, where l e^l
# would be 0 * inf; in exp form above l = 2, where l e^l - expm1(l) is inf - inf).
# Built once: each _exp_form_above call makes a new custom_jvp function.
_alpha_one = _with_limit_at_zero(
  _exp_form_above(
    _LARGE_L,
    lambda s: s * jnp.exp(s) - jnp.expm1(s),
    lambda s: s + jnp.log(s - 1.0),
    plus=jnp.ones_like,
  ),
  1.0,
)


def _alpha_near1(l, alpha):
  # alpha -> 1: K + eps (l^2 e^l / 2 - K). Written as (eps l) l u so that no
  # intermediate overflows where |eps l| < _ALPHA_TAYLOR (l^2 does at 2e19);
  # above l = 2 as e^l [(1 - eps)(l - 1) + (eps l) l / 2] + 1 - eps (no inf - inf).
  eps = alpha - 1.0
  big = l > _LARGE_L
  lo_l = jnp.where(big, 0.0, l)
  k = _alpha_one(lo_l)
  lo = k + 0.5 * (eps * lo_l) * lo_l * jnp.exp(lo_l) - eps * k
  hi_l = jnp.where(big, l, 2.0 * _LARGE_L + 1.0)
  hi = _near1_large(hi_l, eps) + (1.0 - eps)
  return jnp.where(big, hi, lo)


def _near1_log_large(l, eps):
  # Positive where it is selected (|eps l| small, l > 2); guarded elsewhere
  # (a traced order far from 1 meets this branch only through its stand-in).
  b = (1.0 - eps) * (l - 1.0) + 0.5 * (eps * l) * l
  return l + jnp.log(jnp.where(b > 0, b, 1.0))


_near1_large = _exp_of(_near1_log_large)


def _alpha_near0(l, alpha):
  # alpha -> 0: E(l) + alpha (E(l) - l^2 / 2), E(l) = u - 1 - log u.
  el = jnp.expm1(l) - l
  return el + alpha * el - 0.5 * (alpha * l) * l


def _alpha_f(l, alpha):
  r"""Amari alpha generator (u^a - 1 - a(u - 1)) / (a(a - 1)), stable in l."""
  if not isinstance(alpha, jax.core.Tracer) and np.ndim(alpha) == 0:
    # A concrete order (the usual case: a registry record closed over by a
    # jitted loss): pick the formula at trace time where one fits every l.
    a = float(alpha)
    l = jnp.asarray(l)
    window, _ = _thresholds(l.dtype)
    if a == 1.0:
      return _alpha_one(l)
    if a == 0.0:
      return jnp.expm1(l) - l  # alpha = 0: u - 1 - log u
    if abs(a - 1.0) >= window and abs(a) >= window:
      return _alpha_general(l, jnp.asarray(a, l.dtype))
  # Near 0 or 1, or a traced order (vmap / grad over alpha): per element.
  l, alpha = jnp.broadcast_arrays(l, jnp.asarray(alpha, l.dtype))
  window, taylor = _thresholds(l.dtype)
  near1 = (jnp.abs(alpha - 1.0) < window) & (jnp.abs((alpha - 1.0) * l) < taylor)
  near0 = (jnp.abs(alpha) < window) & (jnp.abs(alpha * l) < taylor)
  # Each branch sees l only where it is selected (0 elsewhere), so an
  # unselected branch cannot overflow and poison the gradient (inf * 0).
  general = _alpha_general(jnp.where(near1 | near0, 0.0, l), jnp.where(near1 | near0, 0.5, alpha))
  lim1 = _alpha_near1(jnp.where(near1, l, 0.0), alpha)
  lim0 = _alpha_near0(jnp.where(near0, l, 0.0), alpha)
  return jnp.where(near1, lim1, jnp.where(near0, lim0, general))


def _alpha_conjugate(t, alpha):
  r"""f*(t) = (max(0, 1 + (a - 1) t)^(a / (a - 1)) - 1) / a."""
  t, alpha = jnp.broadcast_arrays(t, jnp.asarray(alpha, t.dtype))
  b = 1.0 + (alpha - 1.0) * t
  inside = b > 0
  t_safe = jnp.where(inside, t, 0.0)
  log_b_over = fmath.log1p_over(t_safe, alpha - 1.0)  # log(b) / (a - 1)
  value = fmath.expm1_over(log_b_over, alpha)
  # b <= 0: sup attained at u = 0 (value -1/a) when a > 1, +inf when a < 1.
  a_safe = jnp.where(jnp.abs(alpha) < _ALPHA_EPS, 1.0, alpha)
  boundary = jnp.where(alpha > 1.0, -1.0 / a_safe, _INF)
  return jnp.where(inside, value, boundary)


def _alpha(alpha: ArrayLike) -> Divergence:
  r"""Amari alpha family (the order ``alpha`` is required: a scalar, possibly traced).

  :math:`f_\alpha(u) = \frac{u^\alpha - 1 - \alpha(u - 1)}{\alpha(\alpha - 1)}`.

  Defined for every real order; :math:`\alpha \to 1` gives
  :math:`u\log u - u + 1` (KL), :math:`\alpha \to 0` gives
  :math:`-\log u + u - 1` (reverse KL): the linear terms integrate to zero
  under Q, so the divergences agree with ``kl`` / ``reverse_kl``. ``alpha = 2``
  is half the Pearson chi-squared, ``alpha = 1/2`` twice the squared Hellinger.

  The activation is the log-ratio parameterisation
  :math:`g(v) = f'(e^v) = \mathrm{expm1}((\alpha-1)v)/(\alpha-1)`, so the
  optimal critic is ``v = log(p / q)`` and
  :math:`f^*(g(v)) = \mathrm{expm1}(\alpha v)/\alpha`. :math:`h = r^\alpha`.
  """
  alpha = _param("alpha", alpha)
  return Divergence(
    name="alpha",
    params={"alpha": alpha},
    _f=_alpha_f,
    _conjugate=_alpha_conjugate,
    _activation=_alpha_activation,
    _conjugate_of_activation=_alpha_conjugate_of_activation,
    _f_prime_at_one=_zero,
    _weight=_alpha_weight,
    _f_prime=_alpha_activation,
    _reversed=_alpha_reversed,
    _alpha_order=_alpha_order,
  )


# Module-level (not lambdas): they are pytree metadata, so they must be the
# same objects for every alpha, or jit would retrace for each new record.
def _alpha_activation(v, alpha):
  return fmath.expm1_over(v, alpha - 1.0)


def _alpha_conjugate_of_activation(v, alpha):
  return fmath.expm1_over(v, alpha)


def _alpha_weight(l, alpha):
  return jnp.exp(alpha * l)


def _alpha_reversed(alpha):
  return _alpha(1.0 - alpha)


def _alpha_order(alpha):
  return alpha


def _param(name: str, value: ArrayLike) -> jax.Array:
  """A family parameter as a float scalar; concrete non-finite values and arrays raise
  (several orders are a ``jax.vmap`` over the order, not an array that would pair each
  sample with one order)."""
  arr = jnp.asarray(value)
  if arr.ndim != 0:
    raise ValueError(
      f"{name} must be a scalar, got shape {arr.shape}; for several values use jax.vmap over {name}"
    )
  if not (jnp.issubdtype(arr.dtype, jnp.number) or jnp.issubdtype(arr.dtype, jnp.bool_)):
    raise TypeError(f"{name} must be a real number, got dtype {arr.dtype}")
  arr = arr.astype(_checks.float_dtype(arr))
  if not jnp.issubdtype(arr.dtype, jnp.floating):
    raise TypeError(f"{name} must be a real number, got dtype {arr.dtype}")
  if not isinstance(arr, jax.core.Tracer):
    if not np.all(np.isfinite(np.asarray(arr))):  # numpy: jnp ops stage under jit
      raise ValueError(f"{name} must be finite, got {value!r}")
  return arr
