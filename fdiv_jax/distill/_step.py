r"""The f-distill training step for any denoiser: fake denoiser, discriminator, generator.

One call of :attr:`FDistill.step` is FastGen's f-distill iteration (Xu et al., 2025;
NVlabs/FastGen ``methods/distribution_matching/f_distill.py``):

1. ``critic_updates`` steps of the fake denoiser :math:`D_q` (denoising score matching on
   stopped student samples) and of the discriminator :math:`d` (logistic loss, real or
   teacher samples against student samples, both noised at independent levels);
2. one step of the generator :math:`G_\theta` on the f-divergence gradient
   :math:`-\mathbb E[h(r_t)(\nabla\log p_t - \nabla\log q_t)\cdot\partial x_t/\partial\theta]`
   in FastGen's denoiser-space form (:func:`denoiser_generator_loss`), with
   :math:`h(r) = r^2 f''(r)` from the divergence record and :math:`\log r_t = d(x_t, \sigma)`,
   plus ``gan_weight`` times the non-saturating GAN loss (:func:`gan_generator_loss`),
   then an optional EMA of the generator.

Shapes are the user's: the generator maps latents ``[B, *latent_shape]`` to samples
``[B, *event]`` (vectors ``[B, d]`` or images ``[B, H, W, C]``), the denoisers map
``([B, *event], [B]) -> [B, *event]`` and the discriminator ``([B, *event], [B]) -> [B]``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from fdiv_jax import diffusion as D
from fdiv_jax.distill._losses import (
  denoiser_generator_loss,
  discriminator_loss,
  dmd_scale,
  fake_score_loss,
  gan_generator_loss,
  generator_loss,
  noise_level_bins,
  weights,
)
from fdiv_jax.divergences import Divergence

WEIGHTINGS = ("dmd", "score_dmd", "none")
FAKE_LOSSES = ("fastgen", "edm")


class FDistillState(NamedTuple):
  """Parameters and optimiser states of the three networks.

  Attributes:
    generator: Generator parameters (trained).
    generator_ema: Their exponential moving average (what is evaluated); equals
      ``generator`` when ``ema_decay`` is None.
    fake: Fake-denoiser parameters.
    discriminator: Discriminator parameters.
    generator_opt_state: Optimiser state of the generator.
    fake_opt_state: Optimiser state of the fake denoiser.
    discriminator_opt_state: Optimiser state of the discriminator.
    step: Generator steps taken, ``int32`` scalar.
  """

  generator: Any
  generator_ema: Any
  fake: Any
  discriminator: Any
  generator_opt_state: Any
  fake_opt_state: Any
  discriminator_opt_state: Any
  step: jax.Array


class FDistillInfo(NamedTuple):
  r"""Diagnostics of one step.

  Attributes:
    generator_loss: The generator's surrogate loss (its gradient is the step; its value
      is not a divergence).
    fake_loss: The fake denoiser's loss at its last update.
    discriminator_loss: The discriminator's loss at its last update.
    weight_min: Smallest unclipped, unnormalised weight :math:`h(r_t)` of the batch.
    weight_mean: Their mean.
    weight_max: Their largest.
    log_ratio_mean: Mean discriminator logit :math:`\log r_t` on student samples.
    grad_norm: Global norm of the generator's gradient.
  """

  generator_loss: jax.Array
  fake_loss: jax.Array
  discriminator_loss: jax.Array
  weight_min: jax.Array
  weight_mean: jax.Array
  weight_max: jax.Array
  log_ratio_mean: jax.Array
  grad_norm: jax.Array


class FDistill(NamedTuple):
  """An f-distill trainer: pure functions, ``jit`` / ``vmap`` them as you like.

  Attributes:
    init: ``(generator_params, fake_params, discriminator_params) -> FDistillState``.
    step: ``(key, state, teacher) -> (FDistillState, FDistillInfo)``: the critic
      updates, then one generator update.
    generator_gradient: ``(key, state, teacher) -> (grads, (h, logit))``: the generator's
      gradient on one batch with the raw weights ``[B]`` and logits ``[B]`` (for gradient-noise
      diagnostics); ``step`` uses the same function.
  """

  init: Callable[[Any, Any, Any], FDistillState]
  step: Callable[[jax.Array, FDistillState, Any], tuple[FDistillState, FDistillInfo]]
  generator_gradient: Callable[[jax.Array, FDistillState, Any], tuple[Any, Any]]


def f_distill(
  *,
  teacher_denoiser: Callable[[Any, jax.Array, jax.Array], jax.Array],
  sample_real: Callable[[Any, jax.Array, int], jax.Array],
  generator: Callable[[Any, jax.Array], jax.Array],
  fake_denoiser: Callable[[Any, jax.Array, jax.Array], jax.Array],
  discriminator: Callable[[Any, jax.Array, jax.Array], jax.Array],
  generator_optimizer: optax.GradientTransformation,
  critic_optimizer: optax.GradientTransformation,
  divergence: str | Divergence,
  latent_shape: tuple[int, ...],
  batch_size: int,
  sigma_min: float,
  sigma_max: float,
  sigma_distribution: str = "polynomial",
  critic_updates: int = 5,
  gan_weight: float = 0.0,
  logit_clip: tuple[float, float] | None = (-10.0, 10.0),
  ratio_clip: tuple[float, float] | None = (0.1, 20.0),
  ratio_bins: int | None = None,
  normalize_weight: bool = False,
  weighting: str = "dmd",
  fake_loss: str = "fastgen",
  sigma_data: float = 0.5,
  ema_decay: float | None = None,
  constrain: Callable[[Any], Any] | None = None,
) -> FDistill:
  r"""Builds the f-distill trainer of a one-step generator from a diffusion teacher.

  Example:
    >>> import jax, jax.numpy as jnp, optax
    >>> den = lambda p, x, s: x / (1.0 + s[:, None] ** 2)  # N(0, I) data's exact denoiser
    >>> trainer = f_distill(
    ...   teacher_denoiser=lambda t, x, s: den(None, x, s),
    ...   sample_real=lambda t, k, n: jax.random.normal(k, (n, 2)),
    ...   generator=lambda p, z: p * z, fake_denoiser=lambda p, x, s: p * den(None, x, s),
    ...   discriminator=lambda p, x, s: p * jnp.sum(x**2, -1),
    ...   generator_optimizer=optax.adam(1e-2), critic_optimizer=optax.adam(1e-2),
    ...   divergence="js", latent_shape=(2,), batch_size=64, sigma_min=0.01, sigma_max=5.0)
    >>> state = trainer.init(jnp.array(0.5), jnp.array(1.0), jnp.array(0.0))
    >>> state, info = jax.jit(trainer.step)(jax.random.key(0), state, None)
    >>> int(state.step)
    1

  Args:
    teacher_denoiser: ``(teacher, x_t [B, *event], sigma [B]) -> [B, *event]``, the teacher's
      :math:`D_p(x_t, \sigma)` (an EDM denoiser: the posterior mean of :math:`x_0`).
    sample_real: ``(teacher, key, n) -> [n, *event]``: the samples the discriminator calls
      real (data, or teacher samples).
    generator: ``(params, z [B, *latent_shape]) -> [B, *event]``, the one-step student.
    fake_denoiser: ``(params, x_t, sigma) -> [B, *event]``, fitted to student samples.
    discriminator: ``(params, x_t, sigma) -> [B]``, the logit :math:`\log r_t`.
    generator_optimizer: Optax transformation of the generator.
    critic_optimizer: Optax transformation of the fake denoiser and the discriminator
      (one state each).
    divergence: Registry name or record; its ``weight`` is :math:`h`.
    latent_shape: Shape of one latent ``z ~ N(0, I)``.
    batch_size: Samples per update.
    sigma_min: Smallest training noise level.
    sigma_max: Largest training noise level.
    sigma_distribution: The noise-level law of
      :func:`fdiv_jax.diffusion.sample_sigmas` (``"polynomial"`` is FastGen's).
    critic_updates: Fake-denoiser and discriminator steps per generator step.
    gan_weight: Weight of the GAN generator loss.
    logit_clip: ``(lo, hi)`` clamp of the discriminator logit (:func:`weights`); None for
      none.
    ratio_clip: ``(lo, hi)`` clip of the ratio :math:`r` (:func:`weights`); None for none.
    ratio_bins: Normalise the ratio per bin of ``log sigma`` (``num_bins``); None for none.
    normalize_weight: Divide the weights by their batch mean (:func:`weights`).
    weighting: ``"dmd"`` (FastGen's denoiser-space step, :func:`denoiser_generator_loss`),
      ``"score_dmd"`` (score space with :func:`dmd_scale`) or ``"none"`` (score space, unit
      scale; :func:`generator_loss`).
    fake_loss: ``"fastgen"`` (:func:`fake_score_loss`, unweighted ``x_0`` MSE) or ``"edm"``
      (EDM's weighting with ``sigma_data``).
    sigma_data: Data standard deviation of the ``"edm"`` fake loss.
    ema_decay: Decay of the generator's EMA in ``(0, 1)``; None keeps no average.
    constrain: Applied to every batch drawn (e.g. :func:`fdiv_jax.parallel.shard_batch`);
      None for none.

  Returns:
    An :class:`FDistill` with ``init``, ``step`` and ``generator_gradient``.

  References:
    Xu, Nie, Wang, Vahdat, et al. One-step Diffusion Models with f-Divergence Distribution
    Matching. arXiv:2502.15681, 2025. NVlabs/FastGen, ``f_distill.py``.
  """
  if weighting not in WEIGHTINGS:
    raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
  if fake_loss not in FAKE_LOSSES:
    raise ValueError(f"fake_loss must be one of {FAKE_LOSSES}, got {fake_loss!r}")
  if ema_decay is not None and not 0 < ema_decay < 1:
    raise ValueError(f"ema_decay must be in (0, 1) or None, got {ema_decay}")
  if critic_updates < 1 or batch_size < 1:
    raise ValueError(
      f"critic_updates and batch_size must be >= 1, got {critic_updates} and {batch_size}"
    )
  if not 0 < sigma_min < sigma_max:
    raise ValueError(f"need 0 < sigma_min < sigma_max, got {sigma_min} and {sigma_max}")
  shard = constrain if constrain is not None else (lambda tree: tree)
  b = batch_size

  def sample(params, key):
    return generator(params, shard(jax.random.normal(key, (b, *latent_shape))))

  def noise_levels(key):
    return shard(
      D.sample_sigmas(
        key, b, sigma_min=sigma_min, sigma_max=sigma_max, distribution=sigma_distribution
      )
    )

  def noised(x0, eps, sigma):
    """``x0 + sigma eps`` over any event shape, through the flat ``[B, d]`` helpers."""
    flat = D.add_noise(x0.reshape(b, -1), eps.reshape(b, -1), sigma=sigma)
    return flat.reshape(x0.shape)

  def critic_update(state, key, teacher):
    k = jax.random.split(key, 6)
    x_q = jax.lax.stop_gradient(sample(state.generator, k[0]))
    x_p = shard(sample_real(teacher, k[1], b))
    sig_q, sig_p = noise_levels(k[2]), noise_levels(k[3])
    e_q, e_p = shard((jax.random.normal(k[4], x_q.shape), jax.random.normal(k[5], x_p.shape)))
    xt_q, xt_p = noised(x_q, e_q, sig_q), noised(x_p, e_p, sig_p)

    def fake_objective(params):
      denoised = fake_denoiser(params, xt_q, sig_q).reshape(b, -1)
      if fake_loss == "fastgen":
        return fake_score_loss(denoised, x_q.reshape(b, -1)).mean()
      w = D.edm_loss_weight(sig_q, sigma_data=sigma_data)
      return D.denoising_score_matching_loss(denoised, x_q.reshape(b, -1), weight=w).mean()

    def disc_objective(params):
      lp, lq = discriminator_loss(
        discriminator(params, xt_p, sig_p), discriminator(params, xt_q, sig_q)
      )
      return lp.mean() + lq.mean()

    lf, gf = jax.value_and_grad(fake_objective)(state.fake)
    ld, gd = jax.value_and_grad(disc_objective)(state.discriminator)
    uf, fake_opt = critic_optimizer.update(gf, state.fake_opt_state, state.fake)
    ud, disc_opt = critic_optimizer.update(gd, state.discriminator_opt_state, state.discriminator)
    state = state._replace(
      fake=optax.apply_updates(state.fake, uf),
      discriminator=optax.apply_updates(state.discriminator, ud),
      fake_opt_state=fake_opt,
      discriminator_opt_state=disc_opt,
    )
    return state, (lf, ld)

  def objective(params, state, keys, sig, bins, teacher):
    x0 = sample(params, keys[0])
    xt = noised(x0, shard(jax.random.normal(keys[2], x0.shape)), sig)
    xs = jax.lax.stop_gradient(xt)
    d_p = teacher_denoiser(teacher, xs, sig).reshape(b, -1)
    d_q = fake_denoiser(state.fake, xs, sig).reshape(b, -1)
    logit = discriminator(state.discriminator, xt, sig)
    stabilisers = dict(divergence=divergence, logit_clip=logit_clip, ratio_clip=ratio_clip)
    h = weights(
      logit, bins=bins, num_bins=ratio_bins or 1, normalize=normalize_weight, **stabilisers
    )
    raw_h = weights(logit, **stabilisers)
    flat_x0 = x0.reshape(b, -1)
    if weighting == "dmd":
      f_loss = denoiser_generator_loss(flat_x0, d_p, d_q, h).mean()
    else:
      flat_xs = xs.reshape(b, -1)
      s_p = D.score_from_denoiser(flat_xs, d_p, sigma=sig)
      s_q = D.score_from_denoiser(flat_xs, d_q, sigma=sig)
      scale = dmd_scale(flat_x0, d_p) if weighting == "score_dmd" else 1.0
      f_loss = generator_loss(xt.reshape(b, -1), s_p, s_q, h, scale=scale).mean()
    gan = gan_generator_loss(logit).mean()
    return f_loss + gan_weight * gan, (raw_h, logit)

  def value_and_gradient(key, state, teacher):
    k = jax.random.split(key, 3)
    sig = noise_levels(k[1])
    bins = (
      noise_level_bins(sig, sigma_min=sigma_min, sigma_max=sigma_max, num_bins=ratio_bins)
      if ratio_bins
      else None
    )
    loss = lambda p: objective(p, state, k, sig, bins, teacher)
    return jax.value_and_grad(loss, has_aux=True)(state.generator)

  def generator_gradient(key, state, teacher):
    (_, aux), grads = value_and_gradient(key, state, teacher)
    return grads, aux

  def init(generator_params, fake_params, discriminator_params) -> FDistillState:
    return FDistillState(
      generator=generator_params,
      generator_ema=generator_params,
      fake=fake_params,
      discriminator=discriminator_params,
      generator_opt_state=generator_optimizer.init(generator_params),
      fake_opt_state=critic_optimizer.init(fake_params),
      discriminator_opt_state=critic_optimizer.init(discriminator_params),
      step=jnp.zeros((), jnp.int32),
    )

  def step(key, state: FDistillState, teacher) -> tuple[FDistillState, FDistillInfo]:
    key = jax.random.fold_in(key, state.step)
    keys = jax.random.split(key, critic_updates + 1)
    state, (lf, ld) = jax.lax.scan(lambda s, k: critic_update(s, k, teacher), state, keys[:-1])
    (value, (raw_h, logit)), grads = value_and_gradient(keys[-1], state, teacher)
    updates, gen_opt = generator_optimizer.update(grads, state.generator_opt_state, state.generator)
    gen = optax.apply_updates(state.generator, updates)
    ema = (
      gen
      if ema_decay is None
      else optax.incremental_update(gen, state.generator_ema, 1.0 - ema_decay)
    )
    state = state._replace(
      generator=gen, generator_ema=ema, generator_opt_state=gen_opt, step=state.step + 1
    )
    info = FDistillInfo(
      generator_loss=value,
      fake_loss=lf[-1],
      discriminator_loss=ld[-1],
      weight_min=raw_h.min(),
      weight_mean=raw_h.mean(),
      weight_max=raw_h.max(),
      log_ratio_mean=logit.mean(),
      grad_norm=optax.tree.norm(grads),
    )
    return state, info

  return FDistill(init=init, step=step, generator_gradient=generator_gradient)
