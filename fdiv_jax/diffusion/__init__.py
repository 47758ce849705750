r"""Noise schedules, denoising score matching, and the exact noised Gaussian mixture.

Forward process (variance-preserving and variance-exploding alike):

.. math::
  x_t = \alpha_t x_0 + \sigma_t \varepsilon, \qquad \varepsilon \sim N(0, I),

with :math:`\alpha_t = 1` for the EDM / Karras (VE) parameterisation. For a
denoiser :math:`D(x_t) \approx \mathbb E[x_0 \mid x_t]` Tweedie's formula
gives the score

.. math::
  \nabla_{x_t} \log p_t(x_t) = \frac{\alpha_t D(x_t) - x_t}{\sigma_t^2}
  = -\frac{\hat\varepsilon(x_t)}{\sigma_t}.

:class:`GaussianMixture` gives :math:`p_t`, its score and its denoiser in
closed form: an exact teacher for f-distill tests and 2-D toys.

References:
  Karras, Aittala, Aila, Laine. Elucidating the Design Space of
  Diffusion-Based Generative Models (EDM). NeurIPS 2022.
  Song et al. Score-Based Generative Modeling through Stochastic Differential
  Equations. ICLR 2021.
  Vincent. A Connection Between Score Matching and Denoising Autoencoders. 2011.
"""

from fdiv_jax.diffusion._edm import (
  SIGMA_DISTRIBUTIONS,
  EDMPreconditioning,
  add_noise,
  denoiser_from_eps,
  denoiser_from_score,
  denoising_score_matching_loss,
  edm_loss_weight,
  edm_preconditioning,
  eps_from_denoiser,
  heun_sample,
  karras_sigmas,
  sample_sigmas,
  score_from_denoiser,
  vp_alpha_sigma,
)
from fdiv_jax.diffusion._mixture import GaussianMixture

__all__ = [
  "SIGMA_DISTRIBUTIONS",
  "EDMPreconditioning",
  "GaussianMixture",
  "add_noise",
  "denoiser_from_eps",
  "denoiser_from_score",
  "denoising_score_matching_loss",
  "edm_loss_weight",
  "edm_preconditioning",
  "eps_from_denoiser",
  "heun_sample",
  "karras_sigmas",
  "sample_sigmas",
  "score_from_denoiser",
  "vp_alpha_sigma",
]
