"""Two-sample distances and standardised moment errors against reference samples or moments."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from fdiv_jax import _checks, kernels
from fdiv_jax import math as fmath


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
