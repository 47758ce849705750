"""The registry's built-in entries other than the alpha family; each generator is written
in a form that is stable in :math:`\\log u` (comments give the textbook form)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from fdiv_jax import math as fmath
from fdiv_jax.divergences._record import (
  _INF,
  _LARGE_L,
  _LOG2,
  Divergence,
  _exp_form_above,
  _exp_of,
  _where_domain,
  _with_limit_at_zero,
  _zero,
)


@functools.cache
def _kl() -> Divergence:
  """KL(P||Q): f = u log u, f* = exp(t - 1), g = v, h = r."""
  return Divergence(
    name="kl",
    params={},
    _f=_with_limit_at_zero(
      _exp_form_above(_LARGE_L, lambda l: jnp.exp(l) * l, lambda l: l + jnp.log(l)), 0.0
    ),
    _conjugate=lambda t: jnp.exp(t - 1.0),
    _activation=lambda v: v,
    _conjugate_of_activation=lambda v: jnp.exp(v - 1.0),
    _f_prime_at_one=lambda: 1.0,
    _weight=jnp.exp,
    _f_prime=lambda l: l + 1.0,
    _reversed=lambda: _reverse_kl(),
    _alpha_order=lambda: 1.0,
  )


@functools.cache
def _reverse_kl() -> Divergence:
  """KL(Q||P): f = -log u, f* = -1 - log(-t) (t < 0), g = -exp(-v), h = 1."""

  def conjugate(t):
    neg = t < 0
    return _where_domain(neg, jnp.where(neg, t, -1.0), lambda s: -1.0 - jnp.log(-s))

  return Divergence(
    name="reverse_kl",
    params={},
    _f=lambda l: -l,
    _conjugate=conjugate,
    _activation=lambda v: -jnp.exp(-v),
    _conjugate_of_activation=lambda v: v - 1.0,
    _f_prime_at_one=lambda: -1.0,
    _weight=jnp.ones_like,
    _f_prime=lambda l: -jnp.exp(-l),
    _reversed=lambda: _kl(),
    _alpha_order=lambda: 0.0,
    scale_free_gradient=True,
  )


@functools.cache
def _js() -> Divergence:
  r"""Jensen-Shannon, f = u log u - (1 + u) log((1 + u) / 2).

  With this generator :math:`D_f = 2\,\mathrm{JSD}` where JSD is the Jensen-
  Shannon divergence with natural logs, so :math:`0 \le D_f \le 2 \log 2`
  (the f-GAN convention). Stable form:
  :math:`f = u(\log 2 - \mathrm{sp}(-l)) + \log 2 - \mathrm{sp}(l)`.
  """

  def conjugate(t):
    ok = t < _LOG2
    return _where_domain(ok, jnp.where(ok, t, 0.0), lambda s: -jnp.log(2.0 - jnp.exp(s)))

  return Divergence(
    name="js",
    params={},
    _f=_with_limit_at_zero(
      _exp_form_above(
        _LARGE_L,
        lambda l: jnp.exp(l) * (_LOG2 - jax.nn.softplus(-l)) + _LOG2 - jax.nn.softplus(l),
        lambda l: l + jnp.log(_LOG2 - jax.nn.softplus(-l)),
        plus=lambda l: _LOG2 - jax.nn.softplus(l),
      ),
      _LOG2,
    ),
    _conjugate=conjugate,
    _activation=lambda v: _LOG2 - jax.nn.softplus(-v),
    _conjugate_of_activation=lambda v: jax.nn.softplus(v) - _LOG2,
    _f_prime_at_one=_zero,
    _weight=jax.nn.sigmoid,
    _f_prime=lambda l: _LOG2 - jax.nn.softplus(-l),
    _reversed=lambda: _js(),
  )


def _gan_f(l):
  # -e^l sp(-l) - sp(l); for l > 0, e^l sp(-l) = log1p(x) / x with x = e^-l
  # (e^l overflows from l = 89 while sp(-l) underflows: 0 * inf).
  pos = l > 0
  x = jnp.exp(-jnp.where(pos, l, 1.0))
  hi = fmath.log1p_over(jnp.ones_like(x), x)
  lo = jnp.exp(jnp.where(pos, 0.0, l)) * jax.nn.softplus(-jnp.where(pos, 0.0, l))
  return -jnp.where(pos, hi, lo) - jax.nn.softplus(l)


@functools.cache
def _gan() -> Divergence:
  r"""Original GAN, f = u log u - (1 + u) log(1 + u), with f(1) = -log 4.

  :math:`D_f = 2\,\mathrm{JSD} - \log 4`; the critic is the log-odds of a
  discriminator, :math:`g_f(v) = \log\sigma(v)`.
  """

  def conjugate(t):
    ok = t < 0
    return _where_domain(ok, jnp.where(ok, t, -1.0), lambda s: -jnp.log(-jnp.expm1(s)))

  return Divergence(
    name="gan",
    params={},
    _f=_with_limit_at_zero(_gan_f, 0.0),
    _conjugate=conjugate,
    _activation=jax.nn.log_sigmoid,
    _conjugate_of_activation=jax.nn.softplus,
    _f_prime_at_one=lambda: -_LOG2,
    _weight=jax.nn.sigmoid,
    _f_prime=jax.nn.log_sigmoid,
    _reversed=lambda: _gan(),
  )


@functools.cache
def _squared_hellinger() -> Divergence:
  r"""Squared Hellinger, f = (sqrt(u) - 1)^2, i.e. :math:`\int(\sqrt p-\sqrt q)^2`.

  No factor 1/2: :math:`0 \le D_f \le 2`. :math:`h = \sqrt{r}/2`.
  """

  def conjugate(t):
    ok = t < 1
    return _where_domain(ok, jnp.where(ok, t, 0.0), lambda s: s / (1.0 - s))

  return Divergence(
    name="squared_hellinger",
    params={},
    _f=lambda l: jnp.square(jnp.expm1(0.5 * l)),
    _conjugate=conjugate,
    _activation=lambda v: -jnp.expm1(-v),
    _conjugate_of_activation=jnp.expm1,
    _f_prime_at_one=_zero,
    _weight=lambda l: 0.5 * jnp.exp(0.5 * l),
    _f_prime=lambda l: -jnp.expm1(-0.5 * l),
    _reversed=lambda: _squared_hellinger(),
  )


@functools.cache
def _pearson() -> Divergence:
  r"""Pearson chi-squared, f = (u - 1)^2, :math:`h = 2 r^2`."""
  return Divergence(
    name="pearson",
    params={},
    _f=lambda l: jnp.square(jnp.expm1(l)),
    _conjugate=lambda t: 0.25 * t * t + t,
    _activation=lambda v: v,
    _conjugate_of_activation=lambda v: 0.25 * v * v + v,
    _f_prime_at_one=_zero,
    _weight=lambda l: 2.0 * jnp.exp(2.0 * l),
    _f_prime=lambda l: 2.0 * jnp.expm1(l),
    _reversed=lambda: _neyman(),
  )


@functools.cache
def _neyman() -> Divergence:
  r"""Neyman chi-squared, f = (1 - u)^2 / u = 4 sinh^2(log(u) / 2), :math:`h = 2/r`."""

  def conjugate(t):
    ok = t < 1
    return _where_domain(ok, jnp.where(ok, t, 0.0), lambda s: 2.0 - 2.0 * jnp.sqrt(1.0 - s))

  return Divergence(
    name="neyman",
    params={},
    _f=lambda l: 4.0 * jnp.square(jnp.sinh(0.5 * l)),
    _conjugate=conjugate,
    _activation=lambda v: -jnp.expm1(-v),
    _conjugate_of_activation=lambda v: -2.0 * jnp.expm1(-0.5 * v),
    _f_prime_at_one=_zero,
    _weight=lambda l: 2.0 * jnp.exp(-l),
    _f_prime=lambda l: -jnp.expm1(-2.0 * l),
    _reversed=lambda: _pearson(),
  )


@functools.cache
def _total_variation() -> Divergence:
  r"""Total variation, f = |u - 1| / 2, i.e. :math:`\tfrac12\int|p - q| \in [0, 1]`."""

  def conjugate(t):
    ok = jnp.abs(t) <= 0.5
    return _where_domain(ok, jnp.where(ok, t, 0.0), lambda s: s)

  return Divergence(
    name="total_variation",
    params={},
    _f=lambda l: 0.5 * jnp.abs(jnp.expm1(l)),
    _conjugate=conjugate,
    _activation=lambda v: 0.5 * jnp.tanh(v),
    _conjugate_of_activation=lambda v: 0.5 * jnp.tanh(v),
    _f_prime_at_one=_zero,
    _weight=None,
    no_weight_reason="f = |u - 1| / 2 has f'' equal to a Dirac mass at r = 1",
    _f_prime=lambda l: 0.5 * jnp.sign(l),
    no_inverse_reason="f'(u) = sign(u - 1) / 2 is constant on each side of u = 1",
    _reversed=lambda: _total_variation(),
  )


# exp(W(e^s) - s) = 1 / W(e^s), with its derivative formed in the primal.
_exp_w_minus_s = _exp_of(lambda s: fmath.lambertw_exp(s) - s)


@functools.cache
def _jeffreys() -> Divergence:
  r"""Jeffreys, f = (u - 1) log u = KL(P||Q) + KL(Q||P), :math:`h = 1 + r`.

  :math:`f^*(t) = W(e^{1-t}) + 1/W(e^{1-t}) + t - 2` with the Lambert W,
  evaluated as ``w + exp(w - s) + t - 2`` with ``s = 1 - t`` (since
  :math:`\log W(e^s) = s - W(e^s)`), finite for large negative ``t``.
  """

  def conjugate(t):
    s = 1.0 - t
    return fmath.lambertw_exp(s) + _exp_w_minus_s(s) + t - 2.0

  return Divergence(
    name="jeffreys",
    params={},
    _f=_with_limit_at_zero(lambda l: jnp.expm1(l) * l, _INF),  # inf at u = 0
    _conjugate=conjugate,
    _activation=lambda v: v,
    _conjugate_of_activation=conjugate,
    _f_prime_at_one=_zero,
    _weight=lambda l: 1.0 + jnp.exp(l),
    _f_prime=lambda l: l - jnp.expm1(-l),
    _reversed=lambda: _jeffreys(),
  )


@functools.cache
def _triangular() -> Divergence:
  r"""Triangular discrimination, f = (u - 1)^2 / (u + 1) = expm1(l) tanh(l / 2).

  :math:`0 \le D_f \le 2`. :math:`f^*(t) = 4 - t - 4\sqrt{1 - t}` on
  :math:`[-3, 1)`, :math:`-1` below, :math:`+\infty` at or above 1; the
  activation :math:`g_f(v) = 1 - 4\sigma(-v)` maps onto :math:`(-3, 1)` and
  :math:`f^*(g_f(v)) = 4\,\mathrm{expm1}(\tfrac12\log\sigma(-v))^2 - 1`.
  :math:`h = 8 r^2 / (1 + r)^3`.
  """

  def conjugate(t):
    ok = t < 1
    s = jnp.where(ok, t, 0.0)
    inside = jnp.where(s >= -3.0, 4.0 - s - 4.0 * jnp.sqrt(1.0 - s), -1.0)
    return jnp.where(ok, inside, _INF)

  return Divergence(
    name="triangular",
    params={},
    _f=_exp_form_above(
      _LARGE_L,
      lambda l: jnp.expm1(l) * jnp.tanh(0.5 * l),
      lambda l: l + 2.0 * jnp.log(-jnp.expm1(-l)) - jax.nn.softplus(-l),
    ),
    _conjugate=conjugate,
    _activation=lambda v: 1.0 - 4.0 * jax.nn.sigmoid(-v),
    _conjugate_of_activation=lambda v: (
      4.0 * jnp.square(jnp.expm1(0.5 * jax.nn.log_sigmoid(-v))) - 1.0
    ),
    _f_prime_at_one=_zero,
    _weight=lambda l: 8.0 * jnp.exp(2.0 * jax.nn.log_sigmoid(l) + jax.nn.log_sigmoid(-l)),
    _f_prime=lambda l: 1.0 - 4.0 * jnp.exp(2.0 * jax.nn.log_sigmoid(-l)),
    _reversed=lambda: _triangular(),
  )
