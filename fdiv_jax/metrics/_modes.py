"""Mode coverage of samples from a multi-modal target (nearest centres, sign patterns)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from fdiv_jax import _checks, kernels
from fdiv_jax import math as fmath


class ModeCoverage(NamedTuple):
  r"""Modes visited by samples (:func:`mode_coverage`).

  Attributes:
    modes_covered: Scalar, the number of modes with at least ``min_count`` samples.
    mode_entropy: Scalar :math:`\exp H(\bar h) / K \in (0, 1]`.
    histogram: ``[K]``, the fraction of all ``n`` samples assigned to each mode.
  """

  modes_covered: jax.Array
  mode_entropy: jax.Array
  histogram: jax.Array


def mode_coverage(
  x: ArrayLike, means: ArrayLike, *, radius: float | None = None, min_count: int = 1
) -> ModeCoverage:
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
    A :class:`ModeCoverage` with fields ``modes_covered`` (scalar, the number of modes with
    at least ``min_count`` samples), ``mode_entropy`` (scalar, as above) and ``histogram``
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
  return ModeCoverage(
    modes_covered=jnp.sum(counts >= min_count),
    mode_entropy=jnp.exp(entropy) / means.shape[0],
    histogram=hist,
  )


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
