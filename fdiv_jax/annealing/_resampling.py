"""Multinomial and systematic resampling of weighted samples."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from fdiv_jax import _checks
from fdiv_jax import monte_carlo as _monte_carlo

LogDensity = Callable[[jax.Array], jax.Array]  # x [N, d] -> [N]
RESAMPLING = ("multinomial", "systematic")


class Resampled(NamedTuple):
  """Result of :func:`resample`.

  Attributes:
    indices: ``[num_samples]`` int32 indices into the weighted sample.
    ess: Kish effective sample size of the (clipped) weights, in samples.
    ess_fraction: ``ess / N``, in ``(0, 1]``.
    clipped_fraction: Fraction of log weights above the clipping threshold.
  """

  indices: jax.Array
  ess: jax.Array
  ess_fraction: jax.Array
  clipped_fraction: jax.Array


def _importance(log_weights: jax.Array) -> _monte_carlo.ImportanceWeights:
  """Log normaliser and Kish ESS of log weights (``monte_carlo.importance_weights``)."""
  return _monte_carlo.importance_weights(log_weights, jnp.zeros_like(log_weights))


def _valid_log_weights(log_weights: jax.Array) -> jax.Array:
  """NaN and +inf log weights are invalid: they get weight zero (log -inf)."""
  return jnp.where(jnp.isnan(log_weights) | (log_weights == jnp.inf), -jnp.inf, log_weights)


def resample(
  key: jax.Array,
  log_weights: ArrayLike,
  num_samples: int,
  *,
  method: str = "multinomial",
  clip_quantile: float | None = None,
) -> Resampled:
  r"""Draw indices in proportion to :math:`w_i = e^{\log w_i}` by inverse CDF.

  ``"multinomial"``: ``num_samples`` i.i.d. uniforms through the CDF of the
  normalised weights (binary search, :math:`O(M\log N)`; the draws of
  ``jax.random.choice(key, N, p=w)``). ``"systematic"``: one uniform :math:`u`,
  the points :math:`(k + 1 - u)/M`, :math:`k = 0..M-1` (lower variance; Kitagawa 1996).
  With ``clip_quantile`` the log weights above that quantile
  are set to it first (TA-BG's clipping). NaN / +inf log weights get weight 0.

  Args:
    key: PRNG key.
    log_weights: ``[N]`` unnormalised log weights.
    num_samples: ``M``, number of indices to draw (static).
    method: ``"multinomial"`` or ``"systematic"``.
    clip_quantile: Quantile in ``(0, 1]`` above which log weights are clipped, or None.

  Returns:
    A :class:`Resampled` with fields ``indices`` ``[M]`` (int32, in ``[0, N)``) and the
    scalars ``ess``, ``ess_fraction`` and ``clipped_fraction`` of the weights used (the
    sample axis reduced).

  References:
    Kitagawa. Monte Carlo filter and smoother for non-Gaussian nonlinear state space
    models. JCGS 1996 (systematic resampling).
    Schopmans & Friederich. Temperature-annealed Boltzmann generators. ICML 2025 (clipping).
  """
  _checks.one_of("method", method, RESAMPLING)
  log_w = _checks.floating("log_weights", log_weights, min_ndim=1)
  if log_w.ndim != 1:
    raise ValueError(f"log_weights must have shape [N], got {log_w.shape}")
  if not isinstance(num_samples, (int, np.integer)) or num_samples < 1:
    raise ValueError(f"num_samples must be a positive int, got {num_samples!r}")
  log_w = _valid_log_weights(log_w)
  clipped_fraction = jnp.zeros((), log_w.dtype)
  if clip_quantile is not None:
    if not 0.0 < clip_quantile <= 1.0:
      raise ValueError(f"clip_quantile must be in (0, 1], got {clip_quantile!r}")
    finite = jnp.isfinite(log_w)
    # The quantile of the finite weights (the -inf ones are not candidates).
    threshold = jnp.nanquantile(jnp.where(finite, log_w, jnp.nan), clip_quantile)
    clipped_fraction = jnp.mean(log_w > threshold)
    log_w = jnp.minimum(log_w, threshold)
  n = log_w.shape[0]
  iw = _importance(log_w)
  cdf = jnp.cumsum(jax.nn.softmax(log_w))
  if method == "multinomial":
    # As jax.random.choice(p=...): the same draws for the same key.
    u = 1.0 - jax.random.uniform(key, (num_samples,), dtype=cdf.dtype)
  else:
    u = (
      jnp.arange(num_samples, dtype=cdf.dtype) + 1.0 - jax.random.uniform(key, (), dtype=cdf.dtype)
    ) / num_samples
  # u in (0, 1]: the first index whose CDF reaches u * total, so a zero-weight
  # entry (a flat step of the CDF) is never drawn; cdf[-1] may round below 1.
  idx = jnp.searchsorted(cdf, u * cdf[-1], side="left")
  idx = jnp.minimum(idx, n - 1).astype(jnp.int32)
  return Resampled(idx, iw.ess, iw.ess_fraction, clipped_fraction)
