r"""Critic-based variational bounds on divergences, and their training losses.

All functions take raw critic outputs ``critic_p = V(x)``, ``x ~ P``, shape
``[..., N]`` and ``critic_q = V(y)``, ``y ~ Q``, shape ``[..., M]`` (the sample axis
``axis``, the last by default; the other axes are batch axes that must agree), and
reduce the sample axis.

* f-GAN (Nowozin et al., 2016), for every registry entry:
  :math:`D_f(P\|Q) \ge \mathbb{E}_P[g_f(V)] - \mathbb{E}_Q[f^*(g_f(V))]`,
  tight at :math:`g_f(V) = f'(p/q)`.
* Donsker-Varadhan: :math:`\mathrm{KL} \ge \mathbb{E}_P[T] - \log\mathbb{E}_Q[e^T]`,
  tight at :math:`T = \log(p/q) + c` for any constant ``c``.
* NWJ (Nguyen, Wainwright, Jordan 2010):
  :math:`\mathrm{KL} \ge \mathbb{E}_P[T] - \mathbb{E}_Q[e^{T-1}]`, tight at
  :math:`T = 1 + \log(p/q)`.
* Cumulant GAN (Pantazis et al., 2020) and the Renyi-DV bound (Birrell et al.,
  2021), from the scaled cumulant :math:`\Lambda_P(a) = \frac1a\log\mathbb{E}_P e^{aV}`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from fdiv_jax import _checks
from fdiv_jax import math as fmath
from fdiv_jax.divergences import Divergence, resolve

__all__ = [
  "MineState",
  "cumulant_gan_bound",
  "donsker_varadhan_bound",
  "f_gan_bound",
  "f_gan_critic_loss",
  "f_gan_generator_loss",
  "mine_init",
  "mine_loss",
  "nwj_bound",
  "renyi_bound",
]


def _critics(critic_p: ArrayLike, critic_q: ArrayLike, axis: int = -1):
  critic_p = _checks.samples("critic_p", critic_p, axis)
  critic_q = _checks.samples("critic_q", critic_q, axis)
  _checks.same_batch("critic_p", critic_p, "critic_q", critic_q)
  return critic_p, critic_q


def f_gan_bound(
  critic_p: ArrayLike, critic_q: ArrayLike, *, divergence: str | Divergence, axis: int = -1
) -> jax.Array:
  r"""The f-GAN variational lower bound on :math:`D_f(P\|Q)` (reduces).

  .. math::
    F(V) = \frac1N\sum_i g_f(V(x_i)) - \frac1M\sum_j f^*(g_f(V(y_j))),
    \quad x_i \sim P,\; y_j \sim Q,

  with the fused stable :math:`f^*\circ g_f` of the registry. The bound is
  tight when :math:`g_f(V) = f'(p/q)` (for ``"kl"``: :math:`V = 1 + \log(p/q)`;
  ``"js"``, ``"gan"``, ``"reverse_kl"`` and ``"alpha"``: :math:`V = \log(p/q)`).

  Example:
    >>> import jax.numpy as jnp
    >>> float(f_gan_bound(jnp.zeros(3), jnp.zeros(3), divergence="js"))
    0.0

  Args:
    critic_p: Critic outputs on samples of P, ``[..., N]``.
    critic_q: Critic outputs on samples of Q, ``[..., M]``.
    divergence: Registry name or :class:`~fdiv_jax.divergences.Divergence`.
    axis: The sample axis (default the last; ``0`` for samples from TFP / distrax), the
      same for both inputs; their other (batch) axes must agree.

  Returns:
    ``[...]``, the batch axes (the sample axes reduced).

  References:
    Nowozin, Cseke, Tomioka. f-GAN. NeurIPS 2016, eq. (6) and Table 6.
  """
  div = resolve(divergence)
  critic_p, critic_q = _critics(critic_p, critic_q, axis)
  return jnp.mean(div.activation(critic_p), axis=-1) - jnp.mean(
    div.conjugate_of_activation(critic_q), axis=-1
  )


def f_gan_critic_loss(
  critic_p: ArrayLike, critic_q: ArrayLike, *, divergence: str | Divergence, axis: int = -1
) -> jax.Array:
  r"""Critic loss of f-GAN: the negative f-GAN bound (minimise it to tighten the bound).

  .. math::
    \mathcal{L}(V) = -F(V) = -\frac1N\sum_i g_f(V(x_i)) + \frac1M\sum_j f^*(g_f(V(y_j))),

  with :math:`F` the bound of :func:`f_gan_bound`.

  Args:
    critic_p: Critic outputs on samples of P, ``[..., N]``.
    critic_q: Critic outputs on samples of Q, ``[..., M]``.
    divergence: Registry name or :class:`~fdiv_jax.divergences.Divergence`.
    axis: The sample axis (default the last; ``0`` for samples from TFP / distrax), the
      same for both inputs; their other (batch) axes must agree.

  Returns:
    ``[...]``, the batch axes (the sample axes reduced).

  References:
    Nowozin, Cseke, Tomioka. f-GAN. NeurIPS 2016, eq. (6).
  """
  return -f_gan_bound(critic_p, critic_q, divergence=divergence, axis=axis)


def f_gan_generator_loss(
  critic_q: ArrayLike,
  *,
  divergence: str | Divergence,
  non_saturating: bool = False,
  axis: int = -1,
) -> jax.Array:
  r"""Generator loss for a generator that produces the Q-samples (reduces).

  The generator minimises the bound :math:`F`; only its Q term depends on it:

  * saturating (``non_saturating=False``, the minimax game of f-GAN eq. (6)):
    :math:`\mathcal{L} = -\frac1M\sum_j f^*(g_f(V(y_j)))`;
  * non-saturating (f-GAN Sec. 3.2, "alternative"): :math:`\mathcal{L} =
    -\frac1M\sum_j g_f(V(y_j))`. For ``"gan"`` this is the familiar
    :math:`-\log D(y)` loss of Goodfellow et al., whose gradients do not vanish
    when the critic confidently rejects the samples; it shares the fixed
    point but is not the gradient of :math:`D_f`.

  Args:
    critic_q: Critic outputs on generator samples, ``[..., M]``.
    divergence: Registry name or :class:`~fdiv_jax.divergences.Divergence`.
    non_saturating: Use the non-saturating form.
    axis: The sample axis (default the last; ``0`` for samples from TFP / distrax).

  Returns:
    ``[...]``, the batch axes (the sample axis reduced).

  References:
    Nowozin, Cseke, Tomioka. f-GAN. NeurIPS 2016, eq. (6) and Sec. 3.2.
    Goodfellow et al. Generative Adversarial Nets. NeurIPS 2014.
  """
  div = resolve(divergence)
  critic_q = _checks.samples("critic_q", critic_q, axis)
  if non_saturating:
    return -jnp.mean(div.activation(critic_q), axis=-1)
  return -jnp.mean(div.conjugate_of_activation(critic_q), axis=-1)


def donsker_varadhan_bound(
  critic_p: ArrayLike, critic_q: ArrayLike, *, axis: int = -1
) -> jax.Array:
  r"""Donsker-Varadhan lower bound on :math:`\mathrm{KL}(P\|Q)` (reduces).

  .. math::
    \mathrm{KL}(P\|Q) \ge \frac1N\sum_i T(x_i) - \log\frac1M\sum_j e^{T(y_j)},

  computed with ``logsumexp``; invariant to adding a constant to ``T`` and
  tight at :math:`T = \log(p/q)`. The log makes the minibatch estimate (and
  its gradient) biased; see :func:`mine_loss` for the EMA correction.

  Args:
    critic_p: Critic outputs :math:`T(x_i)` on samples of P, ``[..., N]``.
    critic_q: Critic outputs :math:`T(y_j)` on samples of Q, ``[..., M]``.
    axis: The sample axis (default the last; ``0`` for samples from TFP / distrax), the
      same for both inputs; their other (batch) axes must agree.

  Returns:
    ``[...]``, the batch axes (the sample axes reduced).

  References:
    Donsker & Varadhan (1983); Belghazi et al. MINE. ICML 2018.
  """
  critic_p, critic_q = _critics(critic_p, critic_q, axis)
  return jnp.mean(critic_p, axis=-1) - fmath.log_mean_exp(critic_q, axis=-1)


def nwj_bound(critic_p: ArrayLike, critic_q: ArrayLike, *, axis: int = -1) -> jax.Array:
  r"""NWJ lower bound on :math:`\mathrm{KL}(P\|Q)` (reduces).

  .. math::
    \mathrm{KL}(P\|Q) \ge \frac1N\sum_i T(x_i) - \frac1M\sum_j e^{T(y_j) - 1},

  the f-GAN bound of ``"kl"``; unbiased in minibatches, tight at
  :math:`T = 1 + \log(p/q)`.

  Args:
    critic_p: Critic outputs :math:`T(x_i)` on samples of P, ``[..., N]``.
    critic_q: Critic outputs :math:`T(y_j)` on samples of Q, ``[..., M]``.
    axis: The sample axis (default the last; ``0`` for samples from TFP / distrax), the
      same for both inputs; their other (batch) axes must agree.

  Returns:
    ``[...]``, the batch axes (the sample axes reduced).

  References:
    Nguyen, Wainwright, Jordan. Estimating divergence functionals and the
    likelihood ratio by convex risk minimization. IEEE Trans. IT 2010.
  """
  return f_gan_bound(critic_p, critic_q, divergence="kl", axis=axis)


class MineState(NamedTuple):
  r"""Running log of the EMA of :math:`\mathbb{E}_Q[e^T]` used by MINE, ``[...]``."""

  log_ema: jax.Array


def mine_init(batch_shape: tuple[int, ...] = (), *, dtype=None) -> MineState:
  """Initial :class:`MineState` (EMA of 1, i.e. log 0).

  Args:
    batch_shape: Leading shape of the critic batches.
    dtype: Of the running estimate; JAX's default float if ``None`` (float32, or
      float64 under ``jax_enable_x64``).

  Returns:
    A :class:`MineState` with field ``log_ema``, zeros of shape ``batch_shape``.

  References:
    Belghazi et al. Mutual Information Neural Estimation. ICML 2018, Sec. 3.2.
  """
  return MineState(log_ema=jnp.zeros(batch_shape, dtype or _checks.float_dtype()))


def mine_loss(
  critic_p: ArrayLike,
  critic_q: ArrayLike,
  state: MineState,
  *,
  decay: ArrayLike = 0.99,
  axis: int = -1,
) -> tuple[jax.Array, MineState]:
  r"""MINE critic loss with the bias-corrected (EMA) gradient (reduces).

  The value is the negative Donsker-Varadhan bound; its gradient replaces
  :math:`\nabla\log\bar m = \nabla\bar m/\bar m` (biased in minibatches) by
  :math:`\nabla\bar m / \mathrm{EMA}(\bar m)` with
  :math:`\bar m = \frac1M\sum_j e^{T(y_j)}`; the EMA is kept in log space.

  Args:
    critic_p: Critic outputs on P samples, ``[..., N]``.
    critic_q: Critic outputs on Q samples, ``[..., M]``.
    state: Previous :class:`MineState` (``log_ema`` ``[...]``; :func:`mine_init` at the
      first step).
    decay: EMA decay in ``[0, 1)``.
    axis: The sample axis (default the last; ``0`` for samples from TFP / distrax), the
      same for both inputs; their other (batch) axes must agree.

  Returns:
    A tuple ``(loss, new_state)``: ``loss`` ``[...]``, the batch axes (the sample axes
    reduced), and the updated :class:`MineState`.

  References:
    Belghazi et al. Mutual Information Neural Estimation. ICML 2018, Sec. 3.2.
  """
  critic_p, critic_q = _critics(critic_p, critic_q, axis)
  decay = jnp.asarray(decay, critic_q.dtype)
  log_m = fmath.log_mean_exp(critic_q, axis=-1)
  log_m_sg = jax.lax.stop_gradient(log_m)
  log_ema = jnp.logaddexp(jnp.log(decay) + state.log_ema, jnp.log1p(-decay) + log_m_sg)
  ratio = jnp.exp(log_m - log_ema)  # m / EMA, gradient grad(m) / EMA
  correction = ratio - jax.lax.stop_gradient(ratio)
  bound = jnp.mean(critic_p, axis=-1) - log_m_sg - correction
  return -bound, MineState(log_ema=log_ema)


def cumulant_gan_bound(
  critic_p: ArrayLike, critic_q: ArrayLike, *, beta: ArrayLike, gamma: ArrayLike, axis: int = -1
) -> jax.Array:
  r"""Cumulant GAN objective (reduces).

  .. math::
    L_{\beta,\gamma}(V) = -\frac1\beta\log\mathbb{E}_P[e^{-\beta V}]
      - \frac1\gamma\log\mathbb{E}_Q[e^{\gamma V}]
      = \Lambda_P(-\beta) - \Lambda_Q(\gamma),

  continuous in both parameters (:math:`\Lambda(0)` is the mean).
  ``(0, 0)`` gives the Wasserstein-GAN form :math:`\mathbb{E}_P V - \mathbb{E}_Q V`,
  ``(0, 1)`` Donsker-Varadhan, and ``(1 - a, a)`` the Renyi form of
  :func:`renyi_bound` divided by ``a``.

  Args:
    critic_p: Critic outputs :math:`V(x_i)` on samples of P, ``[..., N]``.
    critic_q: Critic outputs :math:`V(y_j)` on samples of Q, ``[..., M]``.
    beta: :math:`\beta`, a scalar (may be traced).
    gamma: :math:`\gamma`, a scalar (may be traced).
    axis: The sample axis (default the last; ``0`` for samples from TFP / distrax), the
      same for both inputs; their other (batch) axes must agree.

  Returns:
    ``[...]``, the batch axes (the sample axes reduced).

  References:
    Pantazis, Paul, Birrell, Katsoulakis, Tsourdos, Kalogeropoulos.
    Cumulant GAN. IEEE TNNLS 2022 (arXiv:2006.06625).
  """
  critic_p, critic_q = _critics(critic_p, critic_q, axis)
  return fmath.cumulant(critic_p, -jnp.asarray(beta, critic_p.dtype)) - fmath.cumulant(
    critic_q, jnp.asarray(gamma, critic_q.dtype)
  )


def renyi_bound(
  critic_p: ArrayLike, critic_q: ArrayLike, *, alpha: ArrayLike, axis: int = -1
) -> jax.Array:
  r"""Renyi-Donsker-Varadhan lower bound on the Renyi divergence (reduces).

  Normalisation: the standard Renyi divergence
  :math:`D_\alpha = \frac{1}{\alpha-1}\log\int p^\alpha q^{1-\alpha}`
  (Birrell et al. bound :math:`R_\alpha = D_\alpha/\alpha`; we multiply by
  :math:`\alpha`):

  .. math::
    D_\alpha(P\|Q) \ge \frac{\alpha}{\alpha-1}\log\mathbb{E}_P[e^{(\alpha-1)V}]
      - \log\mathbb{E}_Q[e^{\alpha V}]
    = \alpha\,\big(\Lambda_P(\alpha-1) - \Lambda_Q(\alpha)\big),

  tight at :math:`V = \log(p/q)` (+ any constant); :math:`\alpha \to 1`
  recovers Donsker-Varadhan.

  Args:
    critic_p: Critic outputs :math:`V(x_i)` on samples of P, ``[..., N]``.
    critic_q: Critic outputs :math:`V(y_j)` on samples of Q, ``[..., M]``.
    alpha: Order :math:`\alpha > 0`, a scalar (may be traced).
    axis: The sample axis (default the last; ``0`` for samples from TFP / distrax), the
      same for both inputs; their other (batch) axes must agree.

  Returns:
    ``[...]``, the batch axes (the sample axes reduced).

  Raises:
    ValueError: a concrete ``alpha <= 0``.

  References:
    Birrell, Dupuis, Katsoulakis, Rey-Bellet, Wang. Variational
    representations and neural network estimation of Renyi divergences.
    SIAM J. Math. Data Sci. 2021, Thm. 2.1.
  """
  alpha = _checks.positive("alpha", alpha)
  return alpha * cumulant_gan_bound(critic_p, critic_q, beta=1.0 - alpha, gamma=alpha, axis=axis)
