"""Bandwidth heuristics for the kernels."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from fdiv_jax import _checks
from fdiv_jax.kernels._pointwise import squared_distances


def median_bandwidth(
  x: ArrayLike, y: ArrayLike | None = None, *, max_points: int = 2000
) -> jax.Array:
  r"""Median heuristic: the median pairwise distance of the pooled sample.

  .. math::
    \sigma = \sqrt{\operatorname{median}_{i < j} \|z_i - z_j\|^2}

  over the first ``max_points`` points :math:`z` of ``x`` followed by ``y``
  (O(max_points^2) memory), under ``stop_gradient`` (a bandwidth is a hyperparameter,
  not a path for gradients).

  Args:
    x: Points ``[n, d]`` (samples first).
    y: Optional second sample ``[m, d]``, pooled after ``x``.
    max_points: Number of leading pooled points used.

  Returns:
    The bandwidth, a scalar.

  References:
    Gretton et al. A Kernel Two-Sample Test. JMLR 2012.
  """
  x = _checks.floating("x", x)
  pooled = x if y is None else jnp.concatenate([x, _checks.floating("y", y)], axis=0)
  pooled = jax.lax.stop_gradient(pooled[:max_points])
  n = pooled.shape[0]
  d2 = squared_distances(pooled, pooled)[jnp.triu_indices(n, k=1)]
  return jnp.sqrt(jnp.median(d2))


def silverman_bandwidth(x: ArrayLike) -> jax.Array:
  r"""Silverman's rule :math:`\sigma = \bar s\,(4 / (d + 2))^{1/(d+4)}\, n^{-1/(d+4)}`.

  :math:`\bar s` is the mean per-dimension standard deviation of ``x`` ``[n, d]``;
  optimal for a Gaussian KDE of Gaussian data. Under ``stop_gradient``.

  Args:
    x: Points ``[n, d]`` (samples first).

  Returns:
    The bandwidth :math:`\sigma`, a scalar.

  References:
    Silverman. Density Estimation for Statistics and Data Analysis. 1986, eq. 4.14.
  """
  x = jax.lax.stop_gradient(_checks.floating("x", x))
  n, d = x.shape
  s = jnp.mean(jnp.std(x, axis=0))
  return s * (4.0 / (d + 2.0)) ** (1.0 / (d + 4.0)) * n ** (-1.0 / (d + 4.0))
