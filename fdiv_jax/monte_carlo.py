r"""Monte-Carlo f-divergences from log densities.

Given samples :math:`x_i \sim Q` (``i = 1..N``, on the sample axis ``axis`` of the
inputs, the last by default) and the log densities at those samples, estimate

.. math::
  D_f(P \,\|\, Q) = \mathbb{E}_Q[f(u)] \approx \frac1N \sum_i f(u_i),
  \qquad \log u_i = \log p(x_i) - \log q(x_i).

The other axes are batch axes (independent problems); every estimator reduces the sample
axis only. Samples from TFP or distrax come first (``q.sample(seed, n)`` is ``[n, ...]``,
so ``q.log_prob`` of them is ``[n, ...]``): pass ``axis=0`` for those.

Unnormalised targets (Boltzmann generators, :math:`p \propto e^{-U}`) are
handled by ``self_normalize=True``: the normaliser is estimated from the same
batch by importance sampling, :math:`\log\hat Z = \log\frac1N\sum_i u_i`, and
:math:`\log u_i - \log\hat Z` is used instead. :math:`\hat Z` is unbiased but
:math:`\log \hat Z` is biased low by about :math:`\mathrm{Var}[u]/(2N)`
(Jensen), so self-normalised estimates carry an :math:`O(1/N)` bias that
vanishes with batch size; it is large when the effective sample size is small.

References:
  Nowozin et al. f-GAN. NeurIPS 2016.
  Li & Turner. Renyi Divergence Variational Inference. NeurIPS 2016.
  Owen. Monte Carlo theory, methods and examples, ch. 9 (self-normalised IS).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from fdiv_jax import _checks
from fdiv_jax import math as fmath
from fdiv_jax.divergences import Divergence, resolve

__all__ = [
  "ImportanceWeights",
  "f_divergence",
  "importance_weights",
  "log_ratio",
  "renyi_divergence",
]

GRADIENT_ESTIMATORS = ("reparameterization", "score_function")

# |alpha - 1| below which the Renyi estimate uses its expansion at alpha = 1.
# In float32 the difference of two log-mean-exps carries ~1e-6 relative error,
# which 1 / (alpha - 1) amplifies; at 1e-2 both that error and the truncation
# error of the second-order expansion are ~1e-4.
_RENYI_TAYLOR = 1e-2


class ImportanceWeights(NamedTuple):
  r"""Importance weights :math:`w_i = p(x_i)/q(x_i)` of a batch ``x ~ Q``.

  Attributes:
    log_weights: Self-normalised log weights ``[..., N]``
      (:math:`\log w_i - \log\sum_j w_j`; they logsumexp to 0).
    log_normalizer: :math:`\log\hat Z = \log\frac1N\sum_i w_i`, ``[...]``.
    ess: Effective sample size :math:`(\sum w)^2/\sum w^2 \in [1, N]`, ``[...]``.
    ess_fraction: ``ess / N`` in ``(0, 1]``, ``[...]``.
  """

  log_weights: jax.Array
  log_normalizer: jax.Array
  ess: jax.Array
  ess_fraction: jax.Array


def _pair(
  log_p: ArrayLike, log_q: ArrayLike, axis: int = -1, names: tuple[str, str] = ("log_p", "log_q")
) -> tuple[jax.Array, jax.Array]:
  """``log_p``, ``log_q`` checked (errors use ``names``), with the sample axis ``axis``
  moved last."""
  log_p = _checks.floating(names[0], log_p, min_ndim=1)
  log_q = _checks.floating(names[1], log_q, min_ndim=1)
  _checks.same_shape(names[0], log_p, names[1], log_q)
  return _checks.samples(names[0], log_p, axis), _checks.samples(names[1], log_q, axis)


def importance_weights(log_p: ArrayLike, log_q: ArrayLike, *, axis: int = -1) -> ImportanceWeights:
  r"""Self-normalised importance weights, log normaliser and ESS.

  .. math::
    \log\hat Z = \operatorname{logsumexp}_i(\log w_i) - \log N, \qquad
    \mathrm{ESS} = \frac{(\sum_i w_i)^2}{\sum_i w_i^2}
    = \exp\big(2\,\mathrm{lse}(\log w) - \mathrm{lse}(2\log w)\big).

  Example:
    >>> import jax.numpy as jnp
    >>> w = importance_weights(jnp.zeros(4), jnp.zeros(4))
    >>> float(w.log_normalizer), float(w.ess)
    (0.0, 4.0)

  Args:
    log_p: Possibly unnormalised target log density at ``x ~ Q``, ``[..., N]``.
    log_q: Proposal log density at the same points, ``[..., N]``.
    axis: The sample axis (default the last; ``0`` for samples from TFP / distrax).

  Returns:
    An :class:`ImportanceWeights` with fields ``log_weights`` (the input's shape, one value
    per sample: not reduced), ``log_normalizer``, ``ess`` and ``ess_fraction`` (``[...]``,
    the batch axes: the sample axis reduced).

  References:
    Kish (1965) effective sample size; Owen (2013), ch. 9.
  """
  log_p, log_q = _pair(log_p, log_q, axis)
  log_w = log_p - log_q
  n = log_w.shape[-1]
  lse = jax.nn.logsumexp(log_w, axis=-1)
  ess = jnp.exp(2.0 * lse - jax.nn.logsumexp(2.0 * log_w, axis=-1))
  return ImportanceWeights(
    log_weights=jnp.moveaxis(log_w - lse[..., None], -1, axis),
    log_normalizer=lse - jnp.log(n).astype(lse.dtype),
    ess=ess,
    ess_fraction=ess / n,
  )


def log_ratio(
  log_p: ArrayLike, log_q: ArrayLike, *, self_normalize: bool = False, axis: int = -1
) -> jax.Array:
  r"""Per-sample log density ratio :math:`\log u_i = \log p(x_i) - \log q(x_i)`.

  With ``self_normalize=True`` the batch estimate
  :math:`\log\hat Z = \log\frac1N\sum_i u_i` over the sample axis (see
  :func:`importance_weights`) is subtracted, under ``stop_gradient``: the true normaliser
  does not depend on the model, so its estimate only adds noise to the gradient.

  Args:
    log_p: Target log density at ``x ~ Q``, ``[..., N]``; may be unnormalised when
      ``self_normalize=True``.
    log_q: Sampling log density at the same points, ``[..., N]``.
    self_normalize: Subtract the in-batch estimate :math:`\log\hat Z`.
    axis: The sample axis (default the last; ``0`` for samples from TFP / distrax).

  Returns:
    ``[..., N]``, the input's shape: one value per sample (not reduced).
  """
  log_p, log_q = _pair(log_p, log_q, axis)
  return jnp.moveaxis(_log_ratio(log_p, log_q, self_normalize), -1, axis)


def _log_ratio(log_p: jax.Array, log_q: jax.Array, self_normalize: bool) -> jax.Array:
  log_u = log_p - log_q
  if self_normalize:
    log_z = fmath.log_mean_exp(log_u, axis=-1)
    log_u = log_u - jax.lax.stop_gradient(log_z)[..., None]
  return log_u


def f_divergence(
  log_p: ArrayLike,
  log_q: ArrayLike,
  *,
  divergence: str | Divergence,
  self_normalize: bool = False,
  gradient: str = "reparameterization",
  baseline: bool = True,
  axis: int = -1,
) -> jax.Array:
  r"""Monte-Carlo estimate of :math:`D_f(P\|Q) = \mathbb{E}_Q[f(p/q)]` (reduces).

  .. math::
    \hat D = \frac1N \sum_{i=1}^N f\!\left(\frac{p(x_i)}{q(x_i)}\right),
    \qquad x_i \sim Q.

  Gradient estimators (the value is the same; the gradient differs):

  * ``"reparameterization"`` (default): ``x = T_theta(eps)`` carries the
    gradient and ``log_p``, ``log_q`` are evaluated at it, so autodiff of the
    estimate is the pathwise gradient. Lowest variance when ``Q`` is
    reparameterisable (flows, Gaussians); requires a differentiable ``log_p``.
  * ``"score_function"``: for non-reparameterisable ``Q``. Pass log densities
    at samples drawn under ``stop_gradient``; ``log_q`` must still depend on
    the parameters. With the samples fixed,
    :math:`\nabla_\theta\mathbb{E}_{q_\theta}[f(p/q_\theta)] =
    \mathbb{E}_Q[(f(u) - u f'(u))\,\nabla\log q]` (the score term plus the
    dependence of ``u`` on ``q``), so the surrogate adds
    :math:`\frac1N\sum_i (s_i - b_i)(\log q_i - \mathrm{sg}(\log q_i))`
    (zero in value) with :math:`s_i = f(u_i) - u_i f'(u_i)` and the
    leave-one-out baseline :math:`b_i = \frac{1}{N-1}\sum_{j\ne i} s_j`
    (``baseline=True``), which keeps it unbiased and cuts its variance.
    Unbiased for any ``Q``; its variance grows with the spread of
    :math:`s`; needs ``N >= 2`` with a baseline.

  Example:
    >>> import jax.numpy as jnp
    >>> x = jnp.linspace(-3.0, 3.0, 7)
    >>> float(f_divergence(-0.5 * x**2, -0.5 * x**2, divergence="kl"))
    0.0

  Args:
    log_p: Target log density at ``x ~ Q``, ``[..., N]``; may be unnormalised
      when ``self_normalize=True``.
    log_q: Sampling log density at the same points, ``[..., N]``.
    divergence: Registry name or :class:`~fdiv_jax.divergences.Divergence`.
    self_normalize: Estimate the normaliser of ``p`` in-batch (biased,
      :math:`O(1/N)`; see the module docstring).
    gradient: ``"reparameterization"`` or ``"score_function"``.
    baseline: Use the leave-one-out baseline (score function only).
    axis: The sample axis (default the last; ``0`` for samples from TFP / distrax).

  Returns:
    ``[...]``, the batch axes (the sample axis reduced).

  References:
    Nowozin et al. f-GAN, NeurIPS 2016; Williams (1992) REINFORCE; Kool et
    al. Buy 4 REINFORCE samples, get a baseline for free! (2019).
  """
  div = resolve(divergence)
  _checks.one_of("gradient", gradient, GRADIENT_ESTIMATORS)
  log_p, log_q = _pair(log_p, log_q, axis)
  if gradient == "reparameterization":
    log_u = _log_ratio(log_p, log_q, self_normalize)
    # The mean as sum(f * (1 / N)): XLA:CPU fuses the scale into f's last multiply.
    return jnp.sum(div.f(log_u) * (1.0 / log_u.shape[-1]), axis=-1)
  n = log_q.shape[-1]
  if baseline and n < 2:
    raise ValueError(
      "gradient='score_function' with baseline=True needs at "
      f"least 2 samples on the sample axis, got {n}"
    )
  # Only log_p keeps a pathwise gradient; log_q enters through the score.
  log_u = _log_ratio(log_p, jax.lax.stop_gradient(log_q), self_normalize)
  values, d_values = jax.jvp(div.f, (log_u,), (jnp.ones_like(log_u),))
  signal = jax.lax.stop_gradient(values - d_values)  # f(u) - u f'(u)
  if baseline:
    total = jnp.sum(signal, axis=-1, keepdims=True)
    signal = signal - (total - signal) / (n - 1)
  score = log_q - jax.lax.stop_gradient(log_q)
  return jnp.mean(values + signal * score, axis=-1)


def renyi_divergence(
  log_p: ArrayLike,
  log_q: ArrayLike,
  *,
  alpha: ArrayLike,
  self_normalize: bool = False,
  axis: int = -1,
) -> jax.Array:
  r"""Monte-Carlo Renyi divergence of order ``alpha`` via log-mean-exp (reduces).

  .. math::
    D_\alpha(P\|Q) = \frac{1}{\alpha - 1}\log\mathbb{E}_Q[u^\alpha]
    \approx \frac{1}{\alpha - 1}\Big(\log\frac1N\sum_i e^{\alpha\log u_i}
    - \alpha\,\log\hat Z\Big),

  where :math:`\log\hat Z = \log\frac1N\sum_i u_i` when
  ``self_normalize=True`` (``p`` may be unnormalised; consistent, biased
  :math:`O(1/N)`) and :math:`\log\hat Z = 0` otherwise. At
  :math:`\alpha = 1` the divergence is :math:`\mathrm{KL}(P\|Q)`: the
  self-normalised form is continuous there (a second-order expansion is used
  within ``1e-2``), and the plain form returns the importance estimate
  :math:`\frac1N\sum_i u_i\log u_i`. ``alpha`` may be traced (sweeping it does
  not recompile).

  Args:
    log_p: Target log density at ``x ~ Q``, ``[..., N]``.
    log_q: Sampling log density, ``[..., N]``.
    alpha: Order, > 0 (scalar or broadcastable to the batch shape ``[...]``).
    self_normalize: Estimate the normaliser of ``p`` in-batch.
    axis: The sample axis (default the last; ``0`` for samples from TFP / distrax).

  Returns:
    ``[...]``, the batch axes (the sample axis reduced).

  Raises:
    ValueError: a concrete ``alpha <= 0``.

  References:
    Renyi (1961); Li & Turner. Renyi Divergence Variational Inference.
    NeurIPS 2016; van Erven & Harremoes. Renyi divergence and KL (2014).
  """
  alpha = _checks.positive("alpha", alpha)
  log_p, log_q = _pair(log_p, log_q, axis)
  log_u = log_p - log_q
  alpha = alpha.astype(log_u.dtype)
  eps = alpha - 1.0
  near1 = jnp.abs(eps) < _RENYI_TAYLOR
  eps_safe = jnp.where(near1, 1.0, eps)
  lme_alpha = fmath.log_mean_exp(alpha[..., None] * log_u, axis=-1)
  if self_normalize:
    lme_one = fmath.log_mean_exp(log_u, axis=-1)
    general = (lme_alpha - alpha * lme_one) / eps_safe
    # Lambda(1 + e) = e (E_w[l] - lme(l)) + e^2/2 Var_w[l], w = softmax(l).
    w = jax.nn.softmax(log_u, axis=-1)
    mean_w = jnp.sum(w * log_u, axis=-1)
    var_w = jnp.sum(w * jnp.square(log_u - mean_w[..., None]), axis=-1)
    limit = mean_w - lme_one + 0.5 * eps * var_w
  else:
    general = lme_alpha / eps_safe
    limit = jnp.mean(jnp.exp(log_u) * log_u, axis=-1)
  return jnp.where(near1, limit, general)
