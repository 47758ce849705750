"""One-step students distilled from an exact mixture teacher by f-distill.

Three Flax MLPs trained with Optax: a one-step generator ``G(z)``, a "fake"
denoiser (the student's score, by denoising score matching on student samples)
and a discriminator on noised samples (``log r = log p_t / q_t``). One
``train_step(state, key) -> (state, metrics)`` runs ``critic_updates``
fake-score/discriminator updates and one generator update with the f-distill
step of :mod:`fdiv_jax.distill` (by default FastGen's x0-space form,
:func:`fdiv_jax.distill.denoiser_generator_loss`); the divergence is data (a
registry record), so every divergence reuses the same code. With
``config.generator == "denoiser"`` the generator is ``G(z) = D(sigma_init z,
sigma_init)`` and it and the fake denoiser start from a teacher network's
weights (:func:`train_teacher_denoiser`), as in FastGen. Under a ``jax.set_mesh``
context every batch is split over the devices (``fdiv_jax.parallel``):
data-parallel training with replicated parameters.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import optax
from flax.training.train_state import TrainState

import fdiv_jax as fd
from experiments.common import checkpoint, training
from experiments.common import results as R
from experiments.one_step_diffusion import unet
from fdiv_jax import diffusion as D
from fdiv_jax import distill, parallel


def ring_teacher(config, modes: Sequence[int] | None = None) -> D.GaussianMixture:
  """Ring of ``config.modes`` Gaussians with geometric weights (heaviest /
  lightest = ``weight_ratio``); ``modes`` restricts it to a subset."""
  k = config.modes
  angle = 2 * np.pi * np.arange(k) / k
  means = config.radius * np.stack([np.cos(angle), np.sin(angle)], -1)
  weights = config.weight_ratio ** (-np.arange(k) / (k - 1))
  if modes is not None:
    keep = np.zeros(k)
    keep[list(modes)] = 1.0
    weights = weights * keep + 1e-30
  return D.GaussianMixture.create(
    jnp.asarray(means, jnp.float32),
    config.mode_scale,
    jnp.asarray(weights / weights.sum(), jnp.float32),
  )


@functools.partial(
  jax.tree_util.register_dataclass,
  data_fields=["params"],
  meta_fields=["score_fn", "denoiser_fn", "sample_fn"],
)
@dataclasses.dataclass(frozen=True)
class Teacher:
  """What the student needs of a teacher: its score and denoiser at a noise
  level and samples of its distribution (for the discriminator). A pytree whose
  leaves are ``params``, so swapping teachers of one kind does not recompile."""

  params: Any
  score_fn: Callable
  denoiser_fn: Callable
  sample_fn: Callable

  def score(self, x, sigma):
    return self.score_fn(self.params, x, sigma)

  def denoiser(self, x, sigma):
    return self.denoiser_fn(self.params, x, sigma)

  def sample(self, key, n):
    return self.sample_fn(self.params, key, n)


def _gmm_score(g, x, sigma):
  return g.score(x, sigma=sigma)


def _gmm_denoiser(g, x, sigma):
  return g.denoiser(x, sigma=sigma)


def _gmm_sample(g, key, n):
  return g.sample(key, n)[0]


def mixture_teacher(gmm: D.GaussianMixture) -> Teacher:
  """The exact teacher: closed-form score and denoiser of the noised mixture."""
  return Teacher(gmm, _gmm_score, _gmm_denoiser, _gmm_sample)


class MLP(nn.Module):
  hidden: Sequence[int]
  out: int

  @nn.compact
  def __call__(self, x):
    for width in self.hidden:
      x = nn.silu(nn.Dense(width)(x))
    return nn.Dense(self.out)(x)


class Generator(nn.Module):
  """``G(z) = sigma_data * MLP(z)``: one network evaluation per sample."""

  hidden: Sequence[int]
  sigma_data: float
  dim: int = 2

  @nn.compact
  def __call__(self, z):
    return self.sigma_data * MLP(self.hidden, self.dim)(z)


def _edm_inputs(x, sigma, sigma_data: float):
  """``(c, [c_in x, c_noise])``: EDM's preconditioning coefficients at ``sigma`` and the
  network input they make (Karras et al. 2022, Table 1)."""
  c = D.edm_preconditioning(sigma, sigma_data=sigma_data)
  return c, jnp.concatenate([c.c_in[..., None] * x, c.c_noise[..., None]], -1)


class FakeDenoiser(nn.Module):
  """EDM-preconditioned denoiser ``D(x, sigma) = c_skip x + c_out F(c_in x, c_noise)``."""

  hidden: Sequence[int]
  sigma_data: float

  @nn.compact
  def __call__(self, x, sigma):
    c, inputs = _edm_inputs(x, sigma, self.sigma_data)
    f = MLP(self.hidden, x.shape[-1])(inputs)
    return c.c_skip[..., None] * x + c.c_out[..., None] * f


class DenoiserGenerator(nn.Module):
  """``G(z) = D(sigma_init z, sigma_init)``: a one-step generator with the
  teacher's architecture, so it can start from the teacher's weights (the
  usual initialisation of DMD / f-distill students). ``z`` has the data's dim."""

  denoiser: nn.Module
  sigma_init: float

  @nn.compact
  def __call__(self, z):
    sigma = jnp.full(z.shape[:-1], self.sigma_init, z.dtype)
    return self.denoiser(self.sigma_init * z, sigma)


def denoiser_module(config, dim: int) -> nn.Module:
  """The teacher's architecture (also the fake denoiser's and the generator's):
  ``config.network`` = ``"mlp"`` (:class:`FakeDenoiser`, ``config.hidden``) or ``"unet"``
  (:class:`~experiments.one_step_diffusion.unet.UNetDenoiser`, ``config.channels``, on
  square one-channel images of ``dim`` pixels)."""
  if config.network == "mlp":
    return FakeDenoiser(tuple(config.hidden), config.sigma_data)
  if config.network == "unet":
    return unet.UNetDenoiser(_side(dim), tuple(config.channels), config.sigma_data)
  raise ValueError(f"network must be 'mlp' or 'unet', got {config.network!r}")


def _side(dim: int) -> int:
  side = math.isqrt(dim)
  if side * side != dim:
    raise ValueError(f"network='unet' needs square images, got dim={dim}")
  return side


class Discriminator(nn.Module):
  """Logit ``d(x_t, sigma)``; at the optimum ``d = log p_t - log q_t``."""

  hidden: Sequence[int]
  sigma_data: float

  @nn.compact
  def __call__(self, x, sigma):
    return MLP(self.hidden, 1)(_edm_inputs(x, sigma, self.sigma_data)[1])[..., 0]


def train_teacher_denoiser(config, draw_x0: Callable, *, dim: int, key: jax.Array):
  """A teacher denoiser (:class:`FakeDenoiser`, ``config.hidden``) fitted by DSM
  with EDM weighting to samples ``draw_x0(key, n) -> [n, dim]``; noise levels
  from ``config.teacher_sigma_distribution`` over
  ``[config.teacher_sigma_min, config.sigma_max]``. Returns ``(params, losses)``;
  jit it."""
  model = denoiser_module(config, dim)
  opt = optax.adam(optax.cosine_decay_schedule(config.teacher_lr, config.teacher_steps))
  n = config.teacher_batch

  def loss(params, k):
    k1, k2, k3 = jax.random.split(k, 3)
    x0 = draw_x0(k1, n)
    sigma = D.sample_sigmas(
      k2,
      n,
      sigma_min=config.teacher_sigma_min,
      sigma_max=config.sigma_max,
      distribution=config.teacher_sigma_distribution,
    )
    xt = D.add_noise(x0, jax.random.normal(k3, x0.shape), sigma=sigma)
    w = D.edm_loss_weight(sigma, sigma_data=config.sigma_data)
    return (
      D.denoising_score_matching_loss(model.apply(params, xt, sigma), x0, weight=w).mean() / dim
    )

  def step(state, key):
    value, grads = jax.value_and_grad(loss)(state.params, jax.random.fold_in(key, state.step))
    return state.apply_gradients(grads=grads), value

  params = model.init(key, jnp.zeros((1, dim)), jnp.ones((1,)))
  state = TrainState.create(apply_fn=model.apply, params=params, tx=opt)
  state, losses = training.scan_steps(step, state, key, config.teacher_steps)
  return state.params, losses


def fit_or_restore_teacher(
  config, draw_x0: Callable, dim: int, workdir: str, key: jax.Array, verbose: bool = True
):
  """:func:`train_teacher_denoiser` once, checkpointed under ``workdir/ckpt/teacher``;
  returns ``(params, restored_from_checkpoint)``."""
  model = denoiser_module(config, dim)

  def init():
    return jax.jit(model.init)(key, jnp.zeros((1, dim)), jnp.ones((1,)))

  def train(_):
    params, losses = jax.jit(lambda k: train_teacher_denoiser(config, draw_x0, dim=dim, key=k))(key)
    R.check_finite(losses, what="teacher denoising loss")
    if verbose:
      print(
        f"teacher DSM loss: first 100 steps {float(losses[:100].mean()):.4f}, "
        f"last 100 {float(losses[-100:].mean()):.4f}"
      )
    return params

  made_by = {k: getattr(config, k) for k in TEACHER_FIELDS}
  return checkpoint.restore_or_init(
    os.path.join(workdir, "ckpt", "teacher"), init, train, made_by=dict(made_by, dim=dim)
  )


# What the teacher depends on: the fields train_teacher_denoiser and the task's
# data read (a checkpoint made with other values is retrained, not reused).
TEACHER_FIELDS = (
  "dataset",
  "data_dir",
  "pool",
  "network",
  "channels",
  "modes",
  "radius",
  "mode_scale",
  "weight_ratio",
  "hidden",
  "sigma_data",
  "sigma_max",
  "teacher_batch",
  "teacher_lr",
  "teacher_sigma_distribution",
  "teacher_sigma_min",
  "teacher_steps",
)


State = distill.FDistillState


def _checks_config(config):
  """What the f-distill trainer does not check itself (it checks the rest on construction)."""
  if config.generator_lr_final is not None and not config.generator_lr_final > 0:
    raise ValueError(f"generator_lr_final must be > 0 or None, got {config.generator_lr_final}")


class Student(NamedTuple):
  """An f-distill student: its networks and optimisers (static, hashable: jit takes it as
  a static argument); the training functions below take it first."""

  config: Any
  dim: int  # data dimension
  latent: int  # generator input dimension
  gen: nn.Module
  fake: nn.Module  # the fake denoiser, fitted to the student's samples
  disc: nn.Module  # the ratio discriminator on noised samples
  gen_opt: optax.GradientTransformation
  critic_opt: optax.GradientTransformation

  def init(self, key, teacher_params=None) -> State:
    return init_state(self, key, teacher_params)

  def sample(self, gen_params, key, n: int) -> jax.Array:
    return sample(self, gen_params, key, n)

  def trainer(self, divergence) -> distill.FDistill:
    return make_trainer(self, divergence)

  def train_step(self, state: State, key, teacher, divergence):
    return train_step(self, state, key, teacher, divergence)

  def generator_grads(self, state: State, key, teacher, divergence):
    return self.trainer(divergence).generator_gradient(key, state, teacher)


def make_student(config, *, dim: int = 2) -> Student:
  """Networks and optimisers. With ``config.generator == "denoiser"`` the generator and
  the fake denoiser share the teacher's architecture (``config.hidden``) and
  ``init(key, teacher_params)`` copies its weights."""
  _checks_config(config)
  if config.generator == "mlp":
    gen = Generator(tuple(config.hidden), config.sigma_data, dim)
    latent = config.latent_dim
  elif config.generator == "denoiser":
    gen = DenoiserGenerator(denoiser_module(config, dim), config.sigma_init)
    latent = dim
  else:
    raise ValueError(f"generator must be 'mlp' or 'denoiser', got {config.generator!r}")
  fake = denoiser_module(config, dim)
  if config.network == "unet":
    disc = unet.ConvDiscriminator(_side(dim), tuple(config.disc_channels), config.sigma_data)
  else:
    disc = Discriminator(tuple(config.disc_hidden or config.hidden), config.sigma_data)
  gen_lr = (
    config.generator_lr
    if config.generator_lr_final is None
    else optax.cosine_decay_schedule(
      config.generator_lr, config.steps, alpha=config.generator_lr_final / config.generator_lr
    )
  )
  gen_opt = optax.adam(gen_lr, b1=0.0, b2=0.99)
  critic_opt = optax.adam(config.critic_lr, b1=0.0, b2=0.99)
  student = Student(config, dim, latent, gen, fake, disc, gen_opt, critic_opt)
  make_trainer(student, "reverse_kl")  # the trainer's checks of the config, at construction
  return student


def init_state(student: Student, key, teacher_params=None) -> State:
  """Fresh networks, or (``teacher_params``) the generator and fake denoiser copied from
  the teacher network, as FastGen starts."""
  kg, kf, kd = jax.random.split(key, 3)
  pg = student.gen.init(kg, jnp.zeros((1, student.latent)))
  pf = student.fake.init(kf, jnp.zeros((1, student.dim)), jnp.ones((1,)))
  pd = student.disc.init(kd, jnp.zeros((1, student.dim)), jnp.ones((1,)))
  if teacher_params is not None:
    pf = teacher_params
    pg = {"params": {"denoiser": teacher_params["params"]}}
  return student.trainer("reverse_kl").init(pg, pf, pd)


def sample(student: Student, gen_params, key, n: int) -> jax.Array:
  """``n`` one-step samples G(z), z ~ N(0, I), the batch split over the data mesh."""
  z = parallel.shard_batch(jax.random.normal(key, (n, student.latent)))
  return student.gen.apply(gen_params, z)


def make_trainer(student: Student, divergence) -> distill.FDistill:
  """The library's f-distill step (:func:`fdiv_jax.distill.f_distill`) on the student's
  networks, with the config's noise law and stabilisers; batches split over the data mesh."""
  c = student.config
  return distill.f_distill(
    teacher_denoiser=lambda t, x, sigma: t.denoiser(x, sigma),
    sample_real=lambda t, key, n: t.sample(key, n),
    generator=student.gen.apply,
    fake_denoiser=student.fake.apply,
    discriminator=student.disc.apply,
    generator_optimizer=student.gen_opt,
    critic_optimizer=student.critic_opt,
    divergence=divergence,
    latent_shape=(student.latent,),
    batch_size=c.batch_size,
    sigma_min=c.sigma_min,
    sigma_max=c.sigma_max,
    sigma_distribution=c.sigma_distribution,
    critic_updates=c.critic_updates,
    gan_weight=c.gan_weight,
    logit_clip=c.logit_clip,
    ratio_clip=c.ratio_clip,
    ratio_bins=c.ratio_bins,
    normalize_weight=c.normalize_weight,
    weighting=c.weighting,
    fake_loss=c.fake_loss,
    sigma_data=c.sigma_data,
    ema_decay=c.ema_decay,
    constrain=parallel.shard_batch,
  )


def train_step(student: Student, state: State, key, teacher, divergence):
  """``config.critic_updates`` critic steps, then one generator step (FastGen's ratio)."""
  state, info = student.trainer(divergence).step(key, state, teacher)
  metrics = {
    "h_min": info.weight_min,
    "h_mean": info.weight_mean,
    "h_max": info.weight_max,
    "log_r_mean": info.log_ratio_mean,
    "grad_norm": info.grad_norm,
    "fake_loss": info.fake_loss,
    "disc_loss": info.discriminator_loss,
  }
  return state, metrics


def gradient_noise(
  student: Student, state: State, key: jax.Array, teacher, divergence, batches: int = 32
) -> dict:
  r"""Spread of the generator's gradient across ``batches`` independent batches.

  ``relative_variance`` is :math:`\mathbb E\|g - \bar g\|^2 / \|\bar g\|^2` (the
  noise-to-signal ratio of one batch's gradient; Adam's step follows its
  direction), with the statistics of the raw weights :math:`h` over all batches.
  """
  grads, (h, _) = jax.vmap(lambda k: student.generator_grads(state, k, teacher, divergence))(
    jax.random.split(key, batches)
  )
  flat = jax.vmap(lambda g: jax.flatten_util.ravel_pytree(g)[0])(grads)
  mean = flat.mean(0)
  return {
    "relative_variance": jnp.mean(jnp.sum((flat - mean) ** 2, -1)) / jnp.sum(mean**2),
    "h_std_over_mean": jnp.std(h) / jnp.mean(h),
    "h_max": jnp.max(h),
    "h_min": jnp.min(h),
  }


def train_chunk(student: Student, state: State, keys: jax.Array, teacher, divergence, steps: int):
  """``steps`` train steps for every seed (vmapped, ``lax.scan``)."""
  step = lambda s, k: student.train_step(s, k, teacher, divergence)
  return training.scan_seeds(step, state, keys, steps)


@jax.jit
def reference_bandwidth(reference):
  """The MMD bandwidth of :func:`evaluate`: the median heuristic on the first
  2 000 reference points (a sort of 2 million distances: compute it once)."""
  return fd.kernels.median_bandwidth(reference[:2000])


@functools.partial(jax.jit, static_argnames="final")
def _sample_statistics(x, reference, bandwidth, teacher: D.GaussianMixture, *, final: bool):
  """The array part of :func:`evaluate`, compiled once per sample count."""
  # Within 4 scales of a mean the nearest mean is the most responsible component.
  radius = 4 * teacher.scales[0, 0]
  hist = fd.metrics.mode_coverage(x, teacher.means, radius=radius).histogram
  ref = reference[:2000]
  mmd = fd.mmd(x[:2000], ref, bandwidth=bandwidth)
  sink = fd.sinkhorn_divergence(x[:1000], reference[:1000], epsilon=1.0)[0] if final else jnp.nan
  return hist, mmd, sink, jnp.mean(teacher.log_prob(x))


def evaluate(
  x: np.ndarray,
  final: bool = True,
  *,
  teacher: D.GaussianMixture,
  reference: np.ndarray,
  cover_fraction: float,
  bandwidth: float | None = None,
) -> dict:
  """Mode coverage, histogram TV, MMD / Sinkhorn to teacher samples, E_q log p.

  Each sample within 4 component scales of a mean is assigned to the nearest one
  (:func:`fdiv_jax.metrics.mode_coverage`; there it is also the most responsible
  component); mode ``k`` is covered if it holds at least ``cover_fraction * w_k`` of the
  samples. Samples farther than 4 component scales from every mean are "off-mode";
  ``mode_tv`` is the TV distance between the histogram over the K modes plus
  an off-mode bin (all samples) and the weights (off-mode bin 0).
  MMD uses 2 000 points per side (``bandwidth``, by default
  :func:`reference_bandwidth`; pass it when evaluating often); the Sinkhorn divergence
  (OTT, squared Euclidean cost, epsilon = 1) uses 1 000 and is computed only
  when ``final`` (it costs seconds on a CPU; NaN otherwise).
  """
  w = np.exp(np.asarray(teacher.log_weights))
  reference = jnp.asarray(reference)
  bandwidth = reference_bandwidth(reference) if bandwidth is None else bandwidth
  hist, mmd, sink, log_p = _sample_statistics(
    jnp.asarray(x), reference, bandwidth, teacher, final=final
  )
  n = len(x)
  hist = np.rint(np.asarray(hist, np.float64) * n) / n  # the exact counts / n
  off = 1.0 - hist.sum()
  return {
    "modes_covered": int(np.sum(hist >= cover_fraction * w)),
    # TV over the K modes plus an off-mode bin (the teacher puts ~0 mass there).
    "mode_tv": float(0.5 * (np.abs(hist - w).sum() + off)),
    "off_mode_fraction": float(off),
    "mmd": float(mmd),
    "sinkhorn": float(sink),
    "log_p_teacher": float(log_p),
    "histogram": hist.tolist(),
  }
