r"""The f-divergence registry.

Convention used throughout fdiv_jax:

.. math::
  D_f(P \,\|\, Q) = \mathbb{E}_{x \sim Q}\big[f(u(x))\big], \qquad
  u = \frac{p}{q}, \quad f \text{ convex}, \quad f(1) = 0,

so ``"kl"`` is :math:`\mathrm{KL}(P\|Q)` (:math:`f = u \log u`) and
``"reverse_kl"`` is :math:`\mathrm{KL}(Q\|P)` (:math:`f = -\log u`). The ``"gan"``
entry keeps the conventional :math:`f(1) = -\log 4` of Goodfellow et al.

Every entry is a :class:`Divergence` record whose functions take **log** ratios
(``log_u``) or critic outputs and are evaluated in a numerically stable form.
The contract (float32, tested in ``tests/test_divergences.py``):

* ``f``, ``activation`` and ``conjugate_of_activation`` return no ``NaN``, in
  values or in gradients with respect to their input, for any finite input
  (out to +-3e38), with a concrete or a traced order; ``inf`` only where the
  true value overflows. Where a generator grows like :math:`e^{l} g(l)` it is
  evaluated as :math:`\exp(l + \log g(l))` with its derivative formed in the
  primal (:func:`_exp_of`), so e.g. ``alpha(3).f(30)`` (:math:`e^{90}/6`) and
  ``js.f(89)`` are finite and ``gan.f(89)`` is -90.
* For :math:`|\log u| \le 80` values and gradients match float64 textbook
  forms; ``log u = -inf`` (a sample outside ``P``'s support, a masked class)
  gives :math:`f(0^+)` with a zero gradient where that is finite.
* ``NaN`` in gives ``NaN`` out. Gradients with respect to a family parameter
  (``alpha``) are ``NaN``-free where the value is finite; ``conjugate`` (the raw
  Fenchel conjugate; training uses ``conjugate_of_activation``) keeps the
  :math:`|t| \le 80` contract.

Fields of a record (all pure, elementwise, jit/vmap/grad friendly):

* ``f(log_u)``: the generator :math:`f(u)`.
* ``conjugate(t)``: the Fenchel conjugate :math:`f^*(t) = \sup_u tu - f(u)`
  (``+inf`` outside its domain).
* ``activation(v)``: the f-GAN output map :math:`g_f` of a real critic output
  onto the domain of :math:`f^*` (Nowozin et al., 2016, Table 6).
* ``conjugate_of_activation(v)``: the fused, stable :math:`f^*(g_f(v))`.
* ``f_prime_at_one``: :math:`f'(1)`, the f-GAN decision threshold.
* ``f_prime(log_u)``: the derivative :math:`f'(u)` (f-DPO's implicit reward), with
  ``f_prime_invertible`` saying whether it determines ``u``.
* ``weight(log_r)``: the f-distill weight :math:`h(r) = r^2 f''(r)`
  (Xu et al., 2025).

Parametric families (``alpha``) store their parameter as an array in
``params``; the record is a pytree whose only leaves are those parameters, so
it can be built inside ``jit`` / ``vmap`` from traced values and passed through
transformations without recompiling when the parameter changes.

References:
  Nowozin, Cseke, Tomioka. f-GAN: Training Generative Neural Samplers using
  Variational Divergence Minimization. NeurIPS 2016.
  Amari. Alpha-divergence is unique, belonging to both f-divergence and
  Bregman divergence classes. IEEE Trans. Inf. Theory 2009.
  Xu et al. One-step Diffusion Models with f-Divergence Distribution Matching.
  2025.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from fdiv_jax import _checks
from fdiv_jax import math as fmath

__all__ = [
  "Divergence",
  "available",
  "from_generator",
  "get",
  "resolve",
]

_LOG2 = math.log(2.0)
_INF = float("inf")


@dataclasses.dataclass(frozen=True, eq=False)
class Divergence:
  r"""An immutable f-divergence record (a pytree whose leaves are ``params``).

  Build one with :func:`get` or :func:`from_generator`; see the module
  docstring for the meaning of each method.

  Attributes:
    name: Registry name, e.g. ``"js"``.
    params: Parameters of a family, e.g. ``{"alpha": Array(0.5)}``.
    scale_free_gradient: Whether :math:`f(u/Z) - f(u)` is constant in ``u`` for every
      :math:`Z > 0` (only :math:`f = -c\log u`), so that an unknown normaliser of ``p``
      moves the value and not the gradient (see :attr:`gradient_needs_normalizer`).
  """

  name: str
  params: Mapping[str, jax.Array]
  _f: Callable[..., jax.Array]
  _conjugate: Callable[..., jax.Array]
  _activation: Callable[..., jax.Array]
  _conjugate_of_activation: Callable[..., jax.Array]
  _f_prime_at_one: Callable[..., jax.Array]
  _weight: Callable[..., jax.Array] | None
  no_weight_reason: str = ""
  _reversed: Callable[..., Divergence] | None = None
  _f_prime: Callable[..., jax.Array] | None = None
  no_inverse_reason: str = ""
  _alpha_order: Callable[..., jax.Array] | None = None
  scale_free_gradient: bool = False

  def f(self, log_u: ArrayLike) -> jax.Array:
    """Generator :math:`f(u)` evaluated at ``u = exp(log_u)``; shape of ``log_u``."""
    return self._f(_as_float(log_u), **self.params)

  def conjugate(self, t: ArrayLike) -> jax.Array:
    """Fenchel conjugate :math:`f^*(t)`; ``+inf`` outside ``dom f*``."""
    return self._conjugate(_as_float(t), **self.params)

  def activation(self, v: ArrayLike) -> jax.Array:
    """f-GAN output activation :math:`g_f(v)`, mapping reals into ``dom f*``."""
    return self._activation(_as_float(v), **self.params)

  def conjugate_of_activation(self, v: ArrayLike) -> jax.Array:
    """Fused, stable :math:`f^*(g_f(v))`."""
    return self._conjugate_of_activation(_as_float(v), **self.params)

  def f_prime(self, log_u: ArrayLike) -> jax.Array:
    r"""Derivative :math:`f'(u)` at ``u = exp(log_u)``, in a stable form (``kl``:
    :math:`\log u + 1`; ``reverse_kl``: :math:`-e^{-\log u}`); shape of ``log_u``.

    f-DPO's implicit reward is :math:`\beta f'(\pi/\pi_{ref})`
    (:func:`fdiv_jax.preference.implicit_reward`).
    """
    log_u = _as_float(log_u)
    if self._f_prime is None:  # from_generator: phi'(l) e^{-l}
      return _elementwise_derivatives(self._f, log_u)[0] * jnp.exp(-log_u)
    return self._f_prime(log_u, **self.params)

  @property
  def f_prime_invertible(self) -> bool:
    """Whether :math:`f'` is strictly increasing (``f`` strictly convex), so that
    :math:`f'(u)` determines ``u`` (what f-DPO needs). False for total variation."""
    return not self.no_inverse_reason

  @property
  def f_prime_at_one(self) -> jax.Array:
    """:math:`f'(1)`, the f-GAN threshold (critic value at ``p = q``)."""
    value = self._f_prime_at_one(**self.params)
    return jnp.asarray(value, dtype=_checks.float_dtype(value))

  @property
  def gradient_needs_normalizer(self) -> bool:
    r"""Whether the gradient of :math:`\mathbb E_q[f(p/q)]` in ``q``'s parameters needs the
    normaliser of an unnormalised ``p`` (then estimate it self-normalised,
    :func:`fdiv_jax.f_divergence` with ``self_normalize=True``). False only for
    ``reverse_kl``, :math:`f(u) = -\log u`: an unknown :math:`Z` adds :math:`\log Z` to
    the value and nothing to the gradient (the ELBO's); read from
    :attr:`scale_free_gradient`."""
    return not self.scale_free_gradient

  @property
  def alpha_order(self) -> jax.Array | None:
    r"""The order :math:`\alpha` if this is an Amari alpha-divergence (``alpha``: its
    parameter; ``kl``: 1; ``reverse_kl``: 0), else None (FAB's AIS target needs it)."""
    if self._alpha_order is None:
      return None
    value = self._alpha_order(**self.params)
    return jnp.asarray(value, _checks.float_dtype(value))

  @property
  def has_weight(self) -> bool:
    """Whether :meth:`weight` is defined (``f`` twice differentiable)."""
    return self._weight is not None

  def weight(self, log_r: ArrayLike) -> jax.Array:
    r"""f-distill weight :math:`h(r) = r^2 f''(r)` at ``r = exp(log_r)``.

    Raises:
      ValueError: if the entry has no weight (e.g. total variation, whose
        :math:`f''` is a Dirac mass at ``r = 1``).
    """
    if self._weight is None:
      raise ValueError(
        f"divergence {self.name!r} has no f-distill weight h(r) = r^2 f''(r)"
        f": {self.no_weight_reason}"
      )
    return self._weight(_as_float(log_r), **self.params)

  def reversed(self) -> Divergence:
    r"""The entry of the swapped divergence :math:`D(Q\|P) = \mathbb{E}_P[f(q/p)]`.

    Its generator is the Csiszar dual :math:`f^\diamond(u) = u f(1/u)`, so
    :math:`q f(p/q) = p f^\diamond(q/p)`: ``kl`` <-> ``reverse_kl``,
    ``pearson`` <-> ``neyman``, ``alpha(a)`` <-> ``alpha(1 - a)``; ``js``,
    ``gan``, ``squared_hellinger``, ``total_variation``, ``jeffreys`` and
    ``triangular`` are their own duals. Other entries get
    :func:`from_generator` of :math:`e^l f(-l)`.
    """
    if self._reversed is not None:
      return self._reversed(**self.params)
    f = self.f
    return from_generator(lambda l: jnp.exp(l) * f(-l), name=f"reversed({self.name})")

  def __repr__(self) -> str:
    if not self.params:
      return f"Divergence({self.name!r})"
    return f"Divergence({self.name!r}, {dict(self.params)!r})"


jax.tree_util.register_dataclass(
  Divergence,
  data_fields=["params"],
  meta_fields=[
    "name",
    "_f",
    "_conjugate",
    "_activation",
    "_conjugate_of_activation",
    "_f_prime_at_one",
    "_weight",
    "no_weight_reason",
    "_reversed",
    "_f_prime",
    "no_inverse_reason",
    "_alpha_order",
    "scale_free_gradient",
  ],
)


def _as_float(x: ArrayLike) -> jax.Array:
  x = jnp.asarray(x)
  return x.astype(_checks.float_dtype(x))


def _where_domain(
  in_domain: jax.Array,
  safe_input: jax.Array,
  fn: Callable[[jax.Array], jax.Array],
  outside: float = _INF,
) -> jax.Array:
  """Double-where: ``fn(x)`` inside the domain, ``outside`` elsewhere, no NaN."""
  value = fn(safe_input)
  return jnp.where(in_domain, value, jnp.asarray(outside, value.dtype))


def _zero(**_) -> float:
  return 0.0


# Above this log u the generators of the form e^l g(l) are evaluated as
# exp(l + log g(l)): the value overflows only where the true value does, and
# the gradient f (1 + g'/g) has no inf * 0 (the NaN of autodiff through e^l g).
_LARGE_L = 2.0


def _exp_of(log_fn: Callable[..., jax.Array]) -> Callable[..., jax.Array]:
  """``exp(log_fn(*args))`` for an elementwise ``log_fn``, differentiated as one
  product ``exp(log_fn) * d log_fn``.

  Plain autodiff of ``exp(l + log g(l))`` sends the cotangent ``exp(...)`` into
  ``log g`` as ``exp(...) / g``, which overflows before the value does (and then
  meets a zero: NaN); here each partial derivative is formed in the primal, so
  the gradient is inf only where the true one overflows.
  """

  @jax.custom_jvp
  def exp_of(*args):
    return jnp.exp(log_fn(*args))

  @exp_of.defjvp
  def _jvp(primals, tangents):
    args = jnp.broadcast_arrays(*primals)
    out = jnp.exp(log_fn(*args))
    t_out = jnp.zeros_like(out)
    for i, t in enumerate(tangents):
      unit = [jnp.ones_like(a) if j == i else jnp.zeros_like(a) for j, a in enumerate(args)]
      slope = jax.jvp(log_fn, tuple(args), tuple(unit))[1]  # forward mode: no 1/g * inf
      t_out = t_out + (out * slope) * t
    return out, t_out

  return exp_of


def _exp_form_above(
  threshold: float,
  small: Callable[[jax.Array], jax.Array],
  log_large: Callable[[jax.Array], jax.Array],
  plus: Callable[[jax.Array], jax.Array] | None = None,
) -> Callable[[jax.Array], jax.Array]:
  """``small(l)`` for ``l <= threshold``, ``exp(log_large(l)) + plus(l)`` above.

  A double-where: each branch sees only its own inputs, so neither the value
  nor the gradient of the unselected one can be NaN.
  """
  large = _exp_of(log_large)

  def f(l):
    big = l > threshold
    lo = small(jnp.where(big, 0.0, l))
    l_hi = jnp.where(big, l, 2.0 * threshold + 1.0)
    hi = large(l_hi)
    if plus is not None:
      hi = hi + plus(l_hi)
    return jnp.where(big, hi, lo)

  return f


def _with_limit_at_zero(
  fn: Callable[[jax.Array], jax.Array], limit: float
) -> Callable[[jax.Array], jax.Array]:
  """``fn(l)``, and its limit :math:`f(0^+)` at ``l = -inf`` (``u = 0``, legal: a
  sample outside ``P``'s support), where ``fn`` itself would give ``0 * inf``.

  A double-where: the value and the gradient (``u f'(u) -> 0``) are finite there.
  """

  def f(l):
    zero = l == -_INF
    value = fn(jnp.where(zero, 0.0, l))
    return jnp.where(zero, jnp.asarray(limit, value.dtype), value)

  return f


# ---------------------------------------------------------------------------
# Built-in entries. Each generator is written in a form that is stable in
# log u; comments give the textbook form.
# ---------------------------------------------------------------------------


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


# Orders closer than this to 0 or 1 use first-order expansions of the alpha
# generator where they are accurate: while |(alpha - alpha_0) log u| < _ALPHA_TAYLOR
# (relative truncation error below _ALPHA_TAYLOR^2 / 6 ~ 2e-5; the general
# formula's cancellation error is about 1e-7 / _ALPHA_TAYLOR there). Beyond
# that (e.g. alpha = 1e-5 at log u = -1e6, where f ~ 1 / alpha) the general
# formula is exact and the expansion is not.
_ALPHA_EPS = 1e-3
_ALPHA_TAYLOR = 1e-2


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
    if a == 1.0:
      return _alpha_one(l)
    if a == 0.0:
      return jnp.expm1(l) - l  # alpha = 0: u - 1 - log u
    if abs(a - 1.0) >= _ALPHA_EPS and abs(a) >= _ALPHA_EPS:
      return _alpha_general(l, jnp.asarray(a, l.dtype))
  # Near 0 or 1, or a traced order (vmap / grad over alpha): per element.
  l, alpha = jnp.broadcast_arrays(l, jnp.asarray(alpha, l.dtype))
  near1 = (jnp.abs(alpha - 1.0) < _ALPHA_EPS) & (jnp.abs((alpha - 1.0) * l) < _ALPHA_TAYLOR)
  near0 = (jnp.abs(alpha) < _ALPHA_EPS) & (jnp.abs(alpha * l) < _ALPHA_TAYLOR)
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


_REGISTRY: dict[str, Callable[..., Divergence]] = {
  "kl": _kl,
  "reverse_kl": _reverse_kl,
  "js": _js,
  "gan": _gan,
  "squared_hellinger": _squared_hellinger,
  "pearson": _pearson,
  "neyman": _neyman,
  "total_variation": _total_variation,
  "jeffreys": _jeffreys,
  "triangular": _triangular,
  "alpha": _alpha,
}


def available() -> tuple[str, ...]:
  """Names accepted by :func:`get`, sorted."""
  return tuple(sorted(_REGISTRY))


def get(name: str, **params: ArrayLike) -> Divergence:
  """Returns the registry entry ``name``, with family parameters as keywords.

  A family's parameter may also be given in a spec string, ``"alpha:2"`` (what
  the experiments' configs and command lines use).

  Example:
    >>> import fdiv_jax as fd
    >>> float(fd.divergences.get("kl").f(0.0))
    0.0
    >>> fd.divergences.get("alpha", alpha=0.5).name
    'alpha'
    >>> float(fd.divergences.get("alpha:2").params["alpha"])
    2.0

  Args:
    name: One of :func:`available`, or ``"<family>:<value>"``.
    **params: Family parameters (``alpha`` for ``"alpha"``); may be traced.

  Raises:
    ValueError: unknown ``name`` (the message lists the valid names), a family without
      its parameter (``"alpha"`` has no default order), a non-scalar parameter, or a spec
      string whose value is not a number or whose entry takes no parameter.
    TypeError: a parameter the entry does not take.
  """
  if isinstance(name, str) and ":" in name:
    return _from_spec(name, params)
  if not isinstance(name, str) or name not in _REGISTRY:
    raise ValueError(f"unknown divergence {name!r}; valid names: {', '.join(available())}")
  factory = _REGISTRY[name]
  required = [
    p.name
    for p in inspect.signature(factory).parameters.values()
    if p.default is inspect.Parameter.empty and p.name not in params
  ]
  if required:
    example = ", ".join(f"{r}=..." for r in required)
    raise ValueError(
      f"divergence {name!r} needs {', '.join(required)}: get({name!r}, {example}) or a spec "
      f"string such as {name + ':0.5'!r}"
    )
  try:
    return factory(**params)
  except TypeError as e:
    raise TypeError(
      f"divergence {name!r} got unexpected parameters {sorted(params)}: {e}"
    ) from None


def _from_spec(spec: str, params: dict) -> Divergence:
  """``get("alpha:2")``: a family name and its one parameter in a string."""
  base, _, arg = spec.partition(":")
  if base not in _REGISTRY:
    raise ValueError(
      f"divergence spec {spec!r}: unknown divergence {base!r}; valid "
      f"names: {', '.join(available())}"
    )
  if params:
    raise TypeError(
      f"divergence spec {spec!r} already gives the parameter; got also {sorted(params)}"
    )
  names = list(inspect.signature(_REGISTRY[base]).parameters)
  if len(names) != 1:
    raise ValueError(f"divergence spec {spec!r}: {base!r} takes no parameter")
  try:
    value = float(arg)
  except ValueError:
    raise ValueError(f"divergence spec {spec!r}: {arg!r} is not a number") from None
  return get(base, **{names[0]: value})


def resolve(divergence: str | Divergence, **params: ArrayLike) -> Divergence:
  """A :class:`Divergence` from a name (via :func:`get`) or a record itself."""
  if isinstance(divergence, Divergence):
    if params:
      raise TypeError(
        "parameters can only be given with a divergence name, "
        f"got a Divergence record and {sorted(params)}"
      )
    return divergence
  return get(divergence, **params)


# ---------------------------------------------------------------------------
# User-defined entries.
# ---------------------------------------------------------------------------


def _elementwise_derivatives(phi, l):
  """phi'(l), phi''(l) for an elementwise phi via nested JVPs."""
  ones = jnp.ones_like(l)
  d1 = lambda x: jax.jvp(phi, (x,), (ones,))[1]
  d1_val, d2_val = jax.jvp(d1, (l,), (ones,))
  return d1_val, d2_val


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
