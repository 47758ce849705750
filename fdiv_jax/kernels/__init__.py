r"""Kernels, bandwidth heuristics and blocked log-domain kernel sums.

All kernels are normalised to :math:`k(x, x) = 1` and work with squared
distances :math:`d^2 = \|x - y\|^2`:

* ``"gaussian"``: :math:`\log k = -d^2 / (2\sigma^2)`;
* ``"laplace"``: :math:`\log k = -d / \sigma`;
* ``"inverse_multiquadric"``: :math:`k = (1 + d^2/\sigma^2)^{-1/2}`.

All three are positive definite, which is what makes the Cauchy-Schwarz
divergence and MMD non-negative. :func:`log_kernel_sum` computes
:math:`\log\sum_j w_j k(x_i, y_j)` for every ``i`` in blocks of
``block_size x block_size`` pairs (``lax.map`` over row blocks, ``lax.scan``
over column blocks with a running ``logaddexp``), so memory is
O(block_size^2 + n + m), never O(n m), and values stay finite when every
kernel value underflows (tiles of 1024 on CPU, 4096 on accelerators:
:func:`default_block_size`). The Gaussian kernel takes a faster path with the
log-sum-exp shift in closed form (one matmul and one exp per pair, no running
maximum) and falls back to the running maximum only when a row underflows.
"""

from fdiv_jax.kernels._bandwidths import median_bandwidth, silverman_bandwidth
from fdiv_jax.kernels._blocked import (
  blocked_row_logsumexp,
  default_block_size,
  log_kernel_sum,
  log_product_kernel_sum,
)
from fdiv_jax.kernels._pointwise import KERNELS, log_kernel, squared_distances

__all__ = [
  "KERNELS",
  "blocked_row_logsumexp",
  "default_block_size",
  "log_kernel",
  "log_kernel_sum",
  "log_product_kernel_sum",
  "median_bandwidth",
  "silverman_bandwidth",
  "squared_distances",
]
