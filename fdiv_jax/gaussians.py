r"""Closed-form divergences between Gaussians: ground truth for the estimators.

For :math:`P = N(\mu_p, \sigma_p^2)` and :math:`Q = N(\mu_q, \sigma_q^2)` (or diagonal
Gaussians, coordinate by coordinate; ``event_ndims=1`` sums the last axis):

.. math::
  \mathrm{KL}(P\|Q) = \log\frac{\sigma_q}{\sigma_p}
    + \frac{\sigma_p^2 + (\mu_p - \mu_q)^2}{2\sigma_q^2} - \frac12, \qquad
  D_\alpha^{\mathrm{R}}(P\|Q) = \frac{\alpha(\mu_p - \mu_q)^2}{2 s^2}
    - \frac{1}{2(\alpha - 1)}\log\frac{s^2}{\sigma_p^{2(1-\alpha)}\sigma_q^{2\alpha}},
  \quad s^2 = \alpha\sigma_q^2 + (1 - \alpha)\sigma_p^2,

the Rényi divergence being :math:`+\infty` where :math:`s^2 \le 0`. The f-divergences
with a closed form follow from these: reverse KL and Jeffreys from KL, the Amari
:math:`\alpha`-divergence
:math:`\mathrm{expm1}((\alpha-1)D^{\mathrm R}_\alpha)/(\alpha(\alpha-1))`, squared Hellinger
:math:`2 - 2e^{-D^{\mathrm R}_{1/2}/2}`, Pearson :math:`\mathrm{expm1}(D^{\mathrm R}_2(P\|Q))`
and Neyman :math:`\mathrm{expm1}(D^{\mathrm R}_2(Q\|P))`.

All functions are differentiable ``jnp`` and broadcast their arguments.

References:
  Gil, Alajaji, Linder. Rényi divergence measures for commonly used univariate
  continuous distributions. Information Sciences, 2013.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from fdiv_jax import math as fmath

__all__ = ["CLOSED_FORMS", "f_divergence", "kl", "log_prob", "renyi"]

CLOSED_FORMS = ("kl", "reverse_kl", "jeffreys", "squared_hellinger", "pearson", "neyman", "alpha")


def _sum(x: jax.Array, event_ndims: int) -> jax.Array:
  if event_ndims not in (0, 1):
    raise ValueError(f"event_ndims must be 0 or 1, got {event_ndims!r}")
  return x.sum(-1) if event_ndims else x


def kl(
  mean_p: ArrayLike, scale_p: ArrayLike, mean_q: ArrayLike, scale_q: ArrayLike, *, event_ndims=0
) -> jax.Array:
  r"""KL(P‖Q) between (diagonal) Gaussians given means and standard deviations.

  .. math::
    \mathrm{KL}(P\|Q) = \log\frac{\sigma_q}{\sigma_p}
      + \frac{\sigma_p^2 + (\mu_p - \mu_q)^2}{2\sigma_q^2} - \frac12,

  per coordinate. The arguments broadcast against each other.

  Args:
    mean_p: Mean :math:`\mu_p` of P.
    scale_p: Standard deviation :math:`\sigma_p` of P, > 0.
    mean_q: Mean :math:`\mu_q` of Q.
    scale_q: Standard deviation :math:`\sigma_q` of Q, > 0.
    event_ndims: 0 (univariate, elementwise) or 1 (diagonal Gaussians: the last axis is
      summed).

  Returns:
    The broadcast shape of the arguments, less the last axis when ``event_ndims=1``.
  """
  mp, sp, mq, sq = (jnp.asarray(a) for a in (mean_p, scale_p, mean_q, scale_q))
  per_dim = jnp.log(sq / sp) + (sp**2 + (mp - mq) ** 2) / (2 * sq**2) - 0.5
  return _sum(per_dim, event_ndims)


def _half_log_chernoff(
  a: jax.Array, mp: jax.Array, sp: jax.Array, mq: jax.Array, sq: jax.Array
) -> jax.Array:
  r"""Per coordinate :math:`k_\alpha = \log\int p^\alpha q^{1-\alpha} / (\alpha(\alpha-1))`,
  smooth in :math:`\alpha` (it is :math:`\mathrm{KL}(P\|Q)` at 1 and
  :math:`\mathrm{KL}(Q\|P)` at 0), +inf where :math:`s^2 \le 0`.

  With :math:`s^2 = \sigma_p^2 (1 + \alpha t)`, :math:`t = \sigma_q^2/\sigma_p^2 - 1`:
  :math:`k_\alpha = \frac{\Delta\mu^2}{2 s^2} +
  \frac{\log(1+t) - \log(1+\alpha t)/\alpha}{2(\alpha - 1)}`, written for
  :math:`\alpha < 1/2` and, with the roles of P and Q and of :math:`\alpha` and
  :math:`1-\alpha` exchanged, for :math:`\alpha \ge 1/2`, so neither form divides by a
  vanishing :math:`\alpha - 1`."""
  low = a < 0.5
  b = jnp.where(low, a, 1 - a)  # the order of the form used, in (-inf, 1/2]
  s_from, s_to = jnp.where(low, sp, sq), jnp.where(low, sq, sp)
  t = (s_to / s_from) ** 2 - 1
  one_plus = 1 + b * t  # s^2 / s_from^2
  ok = one_plus > 0
  t_ok = jnp.where(ok, t, 0.0)  # double-where: no NaN gradient from the masked entries
  h = 0.5 * (jnp.log1p(t_ok) - fmath.log1p_over(t_ok, b)) / (b - 1)
  s2 = jnp.where(ok, s_from**2 * one_plus, 1.0)
  per_dim = (mp - mq) ** 2 / (2 * s2) + h
  return jnp.where(ok, per_dim, jnp.inf)


def renyi(
  alpha: ArrayLike,
  mean_p: ArrayLike,
  scale_p: ArrayLike,
  mean_q: ArrayLike,
  scale_q: ArrayLike,
  *,
  event_ndims: int = 0,
) -> jax.Array:
  r"""Rényi divergence of order ``alpha`` between (diagonal) Gaussians.

  .. math::
    D_\alpha^{\mathrm{R}}(P\|Q) = \frac{\alpha(\mu_p - \mu_q)^2}{2 s^2}
      - \frac{1}{2(\alpha - 1)}\log\frac{s^2}{\sigma_p^{2(1-\alpha)}\sigma_q^{2\alpha}},
    \quad s^2 = \alpha\sigma_q^2 + (1 - \alpha)\sigma_p^2,

  per coordinate, continuous in ``alpha`` (KL(P‖Q) at 1, 0 at 0); +inf where
  :math:`s^2 \le 0`. The arguments broadcast against each other.

  Args:
    alpha: The order :math:`\alpha`, scalar or broadcasting with the other arguments.
    mean_p: Mean :math:`\mu_p` of P.
    scale_p: Standard deviation :math:`\sigma_p` of P, > 0.
    mean_q: Mean :math:`\mu_q` of Q.
    scale_q: Standard deviation :math:`\sigma_q` of Q, > 0.
    event_ndims: 0 (univariate, elementwise) or 1 (diagonal Gaussians: the last axis is
      summed).

  Returns:
    The broadcast shape of the arguments, less the last axis when ``event_ndims=1``.

  References:
    Gil, Alajaji, Linder. Rényi divergence measures for commonly used univariate
    continuous distributions. Information Sciences, 2013.
  """
  a, mp, sp, mq, sq = _arrays(alpha, mean_p, scale_p, mean_q, scale_q)
  return _sum(a * _half_log_chernoff(a, mp, sp, mq, sq), event_ndims)


def _alpha(a, mp, sp, mq, sq, event_ndims):
  """Amari's alpha-divergence expm1(a (a - 1) K) / (a (a - 1)), K the summed k_alpha."""
  k = _sum(_half_log_chernoff(a, mp, sp, mq, sq), event_ndims)
  a = jnp.broadcast_to(a, k.shape) if event_ndims == 0 else a
  finite = jnp.isfinite(k)
  value = fmath.expm1_over(jnp.where(finite, k, 0.0), a * (a - 1))
  return jnp.where(finite, value, k)


def _arrays(*values):
  arrays = [jnp.asarray(v) for v in values]
  dtype = jnp.result_type(*[x.dtype for x in arrays], float)
  return [x.astype(dtype) for x in arrays]


def f_divergence(
  name: str,
  mean_p: ArrayLike,
  scale_p: ArrayLike,
  mean_q: ArrayLike,
  scale_q: ArrayLike,
  *,
  alpha: ArrayLike | None = None,
  event_ndims: int = 0,
) -> jax.Array:
  r"""D_f(P‖Q) in closed form for the registry entries in :data:`CLOSED_FORMS`.

  From :func:`kl` and :func:`renyi` (:math:`D^{\mathrm R}_\alpha`): ``"kl"`` is
  :math:`\mathrm{KL}(P\|Q)`, ``"reverse_kl"`` :math:`\mathrm{KL}(Q\|P)`, ``"jeffreys"``
  their sum, ``"squared_hellinger"`` :math:`2 - 2e^{-D^{\mathrm R}_{1/2}(P\|Q)/2}`,
  ``"pearson"`` :math:`\mathrm{expm1}(D^{\mathrm R}_2(P\|Q))`, ``"neyman"``
  :math:`\mathrm{expm1}(D^{\mathrm R}_2(Q\|P))` and ``"alpha"`` (Amari)
  :math:`\mathrm{expm1}((\alpha-1)D^{\mathrm R}_\alpha(P\|Q))/(\alpha(\alpha-1))`.
  The arguments broadcast against each other.

  Args:
    name: A registry name in :data:`CLOSED_FORMS` (``"alpha"`` needs ``alpha``).
    mean_p: Mean :math:`\mu_p` of P.
    scale_p: Standard deviation :math:`\sigma_p` of P, > 0.
    mean_q: Mean :math:`\mu_q` of Q.
    scale_q: Standard deviation :math:`\sigma_q` of Q, > 0.
    alpha: The order :math:`\alpha` of the ``"alpha"`` entry (None for the other entries).
    event_ndims: 0 (univariate, elementwise) or 1 (diagonal Gaussians: the last axis is
      summed).

  Returns:
    The broadcast shape of the arguments, less the last axis when ``event_ndims=1``.

  Raises:
    ValueError: ``name`` has no closed form here, or ``"alpha"`` without ``alpha``.
  """
  if name not in _CLOSED:
    raise ValueError(f"name must be one of {', '.join(CLOSED_FORMS)}, got {name!r}")
  ordered = name in _ORDERED
  if ordered and alpha is None:
    raise ValueError(f"alpha: the {name!r} entry needs its order, got None")
  if not ordered and alpha is not None:
    raise ValueError(f"alpha is the order of the {_ORDERED} entries only, got alpha for {name!r}")
  p, q = (mean_p, scale_p), (mean_q, scale_q)
  return _CLOSED[name](p, q, alpha, event_ndims)


def _alpha_closed(p, q, alpha, event_ndims):
  a, mp, sp, mq, sq = _arrays(alpha, *p, *q)
  return _alpha(a, mp, sp, mq, sq, event_ndims)


_ORDERED = ("alpha",)  # entries that take the order ``alpha``
_CLOSED = {
  "kl": lambda p, q, _, e: kl(*p, *q, event_ndims=e),
  "reverse_kl": lambda p, q, _, e: kl(*q, *p, event_ndims=e),
  "jeffreys": lambda p, q, _, e: kl(*p, *q, event_ndims=e) + kl(*q, *p, event_ndims=e),
  "squared_hellinger": lambda p, q, _, e: 2 - 2 * jnp.exp(-0.5 * renyi(0.5, *p, *q, event_ndims=e)),
  "pearson": lambda p, q, _, e: jnp.expm1(renyi(2.0, *p, *q, event_ndims=e)),
  "neyman": lambda p, q, _, e: jnp.expm1(renyi(2.0, *q, *p, event_ndims=e)),
  "alpha": _alpha_closed,
}


def log_prob(x: ArrayLike, mean: ArrayLike, scale: ArrayLike) -> jax.Array:
  r"""Gaussian log density :math:`\log N(x; \mu, \sigma^2)`, elementwise.

  .. math::
    \log N(x; \mu, \sigma^2) = -\frac{(x - \mu)^2}{2\sigma^2} - \log\sigma
      - \tfrac12\log 2\pi.

  Args:
    x: Points, broadcasting with ``mean`` and ``scale``.
    mean: Mean :math:`\mu`.
    scale: Standard deviation :math:`\sigma`, > 0.

  Returns:
    The broadcast shape of the arguments (no axis summed).
  """
  x, m, s = (jnp.asarray(v) for v in (x, mean, scale))
  return -0.5 * ((x - m) / s) ** 2 - jnp.log(s) - 0.5 * jnp.log(2 * jnp.pi)
