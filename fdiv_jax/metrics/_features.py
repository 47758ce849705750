r"""Sample-quality metrics of generative models in a feature space.

* Fréchet distance between the Gaussians fitted to two feature clouds (FID when the
  features are Inception's; Heusel et al., 2017);
* improved precision and recall (Kynkäänniemi et al., 2019): the fraction of generated
  samples inside the real samples' k-nearest-neighbour balls (quality), and of real samples
  inside the generated samples' balls (coverage).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from fdiv_jax import _checks, kernels


def _cloud(name: str, x: ArrayLike, min_points: int) -> jax.Array:
  x = _checks.floating(name, x)
  if x.ndim != 2 or x.shape[0] < min_points:
    raise ValueError(
      f"{name} must be features [n, d] (samples first) with n >= {min_points}, got shape {x.shape}"
    )
  return x


def frechet_distance(x: ArrayLike, y: ArrayLike) -> jax.Array:
  r"""Fréchet distance between the Gaussians fitted to two feature clouds.

  .. math::
    \|\mu_x - \mu_y\|^2 + \mathrm{tr}\big(S_x + S_y - 2\,(S_x^{1/2} S_y S_x^{1/2})^{1/2}\big),

  with sample means :math:`\mu` and covariances :math:`S` (``ddof=1``); the trace of the
  matrix square root is the sum of the square roots of the eigenvalues of the symmetric
  :math:`S_x^{1/2} S_y S_x^{1/2}` (``eigh``, negative round-off clipped to 0), which equals
  :math:`\mathrm{tr}(S_x S_y)^{1/2}`. Compute in float64 (``jax_enable_x64``) for large
  feature dimensions: the trace terms cancel.

  Args:
    x: Features ``[n, d]`` (samples first), ``n >= 2``.
    y: Features ``[m, d]``, ``m >= 2``.

  Returns:
    The distance, a scalar :math:`\ge 0` up to round-off.

  References:
    Heusel, Ramsauer, Unterthiner, Nessler, Hochreiter. GANs Trained by a Two Time-Scale
    Update Rule Converge to a Local Nash Equilibrium. NeurIPS 2017.
  """
  x, y = _cloud("x", x, 2), _cloud("y", y, 2)
  if x.shape[1] != y.shape[1]:
    raise ValueError(f"x and y must have the same feature dimension, got {x.shape} and {y.shape}")
  mu_x, mu_y = jnp.mean(x, 0), jnp.mean(y, 0)
  s_x, s_y = jnp.cov(x, rowvar=False), jnp.cov(y, rowvar=False)
  ev, vec = jnp.linalg.eigh(s_x)
  root_x = (vec * jnp.sqrt(jnp.clip(ev, 0.0))) @ vec.T
  middle = jnp.linalg.eigvalsh(root_x @ s_y @ root_x)
  tr_sqrt = jnp.sum(jnp.sqrt(jnp.clip(middle, 0.0)))
  return jnp.sum((mu_x - mu_y) ** 2) + jnp.trace(s_x) + jnp.trace(s_y) - 2.0 * tr_sqrt


class PrecisionRecall(NamedTuple):
  """Improved precision and recall of generated against real samples.

  Attributes:
    precision: Fraction of generated samples inside some real sample's k-NN ball.
    recall: Fraction of real samples inside some generated sample's k-NN ball.
  """

  precision: jax.Array
  recall: jax.Array


def _knn_radii(x: jax.Array, k: int, block: int) -> jax.Array:
  """Squared distance of every point of ``x`` to its k-th nearest other point, ``[n]``."""

  def rows(chunk):
    d2 = kernels.squared_distances(chunk, x)
    return -jax.lax.top_k(-d2, k + 1)[0][:, k]  # the point itself is its own 0th neighbour

  return _blocked(rows, x, block)


def _blocked(fn, x: jax.Array, block: int) -> jax.Array:
  """``fn`` over row blocks of ``x`` (padded to a multiple of ``block``), concatenated."""
  n = x.shape[0]
  pad = (-n) % block
  xp = jnp.concatenate([x, jnp.zeros((pad, x.shape[1]), x.dtype)]) if pad else x
  out = jax.lax.map(fn, xp.reshape(-1, block, x.shape[1]))
  return out.reshape(-1)[:n]


def _inside(points: jax.Array, centres: jax.Array, radii: jax.Array, block: int) -> jax.Array:
  """Whether each point lies in some ball (centre, squared radius), ``[n]`` booleans."""

  def rows(chunk):
    return jnp.any(kernels.squared_distances(chunk, centres) <= radii[None, :], axis=1)

  return _blocked(rows, points, block)


def precision_recall(
  real: ArrayLike, fake: ArrayLike, *, k: int = 3, block_size: int = 1024
) -> PrecisionRecall:
  r"""Improved precision and recall (Kynkäänniemi et al., 2019) in a feature space.

  .. math::
    \mathrm{precision} = \frac1M \sum_j \mathbb 1\big[\exists i:\ \|\phi_j - \psi_i\|
      \le \|\psi_i - \mathrm{NN}_k(\psi_i)\|\big],

  with real features :math:`\psi_i`, generated features :math:`\phi_j` and
  :math:`\mathrm{NN}_k` the k-th nearest neighbour within the same set; recall swaps the
  roles. Precision measures sample quality, recall how much of the real distribution the
  generated samples cover (mode coverage). Distances are computed in row blocks of
  ``block_size``, so memory is ``O(block_size (n + m))``.

  Args:
    real: Real features ``[n, d]`` (samples first), ``n > k``.
    fake: Generated features ``[m, d]``, ``m > k``.
    k: Neighbour defining each ball's radius (the paper's default 3).
    block_size: Rows per distance block.

  Returns:
    A :class:`PrecisionRecall` with fields ``precision`` and ``recall``, scalars in ``[0, 1]``
    (NaN if any feature is NaN).

  References:
    Kynkäänniemi, Karras, Laine, Lehtinen, Aila. Improved Precision and Recall Metric for
    Assessing Generative Models. NeurIPS 2019.
  """
  k = _checks.integer("k", k, 1)
  block_size = _checks.integer("block_size", block_size, 1)
  real, fake = _cloud("real", real, k + 1), _cloud("fake", fake, k + 1)
  if real.shape[1] != fake.shape[1]:
    raise ValueError(
      f"real and fake must have the same feature dimension, got {real.shape} and {fake.shape}"
    )
  r_real, r_fake = _knn_radii(real, k, block_size), _knn_radii(fake, k, block_size)
  precision = jnp.mean(_inside(fake, real, r_real, block_size))
  recall = jnp.mean(_inside(real, fake, r_fake, block_size))
  # A NaN feature would only fail every distance test: make it visible instead.
  nan = jnp.isnan(real).any() | jnp.isnan(fake).any()
  return PrecisionRecall(jnp.where(nan, jnp.nan, precision), jnp.where(nan, jnp.nan, recall))
