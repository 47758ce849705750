"""The sampling benchmark's posteriors against independent implementations.

Each ``log_prob`` is compared in float64 with a density written without this package:
numpyro's potential energy of the model as the benchmark defines it (logistic
regressions, seeds), Inference Gym's own density (Brownian motion) and SciPy's
multivariate normal (the Cox process), at points of the posterior (the shipped
reference samples, or a short walk towards the mode) and away from it, to 1e-5 relative.
The data are read and preprocessed here again from the shipped files.
"""

import io
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from inference_gym import using_jax as gym
from numpyro.infer.util import potential_energy

from fdiv_jax import targets
from fdiv_jax.targets._target import data_text

RTOL = 1e-5


@pytest.fixture(autouse=True)
def x64():
  with jax.enable_x64(True):
    yield


def _table(name):
  return np.loadtxt(io.StringIO(data_text(name)), delimiter=",", comments="#", ndmin=2)


def _numpyro_logistic(design, y, prior_scale, sign):
  def model():
    w = numpyro.sample("w", dist.Normal(0.0, prior_scale).expand([design.shape[1]]).to_event(1))
    numpyro.sample("y", dist.Bernoulli(logits=sign * (jnp.asarray(design) @ w)), obs=y)

  return lambda w: -potential_energy(model, (), {}, {"w": w})


def _logistic_case(name):
  if name in ("german_credit", "breast_cancer"):
    t = _table("german_credit_numeric.csv" if name == "german_credit" else "breast_cancer.csv")
    x, y = (t[:, :-1], t[:, -1] - 1) if name == "german_credit" else (t[:, 1:], t[:, 0])
    x = x / x.std(0)
    prior, sign = 10.0, -1.0
  else:
    t = _table(f"{name}.csv")
    x, y = t[:, 1:], (t[:, 0] + 1) / 2
    sd = x.std(0)
    x = (x - x.mean(0)) / np.where(sd == 0, 1.0, sd)
    prior, sign = 1.0, 1.0
  design = np.concatenate([np.ones((x.shape[0], 1)), x], 1)
  return getattr(targets, name)(), _numpyro_logistic(design, y, prior, sign)


def _points_near_mode(target, key, n=4, steps=300, lr=1e-3):
  """``n`` points from a short gradient ascent on ``log_prob`` (the posterior bulk)."""
  grad = jax.vmap(jax.grad(target.log_prob))
  x = 0.1 * jax.random.normal(key, (n, target.dim))
  step = lambda _, x: x + lr * jnp.clip(grad(x), -100.0, 100.0)
  return jax.jit(lambda x: jax.lax.fori_loop(0, steps, step, x))(x)


def _check(target, reference_fn, points):
  got = target.log_prob(points)
  want = jnp.stack([reference_fn(p) for p in points])
  chex.assert_shape(got, points.shape[:1])
  assert got.dtype == jnp.float64
  np.testing.assert_allclose(got, want, rtol=RTOL)


@pytest.mark.parametrize("name", ["german_credit", "breast_cancer", "ionosphere", "sonar"])
def test_logistic_regressions_equal_numpyro(name):
  target, reference = _logistic_case(name)
  key = jax.random.PRNGKey(1)
  away = jax.random.normal(key, (3, target.dim)) * jnp.array([0.3, 3.0, 30.0])[:, None]
  if target.reference_samples is not None:
    near = jnp.asarray(target.reference_samples()[::2500])
  else:
    near = _points_near_mode(target, key)
  _check(target, reference, jnp.concatenate([near, away]))


def test_shipped_reference_samples_are_in_the_default_sign():
  """The shipped samples sit in the mode of the default definition, not in its mirror
  image (mean log density hundreds of nats apart)."""
  for target in (targets.german_credit(), targets.breast_cancer()):
    ref = jnp.asarray(target.reference_samples()[:2000])
    assert float(jnp.mean(target.log_prob(ref))) > float(jnp.mean(target.log_prob(-ref))) + 500
    mirrored = getattr(targets, target.name)(sign=1)
    np.testing.assert_allclose(mirrored.reference_samples()[:10], -ref[:10])
    np.testing.assert_allclose(mirrored.log_prob(-ref[:10]), target.log_prob(ref[:10]), rtol=1e-12)


def test_likelihood_only_definition_leaves_the_prior_out():
  t0, t1 = targets.german_credit(prior_scale=None), targets.german_credit()
  w = jax.random.normal(jax.random.PRNGKey(2), (5, 25))
  prior = jax.scipy.stats.norm.logpdf(w, 0.0, 10.0).sum(-1)
  np.testing.assert_allclose(t1.log_prob(w) - t0.log_prob(w), prior, rtol=1e-10)


def test_seeds_equals_numpyro():
  t = _table("seeds.csv")
  r, n, x1, x2 = (jnp.asarray(t[:, i]) for i in range(4))

  def model():
    tau = numpyro.sample("tau", dist.Gamma(0.01, 0.01))
    a = [numpyro.sample(f"a{i}", dist.Normal(0.0, 10.0)) for i in range(4)]
    b = numpyro.sample("b", dist.Normal(0.0, 1.0 / jnp.sqrt(tau)).expand([21]).to_event(1))
    logits = a[0] + a[1] * x1 + a[2] * x2 + a[3] * x1 * x2 + b
    numpyro.sample("r", dist.Binomial(n, logits=logits), obs=r)

  def reference(x):  # unconstrained: numpyro's tau site is log tau, with its Jacobian
    params = {f"a{i}": x[i] for i in range(4)} | {"tau": x[4], "b": x[5:]}
    return -potential_energy(model, (), {}, params)

  target = targets.seeds()
  key = jax.random.PRNGKey(3)
  away = jax.random.normal(key, (3, 26)) * jnp.array([0.5, 2.0, 5.0])[:, None]
  _check(target, reference, jnp.concatenate([_points_near_mode(target, key), away]))


def test_brownian_equals_inference_gym():
  model = gym.targets.VectorModel(
    gym.targets.BrownianMotionUnknownScalesMissingMiddleObservations(),
    flatten_sample_transformations=True,
  )
  bijector = model.default_event_space_bijector

  def reference(z):
    return model.unnormalized_log_prob(bijector(z)) + bijector.forward_log_det_jacobian(z)

  target = targets.brownian()
  key = jax.random.PRNGKey(4)
  away = jax.random.normal(key, (3, 32)) * jnp.array([0.3, 1.0, 3.0])[:, None]
  _check(target, reference, jnp.concatenate([_points_near_mode(target, key), away]))


def test_lgcp_equals_scipy_and_whitening_keeps_log_z():
  from scipy.stats import multivariate_normal, poisson

  grid = 8  # the 40 x 40 grid's code path at a size SciPy evaluates quickly
  pines = _table("finnish_pines.csv")
  counts = np.zeros((grid, grid))
  for px, py in pines:
    counts[min(int(px * grid), grid - 1), min(int(py * grid), grid - 1)] += 1
  counts = counts.ravel()
  ij = np.stack(np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij"), -1).reshape(-1, 2)
  cov = 1.91 * np.exp(-np.linalg.norm(ij[:, None] - ij[None], axis=-1) / (grid / 33.0))
  mean = np.log(126.0) - 1.91 / 2
  area = 1.0 / grid**2
  gp = multivariate_normal(mean * np.ones(grid**2), cov)

  def reference(x):
    x = np.asarray(x)
    # Poisson log pmf less its constant n log a - log n! (which the benchmark leaves out).
    log_n_factorial = np.array([math.lgamma(c + 1) for c in counts])
    lik = poisson.logpmf(counts, area * np.exp(x)) - counts * np.log(area) + log_n_factorial
    return gp.logpdf(x) + lik.sum()

  target = targets.lgcp(grid)
  np.testing.assert_array_equal(targets.pines_counts(grid), counts)
  x = jnp.asarray(gp.rvs(4, random_state=0)) + jnp.array([[0.0], [0.0], [1.0], [-2.0]])
  _check(target, reference, x)
  # Whitened: log gamma_w(e) = log gamma(L e + mu) + log |det L| for every e.
  white = targets.lgcp(grid, parameterization="whitened")
  chol = np.linalg.cholesky(cov)
  e = jax.random.normal(jax.random.PRNGKey(5), (3, grid**2))
  np.testing.assert_allclose(
    white.log_prob(e),
    target.log_prob(e @ chol.T + mean) + np.log(np.diag(chol)).sum(),
    rtol=1e-10,
  )
  assert targets.lgcp().dim == 1600


ALL = [
  "german_credit",
  "breast_cancer",
  "ionosphere",
  "sonar",
  "seeds",
  "brownian",
  "lgcp",
  "eight_schools",
  "stochastic_volatility",
  "synthetic_lgcp",
  "item_response",
]


@pytest.mark.parametrize("name", ALL)
def test_posterior_log_prob_batching_jit_and_errors(name):
  target = getattr(targets, name)()
  x = 0.1 * jax.random.normal(jax.random.PRNGKey(6), (2, 3, target.dim))
  out = target.log_prob(x)
  chex.assert_shape(out, (2, 3))
  np.testing.assert_allclose(jax.jit(target.log_prob)(x), out, rtol=1e-12)
  np.testing.assert_allclose(jax.vmap(target.log_prob)(x), out, rtol=1e-12)
  np.testing.assert_allclose(target.log_prob(x[0, 0]), out[0, 0], rtol=1e-12)
  assert bool(jnp.all(jnp.isfinite(jax.vmap(jax.grad(target.log_prob))(x[0]))))
  with jax.enable_x64(False):
    assert target.log_prob(jnp.zeros((target.dim,), jnp.float32)).dtype == jnp.float32
  nan = x[0].at[1, 0].set(jnp.nan)
  got = target.log_prob(nan)
  assert bool(jnp.isnan(got[1])) and bool(jnp.all(jnp.isfinite(got[::2])))
  with pytest.raises(ValueError, match=f"shape \\[..., {target.dim}\\]"):
    target.log_prob(jnp.zeros((4, target.dim + 1)))


def test_definition_keywords_are_checked():
  with pytest.raises(ValueError, match="sign"):
    targets.german_credit(sign=0)
  with pytest.raises(ValueError, match="prior_scale"):
    targets.sonar(prior_scale=-1.0)
  with pytest.raises(ValueError, match="parameterization"):
    targets.lgcp(parameterization="white")
