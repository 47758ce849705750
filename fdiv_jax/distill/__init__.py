r"""f-distill: one-step diffusion students by f-divergence distribution matching.

For a one-step generator :math:`x_0 = G_\theta(z)`, noised as
:math:`x_t = \alpha_t x_0 + \sigma_t\varepsilon`, Xu et al. (2025) show that

.. math::
  \nabla_\theta D_f(p_t \,\|\, q_{\theta,t}) = -\,\mathbb E_{z,\varepsilon}\Big[
    h\big(r_t(x_t)\big)\,\big(\nabla\log p_t(x_t) - \nabla\log q_{\theta,t}(x_t)\big)
    \cdot \frac{\partial x_t}{\partial\theta}\Big],\qquad
  h(r) = r^2 f''(r),\quad r_t = \frac{p_t}{q_{\theta,t}},

(the registry's :meth:`~fdiv_jax.divergences.Divergence.weight`), where the
teacher score :math:`\nabla\log p_t` comes from the pretrained diffusion model,
the student score :math:`\nabla\log q_{\theta,t}` from a "fake" denoiser trained
by denoising score matching on student samples, and :math:`\log r_t` from a
discriminator on noised samples (:func:`discriminator_loss`). Reverse KL has
:math:`h = 1`, and the gradient is variational score distillation / DMD;
forward KL has :math:`h = r`, JS :math:`h = r/(1+r)`, squared Hellinger
:math:`h = \sqrt r / 2`, Jeffreys :math:`h = 1 + r`.

:func:`generator_loss` is a surrogate whose gradient is exactly the formula
above: :math:`-\sum_d \mathrm{sg}[w\,h\,(s_p - s_q)]_d\, x_{t,d}`.
:func:`denoiser_generator_loss` is the same step in the form of the reference
implementation (NVlabs/FastGen, ``variational_score_distillation_loss``): an
MSE of :math:`x_0` to the target
:math:`\mathrm{sg}[x_0 - c\,h\,(D_q - D_p)]` in denoiser (:math:`x_0`) space,
with DMD's normaliser :math:`c = 1/\mathrm{mean}_d|x_0 - D_p|`.

Noise-level weighting. Since :math:`D_p - D_q = \sigma^2 (s_p - s_q)/\alpha` and
:math:`\partial x_t/\partial\theta = \alpha\,\partial x_0/\partial\theta`, the
denoiser-space step at one noise level is the score-space step with the
per-example scale

.. math::
  w(\sigma) = \frac{c\,\sigma^2}{\alpha^2\, d}
  \qquad\text{(} d \text{: data dimension, from the MSE's mean over dimensions)},

which :func:`dmd_score_scale` returns for :func:`generator_loss`. Without the
:math:`\sigma^2`, :func:`dmd_scale` applied to a *score* difference weighs a
sample at :math:`\sigma` by an extra :math:`1/\sigma^2` (25 600 times more at
:math:`\sigma = 0.05` than at :math:`\sigma = 8`) and discards the large-noise
levels that move mass between modes. Integrated over the training
distribution :math:`\pi(\sigma)` (:func:`fdiv_jax.diffusion.sample_sigmas`),
the generator follows

.. math::
  \nabla_\theta \int \pi(\sigma)\, \mathbb E[w]\, D_f(p_\sigma \,\|\, q_{\theta,\sigma})\,d\sigma

when :math:`w` depends on :math:`\sigma` only (``normalize=False``: the DMD
normaliser varies per sample and only approximately so).
:func:`weights` implements the stabilisers of the public reference
implementation as explicit options (logit clamp, ratio clipping, per-noise-bin
ratio normalisation, weight normalisation).

:func:`f_distill` packages one whole iteration (critic updates, then the generator step
with these losses) for any denoiser, generator and discriminator given as functions of
their parameters, on vectors or images.

References:
  Xu, Nie, Wang, Vahdat, et al. One-step Diffusion Models with f-Divergence
  Distribution Matching. arXiv:2502.15681, 2025.
  Yin et al. One-step Diffusion with Distribution Matching Distillation
  (DMD). CVPR 2024. Wang et al. ProlificDreamer (VSD). NeurIPS 2023.
"""

from fdiv_jax.distill._losses import (
  DiscriminatorLoss,
  denoiser_generator_loss,
  discriminator_loss,
  dmd_scale,
  dmd_score_scale,
  fake_score_loss,
  gan_generator_loss,
  generator_loss,
  noise_level_bins,
  weights,
)
from fdiv_jax.distill._step import (
  FDistill,
  FDistillInfo,
  FDistillState,
  f_distill,
)

__all__ = [
  "denoiser_generator_loss",
  "discriminator_loss",
  "DiscriminatorLoss",
  "dmd_scale",
  "dmd_score_scale",
  "f_distill",
  "fake_score_loss",
  "FDistill",
  "FDistillInfo",
  "FDistillState",
  "gan_generator_loss",
  "generator_loss",
  "noise_level_bins",
  "weights",
]
