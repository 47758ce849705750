r"""Log-Gaussian Cox process on the Finnish pines (Møller et al., 1998), 40 × 40 grid.

The 126 saplings, rescaled to the unit square, are counted on a :math:`G \times G` grid
(:math:`n_i` in cell :math:`i`, row-major, row from the first coordinate). The log
intensity :math:`x \in \mathbb R^{G^2}` has a Gaussian-process prior with mean
:math:`\mu = \log 126 - \sigma^2/2` and covariance
:math:`K_{ij} = \sigma^2 \exp(-\lVert c_i - c_j\rVert / (G\beta))` between the cells'
integer coordinates, :math:`\sigma^2 = 1.91`, :math:`\beta = 1/33`; the counts are
Poisson with means :math:`a\,e^{x_i}`, :math:`a = 1/G^2`:

.. math::
  \log\gamma(x) = \log N(x; \mu, K) + \sum_i \big(n_i x_i - a\,e^{x_i}\big)

(the Poisson log likelihood less its constant :math:`\sum_i n_i\log a - \log n_i!`,
as in the benchmark and fab-jax, whose reference :math:`\log Z = 501.806` holds for
this density). ``parameterization="whitened"`` samples :math:`e` with
:math:`x = L e + \mu`, :math:`K = LL^\top`:
:math:`\log\gamma(e) = \log N(e; 0, I) + \sum_i (n_i x_i - a e^{x_i})`, the same
:math:`\log Z`.

References:
  Møller, Syversveen & Waagepetersen. Log Gaussian Cox processes. Scand. J. Stat. 1998.
  Arbel, Matthews & Doucet. Annealed flow transport Monte Carlo. ICML 2021.
  Midgley et al. Flow annealed importance sampling bootstrap. ICLR 2023 (fab-jax).
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from fdiv_jax.targets._target import Target, load_csv, reference_log_z

__all__ = ["lgcp", "pines_counts"]

_FAB_JAX_LOG_Z = 501.806  # fab-jax's reference for G = 40, from a long SMC run
_VARIANCE = 1.91
_BETA = 1.0 / 33.0


def pines_counts(grid: int = 40) -> np.ndarray:
  """``[grid * grid]`` counts of the pines per cell, row-major (row from x, column from y).

  Args:
    grid: Cells per side ``G`` of the unit square (default 40).

  Returns:
    ``[grid * grid]``, float64 numpy counts :math:`n_i` of the 126 saplings.

  References:
    Møller, Syversveen & Waagepetersen. Log Gaussian Cox processes. Scand. J. Stat. 1998.
  """
  points = load_csv("finnish_pines.csv")
  cells = np.minimum(np.floor(points * grid).astype(np.int64), grid - 1)
  counts = np.zeros((grid, grid))
  np.add.at(counts, (cells[:, 0], cells[:, 1]), 1.0)
  return counts.reshape(-1)


def lgcp(grid: int = 40, *, parameterization: str = "latent") -> Target:
  r"""The log-Gaussian Cox-process posterior on the Finnish pines, d = G².

  .. math::
    \log\gamma(x) = \log N(x; \mu, K) + \sum_i \big(n_i x_i - a\,e^{x_i}\big),

  with the counts :math:`n_i` of :func:`pines_counts`, :math:`a = 1/G^2`, the prior mean
  :math:`\mu = \log 126 - \sigma^2/2` and covariance
  :math:`K_{ij} = \sigma^2 \exp(-\lVert c_i - c_j\rVert / (G\beta))` between the cells'
  integer coordinates, :math:`\sigma^2 = 1.91`, :math:`\beta = 1/33` (the Poisson log
  likelihood less its constant).

  Args:
    grid: Cells per side ``G`` (d = G²; the benchmark's 40).
    parameterization: ``"latent"`` (the field :math:`x`, the benchmark's default) or
      ``"whitened"`` (:math:`e`, :math:`x = L e + \mu`, :math:`K = LL^\top`; the same
      :math:`\log Z`).

  Returns:
    A :class:`Target` named ``f"lgcp{grid}"`` with ``log_prob: x [..., G²] -> [...]``, the
    stored reference ``log_z`` and its standard error (for G = 40 without a stored one,
    fab-jax's 501.806 without a standard error; otherwise None), and no sampler.

  References:
    Møller, Syversveen & Waagepetersen. Log Gaussian Cox processes. Scand. J. Stat. 1998.
    Arbel, Matthews & Doucet. Annealed flow transport Monte Carlo. ICML 2021.
  """
  if parameterization not in ("latent", "whitened"):
    raise ValueError(f"parameterization must be 'latent' or 'whitened', got {parameterization!r}")
  if not isinstance(grid, int) or grid < 2:
    raise ValueError(f"grid must be an int >= 2, got {grid!r}")
  counts = pines_counts(grid)
  num_points = float(load_csv("finnish_pines.csv").shape[0])
  dim = grid * grid
  coords = np.array([(i, j) for i in range(grid) for j in range(grid)], np.float64)
  dist = np.sqrt(np.sum((coords[:, None, :] - coords[None, :, :]) ** 2, -1))
  chol = np.linalg.cholesky(_VARIANCE * np.exp(-dist / (grid * _BETA)))
  chol_inv_t = np.linalg.inv(chol).T  # x L^-T = (L^-1 x)^T, a matmul on a batch of rows
  mean = math.log(num_points) - 0.5 * _VARIANCE
  area = 1.0 / dim
  gauss_const = -np.sum(np.log(np.diag(chol))) - 0.5 * dim * math.log(2 * math.pi)

  def poisson(x):
    return jnp.sum(jnp.asarray(counts, x.dtype) * x - area * jnp.exp(x), -1)

  def log_prob(x):
    x = jnp.asarray(x)
    if x.shape[-1:] != (dim,):
      raise ValueError(f"lgcp: x must have shape [..., {dim}], got {x.shape}")
    if parameterization == "whitened":
      field = x @ jnp.asarray(chol.T, x.dtype) + mean
      return -0.5 * jnp.sum(x**2, -1) - 0.5 * dim * math.log(2 * math.pi) + poisson(field)
    white = (x - mean) @ jnp.asarray(chol_inv_t, x.dtype)
    return -0.5 * jnp.sum(white**2, -1) + gauss_const + poisson(x)

  name = f"lgcp{grid}"
  log_z, log_z_se = reference_log_z(name)
  if log_z is None and grid == 40:
    log_z = _FAB_JAX_LOG_Z  # no standard error published
  return Target(name, dim, log_prob, log_z, None, log_z_se=log_z_se)
