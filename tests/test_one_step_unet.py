"""The image configs' convolutional networks: shapes, EDM preconditioning, and one jitted
f-distill step of a U-Net student on 28 x 28 images (no data set needed)."""

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fdiv_jax as fd
from experiments.common.digits import Split
from experiments.one_step_diffusion import images, unet
from experiments.one_step_diffusion import train as T
from experiments.one_step_diffusion.configs import fashion, fashion_gpu

KEY = jax.random.key(0)


def test_unet_denoiser_shapes_and_preconditioning():
  net = unet.UNetDenoiser(side=28, channels=(4, 8, 8), sigma_data=0.5)
  x = jax.random.normal(KEY, (3, 784))
  params = net.init(KEY, x, jnp.ones(3))
  out = net.apply(params, x, jnp.array([0.1, 1.0, 80.0]))
  chex.assert_shape(out, (3, 784))
  chex.assert_tree_all_finite(out)
  # c_skip -> 1 and c_out -> 0 as sigma -> 0: the denoiser returns its input.
  tiny = net.apply(params, x, jnp.full(3, 1e-5))
  np.testing.assert_allclose(tiny, x, atol=1e-3)
  disc = unet.ConvDiscriminator(side=28, channels=(4, 8), sigma_data=0.5)
  logits = disc.apply(disc.init(KEY, x, jnp.ones(3)), x, jnp.ones(3))
  chex.assert_shape(logits, (3,))


def test_unet_needs_square_images():
  config = dataclasses.replace(fashion_gpu.get_config(), channels=(4, 8))
  with pytest.raises(ValueError, match="square images"):
    T.denoiser_module(config, 100 + 1)


def test_one_f_distill_step_of_a_unet_student_from_its_teacher():
  config = dataclasses.replace(
    fashion_gpu.get_config(),
    channels=(4, 8),
    disc_channels=(4,),
    batch_size=4,
    critic_updates=1,
  )
  rng = np.random.default_rng(0)
  pixels = rng.uniform(size=(16, 784)).astype(np.float32)
  labels = np.arange(16, dtype=np.int32) % 10
  data = images.Data(
    2 * pixels - 1, 2 * pixels[:8] - 1, Split(pixels, labels, pixels[:8], labels[:8]), 28
  )
  model = T.denoiser_module(config, 784)
  teacher_params = model.init(KEY, jnp.zeros((1, 784)), jnp.ones(1))
  teacher = images.teacher_pytree(model, teacher_params, data)
  student = T.make_student(config, dim=784)
  state = student.init(KEY, teacher_params)
  # The generator starts as the teacher at sigma_init: G(z) = D(sigma_init z, sigma_init).
  z = jax.random.normal(KEY, (2, 784))
  np.testing.assert_allclose(
    student.gen.apply(state.generator, z),
    model.apply(teacher_params, config.sigma_init * z, jnp.full(2, config.sigma_init)),
    rtol=1e-5,
  )
  new, metrics = jax.jit(student.train_step, static_argnums=())(state, KEY, teacher, fd.get("js"))
  chex.assert_tree_all_finite((new, metrics))
  assert int(new.step) == 1
  moved = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), new.generator, state.generator)
  assert max(jax.tree.leaves(moved)) > 0


def test_fashion_configs_differ_only_where_stated():
  cpu, gpu = fashion.get_config(), fashion_gpu.get_config()
  assert (cpu.dataset, cpu.network, cpu.pool) == ("fashion", "mlp", 2)
  assert (gpu.dataset, gpu.network, gpu.pool) == ("fashion", "unet", 1)
  assert cpu.eval_samples >= 10_000 and gpu.eval_samples >= 10_000
