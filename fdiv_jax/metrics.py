r"""Sample-quality metrics for Boltzmann generators and samplers.

With flow samples :math:`x_i \sim q` and log weights
:math:`\log w_i = \log\tilde p(x_i) - \log q(x_i)` (``tilde p`` unnormalised):

* log Z: :math:`\log\hat Z = \log\frac1N\sum_i w_i` (a lower bound in
  expectation; its error against a known log Z);
* reverse ESS: :math:`(\sum w)^2 / (N\sum w^2)` from flow samples;
* forward ESS from exact target samples :math:`y_j \sim p`:
  :math:`1 / (\overline{w(y)}\;\overline{1/w(y)})`, invariant to the scale of
  :math:`\tilde p` (Midgley et al., 2023, App. B); it sees modes the flow
  misses, which the reverse ESS cannot;
* ELBO :math:`\mathbb E_q[\log\tilde p - \log q] \le \log Z` and EUBO
  :math:`\mathbb E_p[\log\tilde p - \log q] \ge \log Z`; their gap is
  :math:`\mathrm{KL}(q\|p) + \mathrm{KL}(p\|q)` (Jeffreys), so a collapsed flow
  shows a large EUBO;
* mode coverage by nearest-centre assignment, the mode-entropy coverage
  :math:`\exp H(\text{histogram}) / K`, Many-Well sign patterns;
* energy distance and MMD to exact samples;
* standardised errors of posterior means and standard deviations against ground-truth
  moments, :math:`(\hat m_k - m_k)/s_k` and :math:`(\hat s_k - s_k)/s_k` per coordinate
  (Inference Gym's convention of scaling by the posterior standard deviation).

References:
  Midgley, Stimper, Simm, Schoelkopf, Hernandez-Lobato. Flow Annealed
  Importance Sampling Bootstrap. ICLR 2023. Kong (1992) for the ESS.
  Szekely & Rizzo. Energy statistics. 2013.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from fdiv_jax import _checks, kernels, monte_carlo
from fdiv_jax import math as fmath

__all__ = [
  "elbo",
  "energy_distance",
  "eubo",
  "forward_ess",
  "log_z_estimate",
  "MomentErrors",
  "mode_coverage",
  "moment_errors",
  "reverse_ess",
  "sign_patterns",
]


def log_z_estimate(log_p: ArrayLike, log_q: ArrayLike, *, axis: int = -1) -> jax.Array:
  r"""Importance-sampling estimate of the log normaliser :math:`\log Z` from flow samples.

  .. math::
    \log\hat Z = \log\frac1N\sum_{i=1}^N \frac{\tilde p(x_i)}{q(x_i)}, \qquad x_i \sim q,

  a lower bound on :math:`\log Z` in expectation (:math:`\hat Z` is unbiased).

  Args:
    log_p: Unnormalised target log density :math:`\log\tilde p(x_i)` at flow samples
      :math:`x_i \sim q`, ``[..., N]``.
    log_q: Flow log density :math:`\log q(x_i)` at the same samples, ``[..., N]``.
    axis: The sample axis (default the last; ``0`` for samples from TFP / distrax).

  Returns:
    ``[...]``, the batch axes (the sample axis reduced).

  References:
    Midgley et al. Flow Annealed Importance Sampling Bootstrap. ICLR 2023.
  """
  return monte_carlo.importance_weights(log_p, log_q, axis=axis).log_normalizer


def reverse_ess(log_p: ArrayLike, log_q: ArrayLike, *, axis: int = -1) -> jax.Array:
  r"""Reverse effective sample size fraction of flow samples, in ``(0, 1]``.

  .. math::
    \frac{\mathrm{ESS}}{N} = \frac{(\sum_i w_i)^2}{N\sum_i w_i^2}, \qquad
    w_i = \frac{\tilde p(x_i)}{q(x_i)}, \quad x_i \sim q.

  Args:
    log_p: Unnormalised target log density :math:`\log\tilde p(x_i)` at flow samples
      :math:`x_i \sim q`, ``[..., N]``.
    log_q: Flow log density :math:`\log q(x_i)` at the same samples, ``[..., N]``.
    axis: The sample axis (default the last; ``0`` for samples from TFP / distrax).

  Returns:
    ``[...]``, the batch axes (the sample axis reduced).

  References:
    Kong. A note on importance sampling using standardized weights. 1992.
    Midgley et al. Flow Annealed Importance Sampling Bootstrap. ICLR 2023.
  """
  return monte_carlo.importance_weights(log_p, log_q, axis=axis).ess_fraction


def forward_ess(
  log_p_at_target: ArrayLike, log_q_at_target: ArrayLike, *, axis: int = -1
) -> jax.Array:
  r"""Forward effective sample size fraction from exact target samples, in ``(0, 1]``.

  .. math::
    \frac{\mathrm{ESS}}{N} = \frac{1}{\overline{w}\;\overline{w^{-1}}}
    = \frac{N^2}{\sum_j w(y_j) \sum_j w(y_j)^{-1}}, \qquad
    w = \frac{\tilde p}{q}, \quad y_j \sim p,

  invariant to the scale of :math:`\tilde p`; unlike :func:`reverse_ess` it sees the
  modes the flow misses.

  Args:
    log_p_at_target: Unnormalised target log density :math:`\log\tilde p(y_j)` at exact
      target samples :math:`y_j \sim p`, ``[..., N]``.
    log_q_at_target: Flow log density :math:`\log q(y_j)` at the same samples, ``[..., N]``.
    axis: The sample axis (default the last; ``0`` for samples from TFP / distrax).

  Returns:
    ``[...]``, the batch axes (the sample axis reduced).

  References:
    Midgley et al. Flow Annealed Importance Sampling Bootstrap. ICLR 2023, App. B.
  """
  lp, lq = _target_pair(log_p_at_target, log_q_at_target, axis)
  lw = lp - lq
  n = math.log(lw.shape[-1])
  return jnp.exp(-(jax.nn.logsumexp(lw, axis=-1) - n) - (jax.nn.logsumexp(-lw, axis=-1) - n))


def elbo(log_p: ArrayLike, log_q: ArrayLike, *, axis: int = -1) -> jax.Array:
  r"""Evidence lower bound :math:`\mathbb E_q[\log\tilde p - \log q]` from flow samples.

  .. math::
    \mathrm{ELBO} = \frac1N\sum_{i=1}^N \big(\log\tilde p(x_i) - \log q(x_i)\big),
    \qquad x_i \sim q,

  an unbiased estimate of :math:`\mathbb E_q[\log\tilde p - \log q] \le \log Z`.

  Args:
    log_p: Unnormalised target log density :math:`\log\tilde p(x_i)` at flow samples
      :math:`x_i \sim q`, ``[..., N]``.
    log_q: Flow log density :math:`\log q(x_i)` at the same samples, ``[..., N]``.
    axis: The sample axis (default the last; ``0`` for samples from TFP / distrax).

  Returns:
    ``[...]``, the batch axes (the sample axis reduced).
  """
  return jnp.mean(monte_carlo.log_ratio(log_p, log_q, axis=axis), axis=axis)


def eubo(log_p_at_target: ArrayLike, log_q_at_target: ArrayLike, *, axis: int = -1) -> jax.Array:
  r"""Evidence upper bound :math:`\mathbb E_p[\log\tilde p - \log q]` from exact target samples.

  .. math::
    \mathrm{EUBO} = \frac1N\sum_{j=1}^N \big(\log\tilde p(y_j) - \log q(y_j)\big),
    \qquad y_j \sim p,

  an unbiased estimate of :math:`\mathbb E_p[\log\tilde p - \log q] \ge \log Z`;
  :math:`\mathrm{EUBO} - \mathrm{ELBO}` estimates
  :math:`\mathrm{KL}(q\|p) + \mathrm{KL}(p\|q)`, large for a flow that misses modes.

  Args:
    log_p_at_target: Unnormalised target log density :math:`\log\tilde p(y_j)` at exact
      target samples :math:`y_j \sim p`, ``[..., N]``.
    log_q_at_target: Flow log density :math:`\log q(y_j)` at the same samples, ``[..., N]``.
    axis: The sample axis (default the last; ``0`` for samples from TFP / distrax).

  Returns:
    ``[...]``, the batch axes (the sample axis reduced).
  """
  lp, lq = _target_pair(log_p_at_target, log_q_at_target, axis)
  return jnp.mean(lp - lq, axis=-1)


def _target_pair(lp: ArrayLike, lq: ArrayLike, axis: int) -> tuple[jax.Array, jax.Array]:
  return monte_carlo._pair(lp, lq, axis, names=("log_p_at_target", "log_q_at_target"))


def mode_coverage(
  x: ArrayLike, means: ArrayLike, *, radius: float | None = None, min_count: int = 1
) -> dict:
  r"""Modes visited by samples, by nearest-centre assignment.

  Each sample goes to its nearest centre (if within ``radius``, when given). With
  :math:`\bar h` the histogram of the assigned samples normalised to sum to 1,
  the mode entropy is

  .. math::
    \frac{\exp H(\bar h)}{K} \in (0, 1], \qquad H(\bar h) = -\sum_k \bar h_k \log\bar h_k.

  Args:
    x: Samples ``[n, d]`` (samples first).
    means: Mode centres ``[K, d]``.
    radius: Largest distance at which a sample is assigned to its nearest centre; None
      assigns every sample.
    min_count: Number of samples a mode needs to count as covered.

  Returns:
    A ``dict`` of arrays: ``"modes_covered"`` (scalar, the number of modes with at least
    ``min_count`` samples), ``"mode_entropy"`` (scalar, as above) and ``"histogram"``
    (``[K]``, the fraction of all ``n`` samples assigned to each mode).
  """
  x = _checks.floating("x", x)
  means = _checks.floating("means", means)
  d2 = kernels.squared_distances(x, means, form="difference")
  nearest = jnp.argmin(d2, axis=-1)
  valid = jnp.ones(x.shape[0], bool) if radius is None else jnp.min(d2, -1) <= radius**2
  counts = jnp.zeros(means.shape[0], d2.dtype).at[nearest].add(valid.astype(d2.dtype))
  hist = counts / x.shape[0]
  p = counts / jnp.maximum(counts.sum(), 1.0)
  entropy = -jnp.sum(
    fmath.double_where(p > 0, lambda p: p * jnp.log(p), p, safe=1.0, otherwise=0.0)
  )
  return {
    "modes_covered": jnp.sum(counts >= min_count),
    "mode_entropy": jnp.exp(entropy) / means.shape[0],
    "histogram": hist,
  }


def sign_patterns(x: ArrayLike, *, coordinates: slice = slice(0, None, 2)) -> int:
  """Number of distinct sign patterns of the double-well coordinates (Many-Well modes visited).

  Runs on the host (NumPy), outside ``jit``.

  Args:
    x: Samples ``[n, d]`` (samples first).
    coordinates: The double-well coordinates, a slice of the last axis (default every
      other one from the first).

  Returns:
    The number of distinct patterns of ``x[:, coordinates] > 0``, a Python ``int`` (at
    most :math:`2^k` for :math:`k` double-well coordinates).

  References:
    Midgley et al. Flow Annealed Importance Sampling Bootstrap. ICLR 2023 (Many Well).
  """
  import numpy as np

  signs = np.asarray(jnp.asarray(x)[:, coordinates] > 0)
  return int(len(np.unique(np.packbits(signs, axis=1), axis=0)))


def energy_distance(x: ArrayLike, y: ArrayLike) -> jax.Array:
  r"""Energy distance between two samples (V-statistic).

  .. math::
    2\mathbb E\|X-Y\| - \mathbb E\|X-X'\| - \mathbb E\|Y-Y'\|
    \approx \frac{2}{nm}\sum_{i,j}\|x_i - y_j\| - \frac{1}{n^2}\sum_{i,i'}\|x_i - x_{i'}\|
    - \frac{1}{m^2}\sum_{j,j'}\|y_j - y_{j'}\|.

  Dense: O(n m d) memory; use a few thousand points.

  Args:
    x: Samples ``[n, d]`` (samples first).
    y: Samples ``[m, d]``.

  Returns:
    The energy distance, a scalar :math:`\ge 0`.

  References:
    Szekely & Rizzo. Energy statistics: A class of statistics based on distances. 2013.
  """
  x, y = _checks.floating("x", x), _checks.floating("y", y)

  def mean_dist(a, b):
    d2 = kernels.squared_distances(a, b, form="difference")
    return jnp.mean(fmath.double_where(d2 > 0, jnp.sqrt, d2, safe=1.0, otherwise=0.0))

  return 2 * mean_dist(x, y) - mean_dist(x, x) - mean_dist(y, y)


class MomentErrors(NamedTuple):
  r"""Standardised errors of estimated posterior moments, per coordinate ``[m]``.

  Attributes:
    mean: :math:`(\hat m_k - m_k) / s_k`.
    std: :math:`(\hat s_k - s_k) / s_k`.
  """

  mean: jax.Array
  std: jax.Array


def moment_errors(
  x: ArrayLike,
  mean: ArrayLike,
  std: ArrayLike,
  *,
  log_weights: ArrayLike | None = None,
) -> MomentErrors:
  r"""Standardised errors of the (weighted) sample moments of ``x`` against ground truth.

  With self-normalised weights :math:`\bar w_i` (uniform without ``log_weights``),
  :math:`\hat m = \sum_i \bar w_i x_i` and
  :math:`\hat s^2 = \sum_i \bar w_i (x_i - \hat m)^2`.

  Args:
    x: Samples ``[n, m]`` (sample axis first, in the coordinates of the ground truth,
      e.g. ``target.moments.transform(samples)``).
    mean: Ground-truth means ``[m]``.
    std: Ground-truth standard deviations ``[m]``, positive.
    log_weights: Optional importance log weights ``[n]``.

  Returns:
    A :class:`MomentErrors` with fields ``mean`` and ``std``, each ``[m]``.
  """
  x = _checks.floating("x", x, min_ndim=2)
  if x.ndim != 2:
    raise ValueError(f"moment_errors: x must have shape [n, m], got {x.shape}")
  mean, std = jnp.asarray(mean, x.dtype), jnp.asarray(std, x.dtype)
  if mean.shape != x.shape[1:] or std.shape != x.shape[1:]:
    raise ValueError(
      f"moment_errors: mean and std must have shape {x.shape[1:]} (x's last axis), got "
      f"{mean.shape} and {std.shape}"
    )
  if log_weights is None:
    w = jnp.full(x.shape[:1], 1.0 / x.shape[0], x.dtype)
  else:
    lw = _checks.floating("log_weights", log_weights)
    if lw.shape != x.shape[:1]:
      raise ValueError(f"moment_errors: log_weights must have shape {x.shape[:1]}, got {lw.shape}")
    w = jax.nn.softmax(lw)
  m_hat = w @ x
  s_hat = jnp.sqrt(w @ (x - m_hat) ** 2)
  return MomentErrors((m_hat - mean) / std, (s_hat - std) / std)
