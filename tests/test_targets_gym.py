"""Inference Gym's posteriors, written in ``fdiv_jax.targets``, against Inference Gym.

Each ``log_prob`` is compared in float64 with Inference Gym's own density in its
unconstrained space (``unnormalized_log_prob`` of the constrained value plus the default
event-space bijector's log-Jacobian) at the ground-truth posterior means and at points
away from them, to 1e-5 relative; the ground-truth moments' layout and transform, Eight
Schools' exact log Z and the whitened Cox process are checked against independent
computations.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from inference_gym import using_jax as gym

from fdiv_jax import targets

RTOL = 1e-5

# fdiv_jax target -> (Inference Gym model, its unconstrained value at the posterior mean).
CASES = {
  "eight_schools": "EightSchools",
  "stochastic_volatility": "StochasticVolatilitySP500Small",
  "synthetic_lgcp": "SyntheticLogGaussianCoxProcess",
  "item_response": "SyntheticItemResponseTheory",
  "brownian": "BrownianMotionUnknownScalesMissingMiddleObservations",
}


@pytest.fixture(autouse=True)
def x64():
  with jax.enable_x64(True):
    yield


def _gym(name):
  model = gym.targets.VectorModel(
    getattr(gym.targets, CASES[name])(), flatten_sample_transformations=True
  )
  bijector = model.default_event_space_bijector

  def log_prob(z):
    return model.unnormalized_log_prob(bijector(z)) + bijector.forward_log_det_jacobian(z)

  return model, bijector, log_prob


@pytest.mark.parametrize("name", sorted(CASES))
def test_log_prob_equals_inference_gym(name):
  target = getattr(targets, name)()
  model, bijector, reference = _gym(name)
  assert model.event_shape == (target.dim,)
  # The ground-truth mean, mapped to the unconstrained space by Inference Gym's bijector.
  mean = bijector.inverse(jnp.asarray(target.moments.mean))
  key = jax.random.PRNGKey(0)
  noise = jax.random.normal(key, (4, target.dim)) * jnp.array([0.0, 0.1, 0.5, 2.0])[:, None]
  points = mean + noise * jnp.asarray(target.moments.std)
  got = target.log_prob(points)
  want = jnp.stack([reference(p) for p in points])
  assert got.dtype == jnp.float64 and bool(jnp.all(jnp.isfinite(want)))
  np.testing.assert_allclose(got, want, rtol=RTOL)
  # The moments' transform is Inference Gym's bijector (unconstrained -> constrained).
  np.testing.assert_allclose(target.moments.transform(points), bijector(points), rtol=1e-10)


@pytest.mark.parametrize("name", sorted(CASES))
def test_ground_truth_moments_layout(name):
  moments = getattr(targets, name)().moments
  dim = getattr(targets, name)().dim
  for field in (moments.mean, moments.std, moments.mean_standard_error):
    assert field.shape == (dim,)
  assert np.all(moments.std > 0) and np.all(moments.mean_standard_error < 0.1 * moments.std)
  assert "inference_gym" in moments.source and "stan_samples" in moments.source


def test_eight_schools_log_z_by_independent_quadrature():
  # Integrate mu and log tau on a 2-D grid with each school's theta integrated out
  # (y_i | mu, tau ~ N(mu, tau^2 + sigma_i^2)), against the module's 1-D closed form.
  from scipy.stats import norm

  from fdiv_jax.targets._eight_schools import EFFECTS, STDDEVS

  mu = np.linspace(-60, 70, 1301)
  t = np.linspace(-12, 12, 1201)
  m, tt = np.meshgrid(mu, t, indexing="ij")
  scale = np.sqrt(np.exp(2 * tt)[..., None] + STDDEVS**2)
  log_f = (
    norm.logpdf(m, 0, 10)
    + norm.logpdf(tt, 5, 1)
    + norm.logpdf(EFFECTS, m[..., None], scale).sum(-1)
  )
  peak = log_f.max()
  log_z = peak + np.log(np.trapezoid(np.trapezoid(np.exp(log_f - peak), t, axis=1), mu))
  target = targets.eight_schools()
  assert abs(target.log_z - log_z) < 1e-6 and target.log_z_se == 0.0


def test_synthetic_lgcp_whitened_equals_latent_with_jacobian():
  latent = targets.synthetic_lgcp()
  white = targets.synthetic_lgcp(parameterization="whitened")
  x = jax.random.normal(jax.random.PRNGKey(1), (3, white.dim)) * 0.5
  f = white.moments.transform(x)[..., 2:]
  y = jnp.concatenate([x[..., :2], f], -1)
  # log |det L| from the latent side: the whitened density is the latent one times |L|.
  mean_f = f - jnp.einsum("...ij,...j->...i", _cholesky(x), x[..., 2:])
  log_det = jnp.sum(jnp.log(jnp.diagonal(_cholesky(x), axis1=-2, axis2=-1)), -1)
  np.testing.assert_allclose(mean_f, jnp.broadcast_to(mean_f[0, 0], mean_f.shape), rtol=1e-12)
  np.testing.assert_allclose(white.log_prob(x), latent.log_prob(y) + log_det, rtol=1e-10)
  with pytest.raises(ValueError, match="parameterization"):
    targets.synthetic_lgcp(parameterization="white")


def _cholesky(x):
  """Cholesky factor of Inference Gym's Matern-3/2 covariance, built from TFP's kernel."""
  from tensorflow_probability.substrates import jax as tfp

  model = gym.targets.SyntheticLogGaussianCoxProcess()
  locations = jnp.asarray(model._train_locations)
  out = []
  for row in np.asarray(x):
    kernel = tfp.math.psd_kernels.MaternThreeHalves(
      amplitude=np.exp(row[0]) + 1e-3, length_scale=np.exp(row[1]) + 1e-3
    )
    k = kernel.matrix(locations, locations) + 1e-6 * jnp.eye(locations.shape[0])
    out.append(jnp.linalg.cholesky(k))
  return jnp.stack(out)


def test_stochastic_volatility_whitened_equals_latent_with_jacobian():
  latent = targets.stochastic_volatility()
  white = targets.stochastic_volatility(parameterization="whitened")
  x = jax.random.normal(jax.random.PRNGKey(2), (3, white.dim)).at[:, 1].add(7.0)
  y = jnp.concatenate([x[..., :3], white.moments.transform(x)[..., 3:]], -1)
  # h = mu + L eps with L lower-triangular: log |det L| = log s_0 + (T - 1) log sigma.
  u, v = x[:, 0], x[:, 2]
  phi = 2 * jax.nn.sigmoid(u) - 1
  sigma = jax.nn.softplus(v)
  log_det = jnp.log(sigma / jnp.sqrt(1 - phi**2)) + (white.dim - 4) * jnp.log(sigma)
  np.testing.assert_allclose(white.log_prob(x), latent.log_prob(y) + log_det, rtol=1e-10)
  # The path by its recursion, written out.
  h = [y[:, 1] + sigma / jnp.sqrt(1 - phi**2) * x[:, 3]]
  for t in range(1, 4):
    h.append(y[:, 1] + phi * (h[-1] - y[:, 1]) + sigma * x[:, 3 + t])
  np.testing.assert_allclose(y[:, 3:7], jnp.stack(h, -1), rtol=1e-10)
  with pytest.raises(ValueError, match="parameterization"):
    targets.stochastic_volatility(parameterization="noncentred")
