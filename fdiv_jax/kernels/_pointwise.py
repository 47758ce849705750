"""Kernel values from squared distances, and the distances themselves."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from fdiv_jax import _checks
from fdiv_jax import math as fmath

KERNELS = ("gaussian", "laplace", "inverse_multiquadric")

# Inner products in the kernel sums run at full float32 precision: XLA's default on GPUs
# (TF32 / bf16 matmuls) puts an absolute error of ~1e-3 |x| |y| / sigma^2 into every log
# kernel value (measured in benchmarks/README.md). A user-set
# ``jax.default_matmul_precision`` takes precedence; on CPU this is a no-op.
_PRECISION = jax.lax.Precision.HIGHEST


def _inner(x: jax.Array, y: jax.Array) -> jax.Array:
  """``x @ y.T`` at :data:`_PRECISION`, unless the user set a default matmul
  precision (``jax.default_matmul_precision``), which then applies."""
  user_set = jax.config.jax_default_matmul_precision is not None
  return jnp.matmul(x, y.T, precision=None if user_set else _PRECISION)


def squared_distances(x: ArrayLike, y: ArrayLike, *, form: str = "matmul") -> jax.Array:
  r"""Pairwise squared Euclidean distances :math:`\|x_i - y_j\|^2` of two point clouds.

  ``form="matmul"``: :math:`\|x_i\|^2 + \|y_j\|^2 - 2 x_i^\top y_j`, at matrix-multiply
  speed (at full float32 precision, also on GPU / TPU, unless a
  ``jax.default_matmul_precision`` context says otherwise), clamped at 0; it cancels
  for near points (the kernel sums do not mind). ``form="difference"``: the sum of
  squared coordinate differences, exact (0 for equal points) but ``O(n m d)`` memory;
  what distances themselves need (energy distance, nearest centres).

  Args:
    x: Points ``[n, d]`` (samples first).
    y: Points ``[m, d]``.
    form: ``"matmul"`` (default) or ``"difference"``.

  Returns:
    ``[n, m]``, the squared distance of every pair, :math:`\ge 0`.
  """
  _checks.one_of("form", form, ("matmul", "difference"))
  x, y = jnp.asarray(x), jnp.asarray(y)
  if form == "difference":
    return jnp.sum((x[:, None, :] - y[None]) ** 2, axis=-1)
  sq = jnp.sum(x * x, axis=-1)[:, None] + jnp.sum(y * y, axis=-1)[None, :] - 2.0 * _inner(x, y)
  return jnp.maximum(sq, 0.0)


def log_kernel(sq_dist: ArrayLike, *, kernel: str, bandwidth: ArrayLike) -> jax.Array:
  r"""Log kernel value :math:`\log k` from squared distances :math:`d^2`, elementwise.

  .. math::
    \log k = -\frac{d^2}{2\sigma^2} \ (\text{gaussian}), \qquad
    -\frac{d}{\sigma} \ (\text{laplace}), \qquad
    -\tfrac12 \log\Big(1 + \frac{d^2}{\sigma^2}\Big) \ (\text{inverse multiquadric}).

  The Laplace kernel's gradient at :math:`d = 0` is 0 (double-where), not ``inf``.

  Args:
    sq_dist: Squared distances :math:`d^2 \ge 0`, ``[...]`` (e.g. ``[n, m]`` from
      :func:`squared_distances`).
    kernel: One of :data:`KERNELS`.
    bandwidth: :math:`\sigma > 0`, broadcastable with ``sq_dist`` (may be traced).

  Returns:
    ``[...]``, the shape of ``sq_dist``.
  """
  _checks.one_of("kernel", kernel, KERNELS)
  sq_dist = jnp.asarray(sq_dist)
  bandwidth = jnp.asarray(bandwidth, sq_dist.dtype)
  if kernel == "gaussian":
    return -sq_dist / (2.0 * bandwidth * bandwidth)
  if kernel == "laplace":
    # Double-where: sqrt has an infinite derivative at 0. The else branch is
    # 0 * sq_dist, not 0, so that a NaN distance stays NaN.
    positive = sq_dist > 0
    dist = fmath.double_where(positive, jnp.sqrt, sq_dist, safe=1.0, otherwise=0.0 * sq_dist)
    return -dist / bandwidth
  return -0.5 * jnp.log1p(sq_dist / (bandwidth * bandwidth))
