"""The packaged f-distill step: shapes, jit, convergence on a Gaussian teacher, errors."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from fdiv_jax import distill

KEY = jax.random.key(0)


def _gaussian_trainer(divergence, *, event=(2,), teacher_std=1.0, **kw):
  """Teacher N(0, s^2 I) with its exact denoiser; generator G(z) = a z; fake denoiser of
  N(0, v I); discriminator c0 + c1 |x|^2 / d (the exact log ratio of two centred Gaussians
  at one noise level is of this form)."""
  dim = int(np.prod(event))

  def gauss_denoiser(var, x, sigma):
    s2 = (sigma**2).reshape((-1,) + (1,) * (x.ndim - 1))
    return x * var / (var + s2)

  def disc(p, x, sigma):
    r2 = jnp.sum(x.reshape(x.shape[0], -1) ** 2, -1) / dim
    return p["c0"] + p["c1"] * r2 / (1.0 + sigma**2)

  kw = dict(
    dict(
      batch_size=256,
      sigma_min=0.05,
      sigma_max=5.0,
      sigma_distribution="log_uniform",
      critic_updates=3,
      fake_loss="edm",
    ),
    **kw,
  )
  return distill.f_distill(
    teacher_denoiser=lambda t, x, s: gauss_denoiser(t**2, x, s),
    sample_real=lambda t, k, n: t * jax.random.normal(k, (n, *event)),
    generator=lambda a, z: a * z,
    fake_denoiser=lambda v, x, s: gauss_denoiser(jnp.exp(v), x, s),
    discriminator=disc,
    generator_optimizer=optax.adam(2e-2),
    critic_optimizer=optax.adam(5e-2),
    divergence=divergence,
    latent_shape=event,
    **kw,
  ), jnp.asarray(teacher_std)


def _init(trainer, a0=0.3):
  return trainer.init(jnp.asarray(a0), jnp.log(jnp.asarray(a0**2)), {"c0": 0.0, "c1": 0.0})


@pytest.mark.parametrize("divergence", ["reverse_kl", "kl", "js"])
def test_generator_scale_converges_to_the_teacher(divergence):
  trainer, teacher = _gaussian_trainer(divergence)
  state = _init(trainer)

  @jax.jit
  def run(state, key):
    return jax.lax.scan(lambda s, _: trainer.step(key, s, teacher), state, length=300)

  state, info = run(state, KEY)
  chex.assert_tree_all_finite(info)
  assert int(state.step) == 300
  # The generator's scale a moves from 0.3 to the teacher's 1; the fake denoiser follows it.
  np.testing.assert_allclose(state.generator, 1.0, atol=0.1)
  np.testing.assert_allclose(jnp.exp(0.5 * state.fake), state.generator, atol=0.1)


def test_images_equal_flattened_vectors():
  """The step is shape-agnostic: ``[B, 4, 4, 1]`` images give the same state as the same
  networks on ``[B, 16]`` vectors."""
  img, teacher = _gaussian_trainer("js", event=(4, 4, 1), gan_weight=0.1, ratio_bins=3)
  vec, _ = _gaussian_trainer("js", event=(16,), gan_weight=0.1, ratio_bins=3)
  s_img, i_img = jax.jit(img.step)(KEY, _init(img), teacher)
  s_vec, i_vec = jax.jit(vec.step)(KEY, _init(vec), teacher)
  chex.assert_trees_all_close(s_img, s_vec, rtol=1e-5)
  chex.assert_trees_all_close(i_img, i_vec, rtol=1e-5)


@pytest.mark.parametrize("weighting", ["dmd", "score_dmd", "none"])
def test_jit_equals_eager_and_vmap_over_seeds(weighting):
  trainer, teacher = _gaussian_trainer("kl", weighting=weighting, ema_decay=0.9)
  state = _init(trainer)
  eager, info = trainer.step(KEY, state, teacher)
  jitted, info_jit = jax.jit(trainer.step)(KEY, state, teacher)
  chex.assert_trees_all_close((eager, info), (jitted, info_jit), rtol=1e-5)
  assert float(eager.generator) != 0.3 and float(eager.generator_ema) != float(eager.generator)
  keys = jax.random.split(KEY, 3)
  states = jax.tree.map(lambda x: jnp.stack([x] * 3), state)
  batched, _ = jax.vmap(trainer.step, in_axes=(0, 0, None))(keys, states, teacher)
  for i in range(3):
    one, _ = trainer.step(keys[i], state, teacher)
    chex.assert_trees_all_close(jax.tree.map(lambda x: x[i], batched), one, rtol=1e-5)


def test_generator_gradient_is_the_steps_gradient():
  """With plain SGD of rate 1 and no critic change visible to the generator, the step moves
  the generator by minus the gradient that ``generator_gradient`` reports."""
  teacher = jnp.asarray(1.0)
  sgd = distill.f_distill(**{**trainer_kwargs(), "generator_optimizer": optax.sgd(1.0)})
  state = _init(sgd)
  new, _ = sgd.step(KEY, state, teacher)
  # The generator's gradient is taken after the critic updates, with the step's last key.
  key = jax.random.split(jax.random.fold_in(KEY, state.step), 2)[-1]
  critics = state._replace(fake=new.fake, discriminator=new.discriminator)
  grads, (h, logit) = sgd.generator_gradient(key, critics, teacher)
  np.testing.assert_allclose(new.generator, state.generator - grads, rtol=1e-6)
  chex.assert_shape((h, logit), ((256,), (256,)))


def trainer_kwargs():
  return dict(
    teacher_denoiser=lambda t, x, s: x * t**2 / (t**2 + s[:, None] ** 2),
    sample_real=lambda t, k, n: t * jax.random.normal(k, (n, 2)),
    generator=lambda a, z: a * z,
    fake_denoiser=lambda v, x, s: x * jnp.exp(v) / (jnp.exp(v) + s[:, None] ** 2),
    discriminator=lambda p, x, s: p["c0"] + p["c1"] * jnp.sum(x**2, -1),
    critic_optimizer=optax.adam(5e-2),
    divergence="js",
    latent_shape=(2,),
    batch_size=256,
    sigma_min=0.05,
    sigma_max=5.0,
    critic_updates=1,
  )


@pytest.mark.parametrize(
  "bad, match",
  [
    (dict(weighting="x0"), "weighting must be one of"),
    (dict(fake_loss="dsm"), "fake_loss must be one of"),
    (dict(ema_decay=1.0), "ema_decay must be in"),
    (dict(critic_updates=0), "critic_updates and batch_size must be >= 1"),
    (dict(sigma_min=5.0, sigma_max=1.0), "sigma_min < sigma_max"),
  ],
)
def test_bad_arguments_raise(bad, match):
  kw = {**trainer_kwargs(), "generator_optimizer": optax.sgd(1.0), **bad}
  with pytest.raises(ValueError, match=match):
    distill.f_distill(**kw)
