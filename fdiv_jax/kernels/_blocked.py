"""Blocked log-domain kernel sums: memory O(block_size^2 + n + m), never O(n m)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from fdiv_jax import _checks, parallel
from fdiv_jax import math as fmath
from fdiv_jax.kernels._pointwise import KERNELS, _inner, log_kernel, squared_distances

# Tile sides used when none is given, chosen with benchmarks/kernels.py (benchmarks/README.md):
# small tiles suit the CPU's caches, larger ones keep an accelerator busy between scan steps.
_CPU_BLOCK_SIZE = 1024
_ACCELERATOR_BLOCK_SIZE = 4096


def default_block_size(backend: str | None = None) -> int:
  """Tile side of the blocked kernel sums when none is given.

  Args:
    backend: A JAX platform name (``"cpu"``, ``"gpu"``, ``"tpu"``); None for JAX's
      default backend.

  Returns:
    ``1024`` on CPU, ``4096`` on GPU / TPU (an ``int``).
  """
  cpu = (backend or jax.default_backend()) == "cpu"
  return _CPU_BLOCK_SIZE if cpu else _ACCELERATOR_BLOCK_SIZE


def _block_size(block_size: int | None) -> int:
  """``block_size`` checked, or the default tile side."""
  if block_size is None:
    return default_block_size()
  try:
    size = operator.index(block_size)  # ints, NumPy integers; not floats
  except TypeError:
    size = 0
  if isinstance(block_size, bool) or size < 1:
    raise ValueError(
      f"block_size must be a positive int (or None for the default), got {block_size!r}"
    )
  return size


def blocked_row_logsumexp(
  log_terms: Callable[[jax.Array, jax.Array], jax.Array],
  rows: int,
  cols: int,
  *,
  block_size: int,
) -> jax.Array:
  r"""Row-wise ``logsumexp`` of a ``rows x cols`` matrix of log terms built tile by tile.

  .. math::
    \mathrm{out}_i = \log\sum_{j=1}^{\mathrm{cols}} e^{\ell_{ij}},

  with each ``b x c`` tile of :math:`\ell` built by ``log_terms`` from integer indices
  (``b = min(block_size, rows)``, ``c = min(block_size, cols)``). The last blocks are
  filled with in-range indices (``log_terms`` only sees valid ones); the filler columns
  are masked to ``-inf`` here and the filler rows dropped. Memory: one ``b x c`` tile for
  the value; reverse mode recomputes each row block's tiles (``jax.checkpoint``), so the
  gradient holds O(``rows * b``) at a time, not the ``rows x cols`` tiles.

  Args:
    log_terms: ``log_terms(row_idx, col_idx) -> [b, c]``, one tile of log terms from
      integer indices ``row_idx`` ``[b]`` and ``col_idx`` ``[c]``.
    rows: Number of rows.
    cols: Number of columns.
    block_size: Tile side, a positive int.

  Returns:
    ``[rows]``, the row log-sum-exps (``-inf`` for a row whose terms are all ``-inf``).
  """
  b = min(block_size, rows)
  c = min(block_size, cols)
  row_blocks = -(-rows // b)
  col_blocks = -(-cols // c)

  def row_block(r):
    row_idx = jnp.minimum(r * b + jnp.arange(b), rows - 1)

    def col_step(acc, k):
      col = k * c + jnp.arange(c)
      valid = col < cols
      tile = log_terms(row_idx, jnp.minimum(col, cols - 1))
      tile = jnp.where(valid[None, :], tile, -jnp.inf)
      return jnp.logaddexp(acc, jax.nn.logsumexp(tile, axis=1)), None

    init = jnp.full((b,), -jnp.inf)
    acc, _ = jax.lax.scan(col_step, init, jnp.arange(col_blocks))
    return acc

  # Rematerialised: reverse mode keeps only each row block's index and recomputes
  # its tiles, so gradient memory is O(rows * block) like the value's, not O(n m).
  out = jax.lax.map(jax.checkpoint(row_block), jnp.arange(row_blocks))
  return out.reshape(-1)[:rows]


# A row whose scaled sum falls below this has (nearly) underflowed in the
# fast Gaussian path; the exact log-domain path is then used instead.
_UNDERFLOW = 1e-30


def _gaussian_row_sums(
  x: jax.Array, y: jax.Array, log_w: jax.Array, *, block_size: int
) -> tuple[jax.Array, jax.Array]:
  r"""Fast path of the Gaussian kernel sums on pre-scaled points (bandwidth 1).

  With :math:`c_j = \log w_j - \|y_j\|^2/2`, :math:`M = \max_j \log w_j`,

  .. math::
    \log\sum_j w_j e^{-\|x_i - y_j\|^2/2}
      = M + \log\sum_j \exp\big(x_i^\top y_j + c_j - \|x_i\|^2/2 - M\big),

  and every exponent is :math:`\le 0` (it is :math:`\log k_{ij} + \log w_j -
  M`), so the shift is known in closed form: one matmul, one add and one exp
  per pair, no running maximum. Returns the log sums and the scaled sums (a
  row whose sum underflows needs the exact path).
  """
  n, m, dim = x.shape[0], y.shape[0], x.shape[1]
  b, c = min(block_size, n), min(block_size, m)
  xp = fmath.pad_rows(x, b)
  y, log_w = fmath.pad_rows(y, c), fmath.pad_rows(log_w, c, value=-jnp.inf)
  top = jnp.max(log_w)
  top = jnp.where(jnp.isfinite(top), top, 0.0)
  yb = y.reshape(-1, c, dim)
  col_terms = log_w.reshape(-1, c) - 0.5 * jnp.sum(yb * yb, axis=-1)

  def row_block(xr):
    shift = 0.5 * jnp.sum(xr * xr, axis=-1) + top

    def col_step(acc, block):
      yc, cc = block
      return acc + jnp.sum(jnp.exp(_inner(xr, yc) + cc[None, :] - shift[:, None]), axis=1), None

    acc, _ = jax.lax.scan(col_step, jnp.zeros((b,), x.dtype), (yb, col_terms))
    return acc

  # Rematerialised as in blocked_row_logsumexp: O(n * block) gradient memory.
  acc = jax.lax.map(jax.checkpoint(row_block), xp.reshape(-1, b, dim)).reshape(-1)[:n]
  # Double where: an underflowed row (whose value the caller replaces) must
  # not put log(0) in the gradient graph; a NaN row (NaN in the data) stays NaN.
  log_acc = jnp.log(jnp.where(acc > _UNDERFLOW, acc, 1.0))
  return top + jnp.where(jnp.isnan(acc), acc, log_acc), acc


def log_kernel_sum(
  x: ArrayLike,
  y: ArrayLike,
  *,
  bandwidth: ArrayLike,
  kernel: str = "gaussian",
  log_weights: ArrayLike | None = None,
  block_size: int | None = None,
) -> jax.Array:
  r"""Blocked :math:`\log\sum_j w_j\, k(x_i, y_j)` for every ``i``, ``[n]``.

  Computed tile by tile in the log domain (see :func:`blocked_row_logsumexp`),
  so memory is O(block_size^2) and the result is finite even when every
  :math:`k(x_i, y_j)` underflows (tiny bandwidth, high dimension). Under a
  ``jax.set_mesh`` context the rows are split over the devices
  (:func:`fdiv_jax.parallel.map_rows`).

  Args:
    x: Points ``[n, d]`` (samples first).
    y: Points ``[m, d]``.
    bandwidth: Kernel bandwidth, > 0 (may be traced).
    kernel: One of :data:`KERNELS`.
    log_weights: Log weights of ``y``, ``[m]`` (all ones if None).
    block_size: Tile side (None: :func:`default_block_size`).

  Returns:
    ``[n]``, the log kernel sum of every row of ``x``.
  """
  return _product_sum(
    (x,),
    (y,),
    (bandwidth,),
    kernel=kernel,
    log_weights=log_weights,
    block_size=block_size,
    names=("x", "y"),
  )


def log_product_kernel_sum(
  xs: Sequence[ArrayLike],
  ys: Sequence[ArrayLike],
  *,
  bandwidths: Sequence[ArrayLike],
  kernel: str = "gaussian",
  log_weights: ArrayLike | None = None,
  block_size: int | None = None,
) -> jax.Array:
  r"""Blocked :math:`\log\sum_j w_j \prod_f k_f(x^f_i, y^f_j)` for every ``i``, ``[n]``.

  A product kernel over paired feature sets ``f`` (e.g. inputs and targets),
  one bandwidth each: the joint-space sums of the conditional CS divergence
  and the CS mutual information. Same tiling, memory and sharding as
  :func:`log_kernel_sum` (its one-feature case).

  Args:
    xs: Feature arrays ``[n, d_f]``, one per factor.
    ys: Feature arrays ``[m, d_f]``, matching ``xs``.
    bandwidths: One bandwidth > 0 per factor.
    kernel: One of :data:`KERNELS` (every factor).
    log_weights: Log weights of the rows of ``ys``, ``[m]`` (all ones if None).
    block_size: Tile side (None: :func:`default_block_size`).

  Returns:
    ``[n]``, the log kernel sum of every row of ``xs``.
  """
  if not xs or len(xs) != len(ys) or len(bandwidths) != len(xs):
    raise ValueError(
      f"xs, ys and bandwidths must have one entry per factor, got "
      f"{len(xs)}, {len(ys)} and {len(bandwidths)}"
    )
  return _product_sum(
    xs, ys, bandwidths, kernel=kernel, log_weights=log_weights, block_size=block_size
  )


def _product_sum(
  xs, ys, bandwidths, *, kernel, log_weights, block_size, names=("xs[{f}]", "ys[{f}]")
):
  """:func:`log_product_kernel_sum` after its factor count check; ``names``
  words the errors (``("x", "y")`` for :func:`log_kernel_sum`)."""
  xs = tuple(_checks.floating(names[0].format(f=f), a) for f, a in enumerate(xs))
  ys = tuple(_checks.floating(names[1].format(f=f), b) for f, b in enumerate(ys))
  n, m = (c[0].shape[0] if c[0].ndim == 2 else None for c in (xs, ys))
  for f, (a, b) in enumerate(zip(xs, ys)):
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or a.shape[0] != n or b.shape[0] != m:
      xn, yn = (s.format(f=f) for s in names)
      raise ValueError(
        f"{xn} and {yn} must be point clouds [{n or 'n'}, dim] and "
        f"[{m or 'm'}, dim] of the same dim, got {xn}.shape={a.shape}, "
        f"{yn}.shape={b.shape}"
      )
  bws = tuple(jnp.asarray(_checks.positive("bandwidth", b), xs[0].dtype) for b in bandwidths)
  _checks.one_of("kernel", kernel, KERNELS)
  block_size = _block_size(block_size)
  if log_weights is None:
    log_w = jnp.zeros((m,), xs[0].dtype)
  else:
    log_w = _checks.floating("log_weights", log_weights)
    if log_w.shape != (m,):
      raise ValueError(f"log_weights must have shape [{m}] (one per row of y), got {log_w.shape}")

  def rows(xs, ys, log_w, bws):
    def tile(i, j):
      out = log_w[j][None, :]
      for a, b, bw in zip(xs, ys, bws):
        out = out + log_kernel(squared_distances(a[i], b[j]), kernel=kernel, bandwidth=bw)
      return out

    def exact():
      return blocked_row_logsumexp(tile, xs[0].shape[0], m, block_size=block_size)

    if kernel != "gaussian":
      return exact()
    # A product of Gaussians is one Gaussian on the features scaled by 1/bandwidth.
    x = jnp.concatenate([a / bw for a, bw in zip(xs, bws)], axis=-1)
    y = jnp.concatenate([b / bw for b, bw in zip(ys, bws)], axis=-1)
    fast, scaled = _gaussian_row_sums(x, y, log_w, block_size=block_size)
    return jax.lax.cond(jnp.any(scaled < _UNDERFLOW), exact, lambda: fast)

  return parallel.map_rows(rows, xs, ys, log_w, bws)
