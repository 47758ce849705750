"""Adaptive tempered SMC (blackjax): log Z and moments against closed forms."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fdiv_jax import smc

MU = jnp.array([0.0, 0.5, 1.0, -1.5])
SD = jnp.array([0.1, 0.5, 1.0, 2.0])
LOG_Z = 3.0 + float(jnp.sum(jnp.log(SD * jnp.sqrt(2 * jnp.pi))))
BASE_SCALE = 3.0


def log_target(x):  # an unnormalised Gaussian with log Z = LOG_Z
  return jnp.sum(-0.5 * ((x - MU) / SD) ** 2, -1) + 3.0


def log_base(x):
  return jnp.sum(jax.scipy.stats.norm.logpdf(x, 0.0, BASE_SCALE), -1)


def run(key, n=2000, **kw):
  x0 = BASE_SCALE * jax.random.normal(jax.random.fold_in(key, 1), (n, 4))
  f = lambda k, x: smc.tempered_smc(k, x, log_base=log_base, log_target=log_target, **kw)
  return jax.jit(f)(key, x0)


@pytest.mark.parametrize("mass_matrix", ["diagonal", "identity"])
def test_log_z_and_moments_of_a_gaussian(mass_matrix):
  r = run(jax.random.PRNGKey(0), max_steps=60, mass_matrix=mass_matrix)
  steps = int(r.num_steps)
  assert 2 <= steps < 60
  np.testing.assert_allclose(r.tempering[steps - 1 :], 1.0)
  assert bool(jnp.all(jnp.diff(r.tempering) >= 0))
  np.testing.assert_allclose(r.log_normalizer, LOG_Z, atol=0.05)
  w = jnp.exp(r.log_weights)
  np.testing.assert_allclose(jnp.sum(w), 1.0, rtol=1e-5)
  mean = jnp.sum(w[:, None] * r.particles, 0)
  sd = jnp.sqrt(jnp.sum(w[:, None] * (r.particles - mean) ** 2, 0))
  np.testing.assert_allclose(mean, MU, atol=0.1)
  np.testing.assert_allclose(sd, SD, rtol=0.1)
  if mass_matrix != "identity":  # preconditioned: the step size finds acceptance 0.65
    np.testing.assert_allclose(jnp.mean(r.acceptance_rate[steps // 2 : steps]), 0.65, atol=0.2)
  assert int(r.num_target_evals) == steps * 2000 * (5 * 5 + 3)


def test_log_z_unbiased_over_runs():
  """The mean of exp(log Z estimate - truth) over independent runs is 1 within its error."""
  keys = jax.random.split(jax.random.PRNGKey(1), 16)
  r = jax.vmap(lambda k: run(k, n=500, max_steps=60))(keys)
  ratio = jnp.exp(r.log_normalizer - LOG_Z)
  np.testing.assert_allclose(jnp.mean(ratio), 1.0, atol=4 * float(jnp.std(ratio)) / 4 + 0.02)
  chex.assert_shape(r.particles, (16, 500, 4))


def test_max_steps_stops_early_and_nan_targets_get_zero_weight():
  r = run(jax.random.PRNGKey(2), max_steps=2)
  assert int(r.num_steps) == 2 and float(r.tempering[-1]) < 1.0

  def half_nan(x):
    return jnp.where(x[:, 0] > 0, log_target(x), jnp.nan)

  x0 = BASE_SCALE * jax.random.normal(jax.random.PRNGKey(3), (1000, 4))
  out = jax.jit(
    lambda k, x: smc.tempered_smc(k, x, log_base=log_base, log_target=half_nan, max_steps=60)
  )(jax.random.PRNGKey(3), x0)
  assert bool(jnp.isfinite(out.log_normalizer))
  assert bool(jnp.all(out.particles[jnp.exp(out.log_weights) > 0, 0] > 0))


def test_arguments_are_checked():
  x0 = jnp.zeros((10, 4))
  kw = dict(log_base=log_base, log_target=log_target)
  with pytest.raises(ValueError, match="x0 must have"):
    smc.tempered_smc(jax.random.PRNGKey(0), jnp.zeros((10,)), **kw)
  with pytest.raises(ValueError, match="target_ess"):
    smc.tempered_smc(jax.random.PRNGKey(0), x0, target_ess=1.0, **kw)
  with pytest.raises(ValueError, match="num_mcmc_steps"):
    smc.tempered_smc(jax.random.PRNGKey(0), x0, num_mcmc_steps=0, **kw)
  with pytest.raises(ValueError, match="mass_matrix"):
    smc.tempered_smc(jax.random.PRNGKey(0), x0, mass_matrix="dense", **kw)
