"""Fréchet distance and improved precision / recall against independent implementations."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

import fdiv_jax as fd


def _clouds(n=400, m=300, d=6, seed=0):
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(n, d)) @ rng.normal(size=(d, d))
  y = 1.3 * rng.normal(size=(m, d)) + 0.5
  return x, y


def _frechet_scipy(x, y):
  s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
  root = scipy.linalg.sqrtm(s1 @ s2).real
  return np.sum((x.mean(0) - y.mean(0)) ** 2) + np.trace(s1 + s2 - 2 * root)


def test_frechet_distance_equals_scipy_sqrtm_and_the_gaussian_closed_form():
  x, y = _clouds()
  with jax.enable_x64(True):
    got = fd.metrics.frechet_distance(jnp.asarray(x), jnp.asarray(y))
    assert got.dtype == jnp.float64
    np.testing.assert_allclose(got, _frechet_scipy(x, y), rtol=1e-8)
    np.testing.assert_allclose(fd.metrics.frechet_distance(x, x), 0.0, atol=1e-9)
  # Population value of N(0, I) against N(mu, s^2 I): |mu|^2 + d (1 - s)^2.
  rng = np.random.default_rng(1)
  a, b = rng.normal(size=(100_000, 3)), 0.2 + 1.5 * rng.normal(size=(100_000, 3))
  np.testing.assert_allclose(fd.metrics.frechet_distance(a, b), 3 * 0.04 + 3 * 0.25, rtol=0.02)


def _precision_recall_numpy(real, fake, k):
  def radii(a):
    d = np.sqrt(((a[:, None] - a[None]) ** 2).sum(-1))
    return np.sort(d, axis=1)[:, k]

  def inside(points, centres, r):
    d = np.sqrt(((points[:, None] - centres[None]) ** 2).sum(-1))
    return np.mean(np.any(d <= r[None, :], axis=1))

  return inside(fake, real, radii(real)), inside(real, fake, radii(fake))


@pytest.mark.parametrize("k, block_size", [(3, 1024), (1, 7), (5, 64)])
def test_precision_recall_equals_a_brute_force_count(k, block_size):
  real, fake = _clouds(n=250, m=180)
  want = _precision_recall_numpy(real, fake, k)
  with jax.enable_x64(True):
    got = fd.metrics.precision_recall(real, fake, k=k, block_size=block_size)
  np.testing.assert_allclose((got.precision, got.recall), want)
  jitted = jax.jit(lambda a, b: fd.metrics.precision_recall(a, b, k=k, block_size=block_size))
  chex.assert_trees_all_close(
    jitted(real, fake), fd.metrics.precision_recall(real, fake, k=k, block_size=block_size)
  )


def test_precision_recall_separate_quality_from_coverage():
  rng = np.random.default_rng(2)
  real = np.concatenate([rng.normal(size=(500, 2)) - 10, rng.normal(size=(500, 2)) + 10])
  one_mode = rng.normal(size=(1000, 2)) + 10  # good samples of half the modes
  pr = fd.metrics.precision_recall(real, one_mode)
  assert float(pr.precision) > 0.9 and 0.4 < float(pr.recall) < 0.6
  far = rng.normal(size=(1000, 2)) + 100.0
  pr = fd.metrics.precision_recall(real, far)
  assert float(pr.precision) == 0.0 and float(pr.recall) == 0.0


def test_bad_inputs_raise():
  x, y = _clouds()
  with pytest.raises(ValueError, match=r"x must be features \[n, d\]"):
    fd.metrics.frechet_distance(x[:, 0], y)
  with pytest.raises(ValueError, match="same feature dimension"):
    fd.metrics.frechet_distance(x, y[:, :3])
  with pytest.raises(ValueError, match=r"fake must be features \[n, d\].*n >= 4"):
    fd.metrics.precision_recall(x, y[:3])
  with pytest.raises(ValueError, match="k must be an int >= 1"):
    fd.metrics.precision_recall(x, y, k=0)


def test_nan_features_give_nan():
  x, y = _clouds()
  y[0, 0] = np.nan
  assert bool(jnp.isnan(fd.metrics.frechet_distance(x, y)))
  pr = fd.metrics.precision_recall(x, y)
  assert bool(jnp.isnan(pr.precision)) and bool(jnp.isnan(pr.recall))
