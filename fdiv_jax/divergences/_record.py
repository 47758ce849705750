"""The :class:`Divergence` record and the stable-evaluation helpers its entries share."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from fdiv_jax import _checks

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
    from fdiv_jax.divergences._generator import from_generator

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


def _elementwise_derivatives(phi, l):
  """phi'(l), phi''(l) for an elementwise phi via nested JVPs."""
  ones = jnp.ones_like(l)
  d1 = lambda x: jax.jvp(phi, (x,), (ones,))[1]
  d1_val, d2_val = jax.jvp(d1, (l,), (ones,))
  return d1_val, d2_val
