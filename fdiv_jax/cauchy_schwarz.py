r"""Cauchy-Schwarz divergences and MMD from samples, in the log domain.

With Parzen (kernel) density estimates, the Cauchy-Schwarz divergence

.. math::
  D_{CS}(p\|q) = -\log\frac{(\int p q)^2}{\int p^2 \int q^2}

becomes a ratio of kernel sums whose normalisers cancel:

.. math::
  \hat D_{CS} = \log\sum_{ij} a_i a_j k(x_i, x_j) + \log\sum_{ij} b_i b_j k(y_i, y_j)
    - 2\log\sum_{ij} a_i b_j k(x_i, y_j).

Each sum is a ``logsumexp`` of blocked log-kernel sums
(:func:`fdiv_jax.kernels.log_kernel_sum`), so memory is O(n) and the value is
finite when every kernel value underflows. For a positive-definite kernel it is
:math:`\ge 0` (Cauchy-Schwarz in the RKHS) and invariant to rescaling either
sample's weights. With a Gaussian kernel of bandwidth :math:`\sigma`,
:math:`\sum_{ij} a_i b_j k(x_i, y_j)` is (up to a constant that cancels) the
integral :math:`\int \hat p \hat q` of Parzen estimates of width
:math:`\sigma/\sqrt2`, so :math:`\hat D_{CS}` converges to the CS divergence
between :math:`p \ast N(0, \tfrac{\sigma^2}{2} I)` and
:math:`q \ast N(0, \tfrac{\sigma^2}{2} I)` as the sample sizes grow.

References:
  Jenssen, Principe, Erdogmus, Eltoft. The Cauchy-Schwarz divergence and
  Parzen windowing. J. Franklin Inst. 2006.
  Yu, Yu, Lokse, Jenssen, Principe. Cauchy-Schwarz Divergence Information
  Bottleneck for Regression. ICLR 2024.
  Gretton, Borgwardt, Rasch, Schoelkopf, Smola. A Kernel Two-Sample Test. JMLR 2012.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from fdiv_jax import _checks
from fdiv_jax import kernels as K

__all__ = [
  "cauchy_schwarz_divergence",
  "cauchy_schwarz_mutual_information",
  "conditional_cauchy_schwarz_divergence",
  "mmd",
]


def _log_weights(name, w, n, dtype):
  if w is None:
    return jnp.zeros((n,), dtype)
  w = _checks.floating(name, w)
  if w.shape != (n,):
    raise ValueError(f"{name} must have shape [{n}], got {w.shape}")
  return w


def _log_total(x, y, log_wx, log_wy, **kw):
  """log sum_ij w_i w_j k(x_i, y_j)."""
  return jax.nn.logsumexp(log_wx + K.log_kernel_sum(x, y, log_weights=log_wy, **kw))


def cauchy_schwarz_divergence(
  x: ArrayLike,
  y: ArrayLike,
  *,
  bandwidth: ArrayLike,
  kernel: str = "gaussian",
  log_weights_x: ArrayLike | None = None,
  log_weights_y: ArrayLike | None = None,
  block_size: int | None = None,
) -> jax.Array:
  r"""Kernel (Parzen) estimate of the Cauchy-Schwarz divergence, log domain.

  .. math::
    \hat D_{CS} = \mathrm{lse}_{ij}(\log a_i a_j k_{ij}^{xx})
      + \mathrm{lse}_{ij}(\log b_i b_j k_{ij}^{yy})
      - 2\,\mathrm{lse}_{ij}(\log a_i b_j k_{ij}^{xy}) \;\ge 0.

  Example:
    >>> import jax.numpy as jnp
    >>> x = jnp.array([[0.0], [1.0]])
    >>> float(cauchy_schwarz_divergence(x, x, bandwidth=1.0))
    0.0

  Args:
    x: Samples of p, ``[n, dim]``.
    y: Samples of q, ``[m, dim]``.
    bandwidth: Kernel bandwidth, > 0 (may be traced).
    kernel: One of :data:`fdiv_jax.kernels.KERNELS`.
    log_weights_x: Log weights of ``x`` ``[n]`` (any scale; uniform if None).
    log_weights_y: Log weights of ``y`` ``[m]``.
    block_size: Tile side of the blocked kernel sums (None:
      :func:`fdiv_jax.kernels.default_block_size`).

  Returns:
    Scalar divergence.
  """
  x, y = _checks.floating("x", x, min_ndim=2), _checks.floating("y", y, min_ndim=2)
  if x.shape[0] == 0 or y.shape[0] == 0:
    raise ValueError(
      f"cauchy_schwarz_divergence needs at least 1 point in x and y, got {x.shape[0]}, {y.shape[0]}"
    )
  lwx = _log_weights("log_weights_x", log_weights_x, x.shape[0], x.dtype)
  lwy = _log_weights("log_weights_y", log_weights_y, y.shape[0], y.dtype)
  kw = dict(bandwidth=bandwidth, kernel=kernel, block_size=block_size)
  return (
    _log_total(x, x, lwx, lwx, **kw)
    + _log_total(y, y, lwy, lwy, **kw)
    - 2.0 * _log_total(x, y, lwx, lwy, **kw)
  )


def conditional_cauchy_schwarz_divergence(
  x: ArrayLike,
  y: ArrayLike,
  y_pred: ArrayLike,
  *,
  bandwidth_x: ArrayLike,
  bandwidth_y: ArrayLike,
  kernel: str = "gaussian",
  block_size: int | None = None,
) -> jax.Array:
  r"""Conditional CS divergence :math:`D_{CS}(p(y|x)\,\|\,q(\hat y|x))` on shared inputs.

  Samples :math:`(x_i, y_i) \sim p` and :math:`(x_i, \hat y_i) \sim q` share
  the inputs (regression: :math:`\hat y_i` is the model's prediction or a
  sample of its predictive at :math:`x_i`). With :math:`K_{ji} = k(x_j, x_i)`
  and :math:`L^{ab}_{ji} = k(a_j, b_i)`, the KDE derivation (Yu et al., ICLR
  2024, Prop. 1) gives

  .. math::
    \hat D = T(y, y) + T(\hat y, \hat y) - T(\hat y, y) - T(y, \hat y), \quad
    T(a, b) = \log\sum_j \frac{\sum_i K_{ji} L^{ab}_{ji}}{(\sum_i K_{ji})^2},

  with the squared *sum* of kernel values in the denominator (the public
  reference code uses :math:`\sum_i K_{ji}^2` there, which is not what the
  derivation gives). Every :math:`T` is evaluated as
  :math:`\mathrm{lse}_j[\mathrm{lse}_i(\log K_{ji} + \log L_{ji}) - 2\,\mathrm{lse}_i \log K_{ji}]`
  in blocks (O(n) memory).

  Args:
    x: Inputs ``[n, dx]``.
    y: Targets ``[n, dy]``.
    y_pred: Predictions ``[n, dy]``.
    bandwidth_x: Bandwidth on ``x``, > 0.
    bandwidth_y: Bandwidth on ``y``, > 0.
    kernel: One of :data:`fdiv_jax.kernels.KERNELS` (used for both).
    block_size: Tile side (None: :func:`fdiv_jax.kernels.default_block_size`).

  Returns:
    Scalar divergence (0 when ``y_pred == y``).

  References:
    Yu, Yu, Lokse, Jenssen, Principe. Cauchy-Schwarz Divergence Information
    Bottleneck for Regression. ICLR 2024, Proposition 1; Yu et al. The
    Conditional Cauchy-Schwarz Divergence. arXiv:2301.08970.
  """
  x = _checks.floating("x", x)
  y = _checks.floating("y", y)
  y_pred = _checks.floating("y_pred", y_pred)
  if x.ndim != 2 or y.ndim != 2:
    raise ValueError(f"x and y must be [n, dim] arrays, got {x.shape} and {y.shape}")
  _checks.same_shape("y", y, "y_pred", y_pred)
  if x.shape[0] != y.shape[0]:
    raise ValueError(
      f"x and y must have the same number of rows, got {x.shape[0]} and {y.shape[0]}"
    )
  bx = _checks.positive("bandwidth_x", bandwidth_x)
  by = _checks.positive("bandwidth_y", bandwidth_y)
  _checks.one_of("kernel", kernel, K.KERNELS)
  kw = dict(kernel=kernel, block_size=block_size)
  log_row_k = K.log_product_kernel_sum((x,), (x,), bandwidths=(bx,), **kw)

  def term(a, b):
    num = K.log_product_kernel_sum((x, a), (x, b), bandwidths=(bx, by), **kw)
    return jax.nn.logsumexp(num - 2.0 * log_row_k)

  return term(y, y) + term(y_pred, y_pred) - term(y_pred, y) - term(y, y_pred)


def cauchy_schwarz_mutual_information(
  x: ArrayLike,
  z: ArrayLike,
  *,
  bandwidth_x: ArrayLike,
  bandwidth_z: ArrayLike,
  kernel: str = "gaussian",
  block_size: int | None = None,
) -> jax.Array:
  r"""CS quadratic mutual information :math:`I_{CS}(x; z) = D_{CS}(p(x, z)\,\|\,p(x)p(z))`.

  With paired samples :math:`(x_i, z_i)`, :math:`K = k(x_i, x_j)`,
  :math:`L = k(z_i, z_j)` and row sums :math:`K_i = \sum_j K_{ij}`:

  .. math::
    \hat I_{CS} = \log\frac1{n^2}\sum_{ij} K_{ij} L_{ij}
      + \log\frac1{n^4}\sum_{ij} K_{ij}\sum_{ij} L_{ij}
      - 2\log\frac1{n^3}\sum_i K_i L_i \;\ge 0,

  (a product kernel on the joint; zero when ``z`` is constant). It is the
  compression term of the CS information bottleneck. Every sum is a blocked
  log-domain kernel sum (O(n) memory).

  Args:
    x: ``[n, dx]``.
    z: ``[n, dz]`` (paired with ``x`` row by row).
    bandwidth_x: > 0.
    bandwidth_z: > 0.
    kernel: One of :data:`fdiv_jax.kernels.KERNELS` (used for both).
    block_size: Tile side (None: :func:`fdiv_jax.kernels.default_block_size`).

  Returns:
    Scalar estimate.

  References:
    Principe. Information Theoretic Learning. Springer 2010, ch. 2 (QMI_CS).
    Yu, Yu, Lokse, Jenssen, Principe. Cauchy-Schwarz Divergence Information
    Bottleneck for Regression. ICLR 2024, eq. (9).
  """
  x, z = _checks.floating("x", x), _checks.floating("z", z)
  if x.ndim != 2 or z.ndim != 2 or x.shape[0] != z.shape[0]:
    raise ValueError(
      "x and z must be paired samples [n, dx] and [n, dz], got "
      f"x.shape={x.shape}, z.shape={z.shape}"
    )
  bx = _checks.positive("bandwidth_x", bandwidth_x)
  bz = _checks.positive("bandwidth_z", bandwidth_z)
  _checks.one_of("kernel", kernel, K.KERNELS)
  n = x.shape[0]
  log_n = jnp.log(jnp.asarray(n, x.dtype))
  row_x = K.log_kernel_sum(x, x, bandwidth=bx, kernel=kernel, block_size=block_size)
  row_z = K.log_kernel_sum(z, z, bandwidth=bz, kernel=kernel, block_size=block_size)

  joint = jax.nn.logsumexp(
    K.log_product_kernel_sum(
      (x, z), (x, z), bandwidths=(bx, bz), kernel=kernel, block_size=block_size
    )
  )
  product = jax.nn.logsumexp(row_x) + jax.nn.logsumexp(row_z)
  cross = jax.nn.logsumexp(row_x + row_z)
  return (joint - 2 * log_n) + (product - 4 * log_n) - 2 * (cross - 3 * log_n)


def mmd(
  x: ArrayLike,
  y: ArrayLike,
  *,
  bandwidth: ArrayLike,
  kernel: str = "gaussian",
  unbiased: bool = False,
  block_size: int | None = None,
) -> jax.Array:
  r"""Squared maximum mean discrepancy, from the same blocked kernel sums.

  .. math::
    \widehat{\mathrm{MMD}}^2_b = \overline{k^{xx}} + \overline{k^{yy}} - 2\,\overline{k^{xy}},
    \qquad
    \widehat{\mathrm{MMD}}^2_u = \frac{\sum_{i\ne j} k^{xx}_{ij}}{n(n-1)}
      + \frac{\sum_{i\ne j} k^{yy}_{ij}}{m(m-1)} - 2\,\overline{k^{xy}},

  biased (V-statistic, :math:`\ge 0`) or unbiased (U-statistic, may be
  negative). Uses :math:`k(x, x) = 1` for the diagonals.

  Args:
    x: ``[n, dim]``.
    y: ``[m, dim]``.
    bandwidth: > 0.
    kernel: One of :data:`fdiv_jax.kernels.KERNELS`.
    unbiased: U-statistic instead of V-statistic.
    block_size: Tile side (None: :func:`fdiv_jax.kernels.default_block_size`).

  Returns:
    Scalar MMD^2 estimate.

  References:
    Gretton et al. A Kernel Two-Sample Test. JMLR 2012, eqs. (3) and (5).
  """
  x, y = _checks.floating("x", x), _checks.floating("y", y)
  n, m = x.shape[0], y.shape[0]
  if n < 1 or m < 1:
    raise ValueError(f"mmd needs at least 1 point in x and y, got {n}, {m}")
  if unbiased and (n < 2 or m < 2):
    raise ValueError(f"unbiased MMD needs at least 2 points in x and y, got {n}, {m}")
  kw = dict(bandwidth=bandwidth, kernel=kernel, block_size=block_size)
  zx, zy = jnp.zeros((n,)), jnp.zeros((m,))
  lxx = _log_total(x, x, zx, zx, **kw)
  lyy = _log_total(y, y, zy, zy, **kw)
  lxy = _log_total(x, y, zx, zy, **kw)
  # Means of the kernel sums in log space: n^2 does not fit an int32 from n = 46 341.
  log_n, log_m = math.log(n), math.log(m)
  cross = 2 * jnp.exp(lxy - log_n - log_m)
  if unbiased:
    return (
      jnp.exp(lxx - log_n - math.log(n - 1))
      - 1 / (n - 1)
      + jnp.exp(lyy - log_m - math.log(m - 1))
      - 1 / (m - 1)
      - cross
    )
  return jnp.exp(lxx - 2 * log_n) + jnp.exp(lyy - 2 * log_m) - cross
