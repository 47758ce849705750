"""FAB's weighted maximum-likelihood losses."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from fdiv_jax import _checks
from fdiv_jax import divergences as _divergences
from fdiv_jax.annealing._paths import alpha_of
from fdiv_jax.annealing._resampling import _valid_log_weights

LogDensity = Callable[[jax.Array], jax.Array]  # x [N, d] -> [N]


class FABBufferLoss(NamedTuple):
  r"""FAB's buffer loss and its per-sample adjustment.

  Attributes:
    loss: The scalar loss.
    log_adjust: ``[M]`` :math:`(1-\alpha)(\log q_\theta - \log q_{\rm old})` before clipping.
  """

  loss: jax.Array
  log_adjust: jax.Array


def fab_loss(log_q: ArrayLike, log_weights: ArrayLike) -> jax.Array:
  r"""FAB's loss on AIS samples (no buffer): :math:`-\sum_i \bar w_i \log q_\theta(x_i)`.

  :math:`\bar w = \mathrm{softmax}(\mathrm{sg}[\log w])` are the self-normalised
  AIS weights towards :math:`\gamma \propto p^\alpha q^{1-\alpha}`
  (:func:`alpha_target`), so the loss estimates :math:`-\mathbb E_\gamma[\log q_\theta]`
  and, for :math:`\alpha > 1`, its gradient is
  :math:`\frac{\alpha}{Z_\gamma}\nabla_\theta D_\alpha(p\|q_\theta)` (positive
  multiple); :math:`\alpha = 1` gives the forward-KL gradient. fab-jax averages
  instead of summing (a factor ``1/N``). Invalid weights count as zero.

  Args:
    log_q: ``[N]`` flow log density at the AIS samples (differentiable in θ).
    log_weights: ``[N]`` AIS log weights (held constant).

  Returns:
    The scalar loss (the sample axis reduced; inputs ``[..., N]`` give ``[...]``).

  References:
    Midgley et al. Flow annealed importance sampling bootstrap. ICLR 2023.
  """
  log_q = _checks.floating("log_q", log_q, min_ndim=1)
  log_w = jax.lax.stop_gradient(
    _valid_log_weights(_checks.floating("log_weights", log_weights, min_ndim=1))
  )
  _checks.same_shape("log_q", log_q, "log_weights", log_w)
  w = jax.nn.softmax(log_w, axis=-1)
  return -jnp.sum(jnp.where(w > 0, w * log_q, 0.0), axis=-1)


def fab_buffer_loss(
  log_q: ArrayLike,
  log_q_old: ArrayLike,
  *,
  alpha: _divergences.Divergence | str | ArrayLike,
  max_weight: float = 10.0,
) -> FABBufferLoss:
  r"""FAB's loss on samples drawn from the prioritised buffer in proportion to :math:`w`.

  .. math::
    \mathcal L = -\frac1M\sum_i \min\big(e^{(1-\alpha)(\mathrm{sg}[\log q_\theta]
      - \log q_{\rm old})}, c\big)\,\log q_\theta(x_i),

  the correction for the flow having changed since the sample's weight was
  set (fab-jax, ``w_adjust_clip`` ``c = 10``).

  Args:
    log_q: ``[M]`` current flow log density at the buffer samples.
    log_q_old: ``[M]`` the stored log density.
    alpha: The order (number, traced array or registry entry).
    max_weight: Clip ``c`` of the adjustment.

  Returns:
    A :class:`FABBufferLoss` with fields ``loss``, a scalar (the sample axis reduced;
    inputs ``[..., M]`` give ``[...]``), and ``log_adjust`` ``[M]`` (not reduced);
    pass ``log_q`` (held constant) to :func:`buffer_adjust`.

  References:
    Midgley et al. Flow annealed importance sampling bootstrap. ICLR 2023 (reference
    code lollcat/fab-jax).
  """
  a = alpha_of(alpha)
  log_q = _checks.floating("log_q", log_q, min_ndim=1)
  log_q_old = _checks.floating("log_q_old", log_q_old, min_ndim=1)
  _checks.same_shape("log_q", log_q, "log_q_old", log_q_old)
  _checks.positive("max_weight", max_weight)
  log_adjust = (1.0 - a) * (jax.lax.stop_gradient(log_q) - log_q_old)
  w = jnp.minimum(jnp.exp(log_adjust), max_weight)
  w = jnp.where(jnp.isfinite(log_adjust), w, 0.0)
  return FABBufferLoss(-jnp.mean(jnp.where(w > 0, w * log_q, 0.0), axis=-1), log_adjust)
