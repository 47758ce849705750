"""Noise schedules, conversions, DSM, and the exact noised Gaussian mixture."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fdiv_jax import diffusion as D

KEY = jax.random.PRNGKey(0)
GMM = D.GaussianMixture.create(
  means=jnp.array([[-2.0, 0.0], [2.0, 1.0], [0.0, -3.0]]),
  scales=jnp.array([[0.5, 0.3], [0.4, 0.4], [0.2, 0.6]]),
  weights=jnp.array([0.5, 0.3, 0.2]),
)
X = jax.random.normal(KEY, (64, 2)) * 2.0


def test_schedules():
  s = D.karras_sigmas(18, sigma_min=0.002, sigma_max=80.0)
  np.testing.assert_allclose([s[0], s[-1]], [80.0, 0.002], rtol=1e-5)
  assert bool(jnp.all(jnp.diff(s) < 0))
  t = jnp.linspace(1e-4, 1.0, 50)
  a, sig = D.vp_alpha_sigma(t)
  np.testing.assert_allclose(a**2 + sig**2, 1.0, rtol=1e-6)
  assert float(sig[0]) > 0  # expm1 keeps small-t sigma accurate
  np.testing.assert_allclose(
    sig[0], np.sqrt(1 - np.exp(2 * (-0.25 * 1e-8 * 19.9 - 0.5e-4 * 0.1))), rtol=1e-3
  )
  with pytest.raises(ValueError, match="num must be >= 2"):
    D.karras_sigmas(1)


@pytest.mark.parametrize("sigma,alpha", [(0.3, 1.0), (1.5, 1.0), (0.6, 0.8)])
def test_mixture_score_is_grad_log_prob_and_tweedie(sigma, alpha):
  score = GMM.score(X, sigma=sigma, alpha=alpha)
  auto = jax.vmap(jax.grad(lambda x: GMM.log_prob(x, sigma=sigma, alpha=alpha)))(X)
  np.testing.assert_allclose(score, auto, rtol=1e-4, atol=1e-5)
  den = GMM.denoiser(X, sigma=sigma, alpha=alpha)
  np.testing.assert_allclose(
    D.denoiser_from_score(X, score, sigma=sigma, alpha=alpha), den, rtol=1e-4, atol=1e-5
  )
  np.testing.assert_allclose(
    D.score_from_denoiser(X, den, sigma=sigma, alpha=alpha), score, rtol=1e-4, atol=1e-5
  )
  eps = D.eps_from_denoiser(X, den, sigma=sigma, alpha=alpha)
  np.testing.assert_allclose(
    D.denoiser_from_eps(X, eps, sigma=sigma, alpha=alpha), den, rtol=1e-5, atol=1e-5
  )


def test_mixture_log_prob_normalised_and_sampler():
  g = jnp.linspace(-8, 8, 801)
  xx, yy = jnp.meshgrid(g, g)
  pts = jnp.stack([xx.ravel(), yy.ravel()], -1)
  mass = jnp.exp(GMM.log_prob(pts, sigma=0.5)).sum() * (g[1] - g[0]) ** 2
  np.testing.assert_allclose(mass, 1.0, rtol=1e-3)
  x, comp = GMM.sample(KEY, 20000)
  np.testing.assert_allclose(jnp.bincount(comp, length=3) / 20000, [0.5, 0.3, 0.2], atol=0.015)
  np.testing.assert_allclose(x[comp == 1].mean(0), [2.0, 1.0], atol=0.03)


def test_exact_denoiser_minimises_dsm():
  """E||D(x_t) - x0||^2 is smallest at the posterior mean (Vincent, 2011)."""
  x0, _ = GMM.sample(KEY, 20000)
  noise = jax.random.normal(jax.random.fold_in(KEY, 1), x0.shape)
  sigma = jax.random.uniform(jax.random.fold_in(KEY, 2), (20000,), minval=0.1, maxval=2.0)
  x_t = D.add_noise(x0, noise, sigma=sigma)
  den = GMM.denoiser(x_t, sigma=sigma)
  best = D.denoising_score_matching_loss(den, x0).mean()
  for shift in (0.05, -0.1):
    assert float(D.denoising_score_matching_loss(den + shift, x0).mean()) > float(best)
  chex.assert_shape(
    D.denoising_score_matching_loss(den, x0, weight=D.edm_loss_weight(sigma)), (20000,)
  )
  with pytest.raises(ValueError, match="denoised and x0 must have the same shape"):
    D.denoising_score_matching_loss(den[:, :1], x0)


def test_finite_far_from_every_component():
  far = jnp.array([[1e3, -1e3], [50.0, 50.0]])
  chex.assert_tree_all_finite(
    (GMM.score(far, sigma=0.01), GMM.denoiser(far, sigma=0.01), GMM.log_prob(far, sigma=0.01))
  )


@pytest.mark.parametrize("distribution", ["log_uniform", "polynomial", "lognormal"])
def test_sample_sigmas_ranges_and_laws(distribution):
  s = D.sample_sigmas(KEY, (20000,), sigma_min=0.002, sigma_max=80.0, distribution=distribution)
  chex.assert_shape(s, (20000,))
  assert float(s.min()) >= 0.002 * (1 - 1e-6) and float(s.max()) <= 80.0 * (1 + 1e-6)
  log_s = np.log(np.asarray(s))
  if distribution == "log_uniform":
    np.testing.assert_allclose(np.median(log_s), 0.5 * np.log(0.002 * 80.0), atol=0.1)
  elif distribution == "polynomial":  # FastGen: uniform index into the Karras grid
    grid = np.asarray(D.karras_sigmas(1000, sigma_min=0.002, sigma_max=80.0))[::-1]
    idx = np.searchsorted(grid, np.asarray(s) * (1 - 1e-6))
    np.testing.assert_allclose(np.asarray(s), grid[idx], rtol=1e-5)
    assert idx.min() >= 2 and idx.max() <= 998
    np.testing.assert_allclose(np.median(idx), 500, atol=20)
  else:
    np.testing.assert_allclose(np.mean(log_s), -1.2, atol=0.05)
    np.testing.assert_allclose(np.std(log_s), 1.2, atol=0.05)
  with pytest.raises(ValueError, match="distribution must be one of"):
    D.sample_sigmas(KEY, 3, sigma_min=0.1, sigma_max=1.0, distribution="uniform")
  with pytest.raises(ValueError, match="sigma_min < sigma_max"):
    D.sample_sigmas(KEY, 3, sigma_min=1.0, sigma_max=0.1)


def test_edm_preconditioning_identities():
  sigma = jnp.array([0.01, 0.5, 3.0, 80.0])
  c = D.edm_preconditioning(sigma, sigma_data=0.5)
  np.testing.assert_allclose(c.c_skip + c.c_out**2 / 0.25, 1.0, rtol=1e-6)
  np.testing.assert_allclose(1 / c.c_out**2, D.edm_loss_weight(sigma, sigma_data=0.5), rtol=1e-5)
  np.testing.assert_allclose(c.c_in, 1 / jnp.sqrt(sigma**2 + 0.25), rtol=1e-6)
  np.testing.assert_allclose(c.c_noise, jnp.log(sigma) / 4, rtol=1e-6)
  with pytest.raises(ValueError, match="sigma must be > 0"):
    D.edm_preconditioning(0.0)


def test_heun_sample_solves_the_gaussian_flow_ode():
  """Data N(0, v): D(x, s) = v x / (v + s^2) and the probability-flow ODE maps
  x(s0) = s0 z to x(0) = s0 z sqrt(v / (v + s0^2)) exactly."""
  v = 0.7
  sigmas = D.karras_sigmas(40, sigma_min=0.002, sigma_max=20.0)
  z = jax.random.normal(KEY, (256, 2))
  x = D.heun_sample(lambda x, s: v * x / (v + s[:, None] ** 2), z, sigmas=sigmas)
  want = 20.0 * z * jnp.sqrt(v / (v + 20.0**2))
  np.testing.assert_allclose(x, want, rtol=1e-2, atol=1e-3)  # Euler is 5% off here
  # On the exact mixture the sampler reproduces the mode weights.
  den = lambda x, s: GMM.denoiser(x, sigma=s)
  x = D.heun_sample(
    den,
    jax.random.normal(KEY, (4000, 2)),
    sigmas=D.karras_sigmas(18, sigma_min=0.002, sigma_max=20.0),
  )
  comp = np.bincount(np.asarray(jnp.argmax(GMM.responsibilities(x), -1)), minlength=3)
  np.testing.assert_allclose(comp / 4000, [0.5, 0.3, 0.2], atol=0.03)
