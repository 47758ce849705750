"""The f-distill losses and weights (see :mod:`fdiv_jax.distill`)."""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from fdiv_jax import _checks
from fdiv_jax.diffusion import denoising_score_matching_loss
from fdiv_jax.divergences import Divergence, resolve


def noise_level_bins(
  sigma: ArrayLike, *, sigma_min: float, sigma_max: float, num_bins: int = 10
) -> jax.Array:
  r"""Integer bin of each noise level, equal-width in :math:`\log\sigma`, ``[...]``.

  .. math::
    b = \mathrm{clip}\Big(\Big\lfloor K\,\frac{\log\sigma - \log\sigma_{\min}}
      {\log\sigma_{\max} - \log\sigma_{\min}}\Big\rfloor,\ 0,\ K - 1\Big),

  with :math:`K` = ``num_bins``: the bins of the per-noise-level ratio normalisation of
  :func:`weights`.

  Args:
    sigma: Noise levels ``[...]``, > 0.
    sigma_min: Lower edge of the first bin (smaller levels fall in bin 0).
    sigma_max: Upper edge of the last bin (larger levels fall in bin ``num_bins - 1``).
    num_bins: Number of bins :math:`K`, >= 1.

  Returns:
    ``[...]`` int32 bin indices in ``[0, num_bins)``, one per noise level.
  """
  if num_bins < 1:
    raise ValueError(f"num_bins must be >= 1, got {num_bins}")
  log_s = jnp.log(_checks.positive("sigma", sigma))
  lo, hi = jnp.log(sigma_min), jnp.log(sigma_max)
  frac = (log_s - lo) / (hi - lo)
  return jnp.clip(jnp.floor(frac * num_bins), 0, num_bins - 1).astype(jnp.int32)


def _bin_log_mean(log_r: jax.Array, bins: jax.Array, num_bins: int) -> jax.Array:
  """Per-example log of the mean ratio over the batch members of its bin."""
  one_hot = jax.nn.one_hot(bins, num_bins, dtype=log_r.dtype)  # [B, nb]
  masked = jnp.where(one_hot > 0, log_r[:, None], -jnp.inf)
  count = jnp.sum(one_hot, axis=0)
  lse = jax.nn.logsumexp(masked, axis=0)  # [nb]
  log_mean = jnp.where(count > 0, lse - jnp.log(jnp.maximum(count, 1.0)), 0.0)
  return log_mean[bins]


def weights(
  log_r: ArrayLike,
  *,
  divergence: str | Divergence,
  logit_clip: tuple[float, float] | None = (-10.0, 10.0),
  ratio_clip: tuple[float, float] | None = None,
  bins: ArrayLike | None = None,
  num_bins: int = 10,
  normalize: bool = False,
) -> jax.Array:
  r"""f-distill weights :math:`h(r)` from log density ratios, with stabilisers.

  Applied in the order of the reference implementation, all in log space:

  1. ``logit_clip = (lo, hi)``: clamp :math:`\log r` (the discriminator logit).
  2. ``ratio_clip = (r_lo, r_hi)``: clip :math:`r` to ``[r_lo, r_hi]``
     (reference: ``(0.1, 20)``).
  3. ``bins`` (``[B]`` integers in ``[0, num_bins)``, e.g. from
     :func:`noise_level_bins`): divide :math:`r` by its batch mean within the
     same noise-level bin, so the ratio is calibrated per noise level.
  4. :math:`h = r^2 f''(r)` from the registry.
  5. ``normalize``: divide :math:`h` by its batch mean (a per-batch gradient
     scale; the direction of the update is unchanged).

  Everything is under ``stop_gradient``: weights scale the gradient and are
  not differentiated.

  Args:
    log_r: :math:`\log p_t/q_t` per example, ``[B]``.
    divergence: Registry name or record with a weight (not total variation).
    logit_clip: Clamp ``(lo, hi)`` on ``log_r``, Python numbers with ``lo < hi``, or None.
    ratio_clip: Clip ``(lo, hi)`` on ``r``, Python numbers with ``0 < lo < hi``, or None.
    bins: Noise-level bin per example, or None.
    num_bins: Number of bins.
    normalize: Divide by the batch mean of ``h``.

  Returns:
    ``[B]`` non-negative weights.
  """
  div = resolve(divergence)
  l = jax.lax.stop_gradient(_checks.floating("log_r", log_r, min_ndim=1))
  if logit_clip is not None:
    l = jnp.clip(l, *_checks.interval("logit_clip", logit_clip))
  if ratio_clip is not None:
    lo, hi = _checks.interval("ratio_clip", ratio_clip, positive=True)
    l = jnp.clip(l, math.log(lo), math.log(hi))
  if bins is not None:
    if l.ndim != 1:
      raise ValueError(f"log_r must be [batch] when bins are given, got {l.shape}")
    bins = jnp.asarray(bins)
    if bins.shape != l.shape:
      raise ValueError(f"bins must have the shape of log_r {l.shape}, got {bins.shape}")
    l = l - _bin_log_mean(l, bins, num_bins)
  h = div.weight(l)
  if normalize:
    h = h / jnp.maximum(jnp.mean(h, axis=-1, keepdims=True), jnp.finfo(h.dtype).tiny)
  return jax.lax.stop_gradient(h)


def dmd_scale(x0: ArrayLike, teacher_denoised: ArrayLike, *, eps: float = 1e-6) -> jax.Array:
  r"""DMD's per-example normaliser, ``[...]``.

  :math:`c = 1 / (\mathrm{mean}_d|x_0 - D_p(x_t)| + \epsilon)`.

  It scales the **denoiser** difference :math:`D_q - D_p` (Yin et al., 2024,
  eq. 8; FastGen's ``variational_score_distillation_loss``), as
  :func:`denoiser_generator_loss` does. Applied to a **score** difference
  it weighs each noise level by an extra :math:`1/\sigma^2`; use
  :func:`dmd_score_scale` with :func:`generator_loss` instead. Under
  ``stop_gradient``.

  Args:
    x0: Clean student samples ``[..., dim]``.
    teacher_denoised: :math:`D_p(x_t)`, ``[..., dim]``.
    eps: Added to the mean absolute error.

  Returns:
    ``[...]``, one value per example.
  """
  x0 = _checks.floating("x0", x0, min_ndim=1)
  teacher_denoised = _checks.floating("teacher_denoised", teacher_denoised)
  _checks.same_shape("x0", x0, "teacher_denoised", teacher_denoised)
  err = jnp.mean(jnp.abs(x0 - teacher_denoised), axis=-1)
  return jax.lax.stop_gradient(1.0 / (err + eps))


def dmd_score_scale(
  x0: ArrayLike,
  teacher_denoised: ArrayLike,
  *,
  sigma: ArrayLike,
  alpha: ArrayLike = 1.0,
  eps: float = 1e-6,
) -> jax.Array:
  r"""The score-space scale :math:`w = c\,\sigma^2 / (\alpha^2 d)` of FastGen's step, ``[...]``.

  With it, :func:`generator_loss` has the gradient of
  :func:`denoiser_generator_loss` (the reference implementation's x0-space
  MSE, averaged over the ``d`` data dimensions), because
  :math:`D_p - D_q = \sigma^2 (s_p - s_q)/\alpha`. Under ``stop_gradient``.

  Args:
    x0: Clean student samples ``[..., dim]``.
    teacher_denoised: :math:`D_p(x_t)`, ``[..., dim]``.
    sigma: Noise level per example ``[...]`` or a scalar.
    alpha: Signal scale :math:`\alpha_t` (1 for EDM / VE).
    eps: Added to the mean absolute error.

  Returns:
    ``[...]``, one value per example.
  """
  c = dmd_scale(x0, teacher_denoised, eps=eps)
  sigma = jnp.asarray(_checks.positive("sigma", sigma), c.dtype)
  alpha = jnp.asarray(alpha, c.dtype)
  return jax.lax.stop_gradient(c * sigma**2 / (alpha**2 * jnp.shape(x0)[-1]))


def denoiser_generator_loss(
  x0: ArrayLike,
  teacher_denoised: ArrayLike,
  fake_denoised: ArrayLike,
  weight: ArrayLike = 1.0,
  *,
  normalize: bool = True,
  eps: float = 1e-6,
) -> jax.Array:
  r"""Per-example f-distill generator loss in denoiser space (FastGen's form).

  .. math::
    \ell_i = \tfrac12\,\mathrm{mean}_d\Big(x_{0,i} - \mathrm{sg}\big[x_{0,i}
      - c_i\,h_i\,(D_q(x_{t,i}) - D_p(x_{t,i}))\big]\Big)^2,\qquad
    \nabla_{x_{0,i}}\ell_i = \frac{c_i h_i}{d}\,(D_q - D_p),

  with :math:`c_i` from :func:`dmd_scale` (``normalize=True``) or 1. The step
  at noise level :math:`\sigma` is the score-space step of
  :func:`generator_loss` with :math:`w = c\,\sigma^2/(\alpha^2 d)`
  (:func:`dmd_score_scale`): every noise level contributes by the size of its
  denoiser difference, not its score difference.

  Args:
    x0: Student samples ``G(z)`` ``[B, dim]``, carrying the generator's gradient.
    teacher_denoised: :math:`D_p(x_t)` of the teacher at the noised samples, ``[B, dim]``.
    fake_denoised: :math:`D_q(x_t)` of the fake (student) denoiser, ``[B, dim]``.
    weight: :math:`h` per example (:func:`weights`), ``[B]`` or a scalar.
    normalize: Multiply by DMD's normaliser :math:`c` (the reference's choice).
    eps: Added to the normaliser's mean absolute error.

  Returns:
    ``[B]``, one value per example (not reduced); the caller takes the mean. As in the
    reference, the value is :math:`\tfrac12\mathrm{mean}_d (c h (D_q - D_p))^2`, not a
    divergence.

  References:
    NVlabs/FastGen, ``fastgen/methods/common_loss.py``:
    ``variational_score_distillation_loss``; ``methods/distribution_matching/f_distill.py``.
  """
  x0 = _checks.floating("x0", x0, min_ndim=1)
  dp = _checks.floating("teacher_denoised", teacher_denoised)
  dq = _checks.floating("fake_denoised", fake_denoised)
  _checks.same_shape("x0", x0, "teacher_denoised", dp)
  _checks.same_shape("x0", x0, "fake_denoised", dq)
  w = jnp.asarray(weight, x0.dtype)
  if w.shape not in ((), x0.shape[:-1]):
    raise ValueError(f"weight must be scalar or of shape {x0.shape[:-1]}, got {w.shape}")
  if normalize:
    w = w * dmd_scale(x0, dp, eps=eps)
  target = jax.lax.stop_gradient(x0 - w[..., None] * (dq - dp))
  return 0.5 * jnp.mean((x0 - target) ** 2, axis=-1)


def fake_score_loss(fake_denoised: ArrayLike, x0: ArrayLike) -> jax.Array:
  r"""Per-example DSM loss of the fake denoiser as FastGen trains it, ``[...]``.

  .. math::
    \ell_i = \mathrm{mean}_d\big(D_q(x_{t,i}, \sigma_i) - x_{0,i}\big)^2

  in :math:`x_0`-prediction space with no noise-level weighting (FastGen's
  ``denoising_score_matching_loss(pred_type="x0")``), ``x0`` being stopped
  student samples. Its minimiser is the student's posterior mean, so
  :math:`D_q` gives the student score by Tweedie's formula. For EDM's
  weighting use :func:`fdiv_jax.diffusion.denoising_score_matching_loss` with
  :func:`fdiv_jax.diffusion.edm_loss_weight`.

  Args:
    fake_denoised: :math:`D_q(x_t, \sigma)` of the fake denoiser at the noised student
      samples, ``[..., dim]``.
    x0: Clean student samples :math:`x_0` (stopped here), ``[..., dim]``.

  Returns:
    ``[...]``, one value per example (not reduced; the data axis averaged); the caller
    takes the mean.
  """
  fake_denoised = _checks.floating("fake_denoised", fake_denoised, min_ndim=1)
  x0 = _checks.floating("x0", x0, min_ndim=1)
  _checks.same_shape("fake_denoised", fake_denoised, "x0", x0)
  return denoising_score_matching_loss(fake_denoised, jax.lax.stop_gradient(x0)) / x0.shape[-1]


def generator_loss(
  x_t: ArrayLike,
  teacher_score: ArrayLike,
  student_score: ArrayLike,
  weight: ArrayLike,
  *,
  scale: ArrayLike = 1.0,
) -> jax.Array:
  r"""Per-example surrogate whose gradient is the f-distill gradient.

  .. math::
    \ell_i = -\sum_d \mathrm{sg}\big[c_i\, h_i\,(s_p(x_{t,i}) - s_q(x_{t,i}))\big]_d\; x_{t,i,d},
    \qquad \nabla_\theta\,\mathbb E_i[\ell_i] =
      -\mathbb E\big[c\,h\,(s_p - s_q)\cdot\partial_\theta x_t\big],

  with ``x_t`` carrying the generator's gradient (``alpha * G(z) + sigma * eps``),
  :math:`h` from :func:`weights` and :math:`c` a per-example scale (the
  noise-level weight :math:`w(\sigma)`; :func:`dmd_score_scale` for the
  reference implementation's weighting). The value itself is not a
  divergence; only its gradient is meaningful.

  Args:
    x_t: Noised student samples ``[B, dim]`` (differentiable).
    teacher_score: :math:`\nabla\log p_t(x_t)`, ``[B, dim]``.
    student_score: :math:`\nabla\log q_{\theta,t}(x_t)`, ``[B, dim]``.
    weight: :math:`h` per example, ``[B]``.
    scale: :math:`c`, scalar or ``[B]``.

  Returns:
    ``[B]``, one value per example (not reduced); the caller takes the mean.
  """
  x_t = _checks.floating("x_t", x_t, min_ndim=1)
  sp = _checks.floating("teacher_score", teacher_score)
  sq = _checks.floating("student_score", student_score)
  _checks.same_shape("x_t", x_t, "teacher_score", sp)
  _checks.same_shape("x_t", x_t, "student_score", sq)
  w = jnp.asarray(weight, x_t.dtype) * jnp.asarray(scale, x_t.dtype)
  if w.shape not in ((), x_t.shape[:-1]):
    raise ValueError(f"weight * scale must be scalar or of shape {x_t.shape[:-1]}, got {w.shape}")
  direction = jax.lax.stop_gradient(w[..., None] * (sp - sq))
  return -jnp.sum(direction * x_t, axis=-1)


class DiscriminatorLoss(NamedTuple):
  """Per-example logistic losses of the discriminator (average each side, then sum).

  Attributes:
    teacher: ``softplus(-d)`` on teacher samples ``[B_p]``.
    student: ``softplus(d)`` on student samples ``[B_q]``.
  """

  teacher: jax.Array
  student: jax.Array


def discriminator_loss(logits_teacher: ArrayLike, logits_student: ArrayLike) -> DiscriminatorLoss:
  r"""Logistic loss whose optimal logit is :math:`\log p_t / q_t`.

  .. math::
    \ell = \mathrm{softplus}(-d(x^p_t)) \;\text{on teacher samples},\qquad
    \ell = \mathrm{softplus}(d(x^q_t)) \;\text{on student samples};

  with equal numbers of each, the minimiser is :math:`d^\star = \log p_t - \log q_t`
  (Goodfellow et al., 2014), so ``log_r = d(x_t)`` feeds :func:`weights`.

  Args:
    logits_teacher: Discriminator logits :math:`d(x^p_t)` on noised teacher samples,
      ``[B_p]``.
    logits_student: Discriminator logits :math:`d(x^q_t)` on noised student samples,
      ``[B_q]``.

  Returns:
    :class:`DiscriminatorLoss` ``(teacher [B_p], student [B_q])``; the caller averages
    each side separately, then sums.
  """
  dp = _checks.floating("logits_teacher", logits_teacher)
  dq = _checks.floating("logits_student", logits_student)
  return DiscriminatorLoss(jax.nn.softplus(-dp), jax.nn.softplus(dq))


def gan_generator_loss(logits_student: ArrayLike) -> jax.Array:
  r"""Non-saturating GAN term :math:`\mathrm{softplus}(-d(x^q_t))` per example.

  The reference implementation adds it to the generator with a small weight
  (about 1e-3) to sharpen samples; the discriminator is the one of
  :func:`discriminator_loss` (Goodfellow et al., 2014).

  Args:
    logits_student: Discriminator logits :math:`d(x^q_t)` on noised student samples,
      ``[B]``, carrying the generator's gradient.

  Returns:
    ``[B]``, one value per example (not reduced); the caller takes the mean.
  """
  return jax.nn.softplus(-_checks.floating("logits_student", logits_student))
