r"""Moving samples and weights along a path of densities: AIS, resampling, FAB, TA-BG.

Paths (pure functions of log densities, every parameter a traced array):

* :func:`geometric_path`: :math:`\log\pi_\beta = (1-\beta)\log q + \beta\log\gamma`,
  from a base :math:`q` (:math:`\beta = 0`) to a target :math:`\gamma` (:math:`\beta = 1`).
* :func:`temperature_path`: :math:`\log p / T` (TA-BG's tempering).
* :func:`alpha_target`: :math:`\log\gamma = \alpha\log p + (1-\alpha)\log q`, the
  density :math:`p^\alpha q^{1-\alpha}` that is the minimum-variance importance
  distribution for estimating the alpha-divergence (FAB targets it with
  :math:`\alpha = 2`, i.e. :math:`p^2/q`).

Samplers and losses:

* :func:`resample`: multinomial or systematic resampling by inverse CDF,
  optionally clipping the largest log weights first; returns the ESS.
* :func:`ais`: annealed importance sampling (Neal, 2001) from base samples to an
  unnormalised target along the geometric path, with blackjax HMC / MALA
  transitions at the intermediate levels. :func:`adapt_step_size` tunes the
  per-level step sizes between calls towards an acceptance rate (FAB: 0.65).
* A prioritised replay buffer, a fixed-capacity pytree: :func:`buffer_init`,
  :func:`buffer_add`, :func:`buffer_sample` (in proportion to the weights, without
  replacement), :func:`buffer_adjust` (FAB's re-weighting after a flow update).
* :func:`fab_loss` and :func:`fab_buffer_loss`: FAB's weighted maximum likelihood.
* :func:`tabg_level`: one TA-BG level (importance-resample flow samples to the
  next level, clip, resample, fit by maximum likelihood).

References:
  Neal. Annealed importance sampling. Statistics and Computing 2001.
  Midgley, Stimper, Simm, Schoelkopf, Hernandez-Lobato. Flow Annealed
  Importance Sampling Bootstrap (FAB). ICLR 2023 (reference code lollcat/fab-jax).
  Schopmans & Friederich. Temperature-Annealed Boltzmann Generators (TA-BG). ICML 2025.
"""

from fdiv_jax.annealing._ais import KERNELS, AISResult, adapt_step_size, ais
from fdiv_jax.annealing._buffer import (
  BufferDraw,
  ReplayBuffer,
  buffer_add,
  buffer_adjust,
  buffer_init,
  buffer_sample,
)
from fdiv_jax.annealing._fab_losses import FABBufferLoss, fab_buffer_loss, fab_loss
from fdiv_jax.annealing._paths import alpha_of, alpha_target, geometric_path, temperature_path
from fdiv_jax.annealing._resampling import RESAMPLING, Resampled, resample
from fdiv_jax.annealing._tabg import tabg_level

__all__ = [
  "KERNELS",
  "RESAMPLING",
  "AISResult",
  "BufferDraw",
  "FABBufferLoss",
  "ReplayBuffer",
  "Resampled",
  "adapt_step_size",
  "ais",
  "alpha_of",
  "alpha_target",
  "buffer_add",
  "buffer_adjust",
  "buffer_init",
  "buffer_sample",
  "fab_buffer_loss",
  "fab_loss",
  "geometric_path",
  "resample",
  "tabg_level",
  "temperature_path",
]
