"""fdiv_jax.cauchy_schwarz: CS divergence, CS mutual information and MMD."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from kernel_reference import KEY, X, Y, dense_log_k
from scipy.special import logsumexp

from fdiv_jax import cauchy_schwarz as cs
from fdiv_jax import kernels as K


def dense_cs(x, y, kernel, bw, wx=None, wy=None):
  lwx = np.zeros(len(x)) if wx is None else np.asarray(wx, np.float64)
  lwy = np.zeros(len(y)) if wy is None else np.asarray(wy, np.float64)
  t = lambda a, b, la, lb: logsumexp(la[:, None] + lb[None, :] + dense_log_k(a, b, kernel, bw))
  return t(x, x, lwx, lwx) + t(y, y, lwy, lwy) - 2 * t(x, y, lwx, lwy)


@pytest.mark.parametrize("kernel", K.KERNELS)
def test_cs_matches_dense_reference_and_is_nonnegative(kernel):
  got = cs.cauchy_schwarz_divergence(X, Y, bandwidth=0.8, kernel=kernel, block_size=32)
  np.testing.assert_allclose(got, dense_cs(X, Y, kernel, 0.8), rtol=1e-4, atol=1e-5)
  assert float(got) > 0
  np.testing.assert_allclose(
    cs.cauchy_schwarz_divergence(X, X, bandwidth=0.8, kernel=kernel), 0.0, atol=1e-5
  )


def test_cs_weights_scale_invariance_and_reference():
  lwx = jax.random.normal(KEY, (157,))
  lwy = jax.random.normal(jax.random.fold_in(KEY, 9), (131,))
  base = cs.cauchy_schwarz_divergence(X, Y, bandwidth=1.0, log_weights_x=lwx, log_weights_y=lwy)
  np.testing.assert_allclose(base, dense_cs(X, Y, "gaussian", 1.0, lwx, lwy), rtol=1e-4)
  scaled = cs.cauchy_schwarz_divergence(
    X, Y, bandwidth=1.0, log_weights_x=lwx + 5.0, log_weights_y=lwy - 3.0
  )
  np.testing.assert_allclose(scaled, base, rtol=1e-5)


def test_cs_finite_when_every_kernel_underflows():
  """Bandwidth 1e-3 in 50-D: exp(-d^2/2s^2) underflows to 0 for every pair."""
  x = jax.random.normal(KEY, (64, 50))
  y = jax.random.normal(jax.random.fold_in(KEY, 1), (64, 50)) + 0.1
  v = cs.cauchy_schwarz_divergence(x, y, bandwidth=1e-3)
  g = jax.grad(lambda a: cs.cauchy_schwarz_divergence(a, y, bandwidth=1e-3))(x)
  chex.assert_tree_all_finite((v, g))
  np.testing.assert_allclose(v, dense_cs(x, y, "gaussian", 1e-3), rtol=1e-4)
  naive = jnp.exp(-K.squared_distances(x, y) / (2 * 1e-6))
  assert float(naive.sum()) == 0.0  # the dense linear-domain estimate would be log(0)


def test_cs_converges_to_smoothed_gaussian_closed_form(optimizing_compiler):
  """Parzen CS between N(0, s^2) samples -> CS between the smoothed Gaussians.

  For 1-D Gaussians, int N(a, u) N(b, v) = N(a - b; 0, u + v); with the kernel of
  width sigma each pair-sum estimates the integral with variances s^2 + sigma^2/2.
  """
  n, sigma = 20000, 0.5
  mp, sp, mq, sq = 0.0, 1.0, 1.0, 1.5
  x = mp + sp * jax.random.normal(KEY, (n, 1))
  y = mq + sq * jax.random.normal(jax.random.fold_in(KEY, 1), (n, 1))
  got = cs.cauchy_schwarz_divergence(x, y, bandwidth=sigma, block_size=2048)
  vp, vq = sp**2 + sigma**2 / 2, sq**2 + sigma**2 / 2
  log_int = lambda a, b, u, v: -0.5 * np.log(2 * np.pi * (u + v)) - (a - b) ** 2 / (2 * (u + v))
  want = log_int(mp, mp, vp, vp) + log_int(mq, mq, vq, vq) - 2 * log_int(mp, mq, vp, vq)
  np.testing.assert_allclose(got, want, rtol=0.03)


def test_cs_gradients_check_grads():
  f = lambda x: cs.cauchy_schwarz_divergence(x, Y[:20], bandwidth=1.0, block_size=8)
  jax.test_util.check_grads(
    f, (X[:15].astype(jnp.float32),), order=1, modes=["rev"], atol=5e-2, rtol=5e-2
  )


def test_conditional_cs():
  kx = jax.random.normal(KEY, (120, 2))
  yv = jnp.sin(kx[:, :1]) + 0.1 * jax.random.normal(jax.random.fold_in(KEY, 5), (120, 1))
  same = cs.conditional_cauchy_schwarz_divergence(
    kx, yv, yv, bandwidth_x=1.0, bandwidth_y=0.5, block_size=32
  )
  np.testing.assert_allclose(same, 0.0, atol=1e-5)
  ccs = jax.jit(
    lambda p: cs.conditional_cauchy_schwarz_divergence(kx, yv, p, bandwidth_x=1.0, bandwidth_y=0.5)
  )
  good, bad = ccs(jnp.sin(kx[:, :1])), ccs(jnp.zeros_like(yv))
  assert 0 < float(good) < float(bad)
  # Dense reference of Prop. 1 with the (sum_i K_ji)^2 denominators.
  lk = dense_log_k(kx, kx, "gaussian", 1.0)
  pred = np.asarray(jnp.sin(kx[:, :1]))

  def term(a, b):
    return logsumexp(
      logsumexp(lk + dense_log_k(a, b, "gaussian", 0.5), axis=1) - 2 * logsumexp(lk, axis=1)
    )

  want = term(yv, yv) + term(pred, pred) - term(pred, yv) - term(yv, pred)
  np.testing.assert_allclose(good, want, rtol=1e-4, atol=1e-5)
  chex.assert_tree_all_finite(jax.jit(jax.grad(ccs))(pred))


def test_mmd_biased_unbiased_against_dense():
  kxx = np.exp(dense_log_k(X, X, "gaussian", 1.0))
  kyy = np.exp(dense_log_k(Y, Y, "gaussian", 1.0))
  kxy = np.exp(dense_log_k(X, Y, "gaussian", 1.0))
  n, m = len(kxx), len(kyy)
  biased = kxx.mean() + kyy.mean() - 2 * kxy.mean()
  unbiased = (kxx.sum() - n) / (n * (n - 1)) + (kyy.sum() - m) / (m * (m - 1)) - 2 * kxy.mean()
  np.testing.assert_allclose(cs.mmd(X, Y, bandwidth=1.0, block_size=40), biased, rtol=1e-4)
  np.testing.assert_allclose(cs.mmd(X, Y, bandwidth=1.0, unbiased=True), unbiased, rtol=1e-3)


def test_mmd_past_int32_pair_counts(optimizing_compiler):
  # n^2 = 2.5e9 pairs > 2^31: the normalisers are computed in log space.
  n = 50_000
  x = jnp.zeros((n, 1))
  far = jnp.full((10, 1), 1e3)
  np.testing.assert_allclose(cs.mmd(x, far, bandwidth=1.0), 2.0, rtol=1e-5)
  np.testing.assert_allclose(cs.mmd(x, far, bandwidth=1.0, unbiased=True), 2.0, rtol=1e-5)
  with pytest.raises(ValueError, match="at least 1 point"):
    cs.mmd(jnp.zeros((0, 1)), far, bandwidth=1.0)


@pytest.mark.parametrize("kernel", K.KERNELS)
def test_nan_in_the_data_gives_nan_out(kernel):
  """A NaN point is never dropped: its row sum is NaN, the others are untouched,
  and every estimator built on the sums is NaN (CS >= 0 and MMD >= 0 otherwise)."""
  x = X.at[3, 1].set(jnp.nan)
  rows = K.log_kernel_sum(x, Y, bandwidth=0.8, kernel=kernel, block_size=64)
  clean = K.log_kernel_sum(X, Y, bandwidth=0.8, kernel=kernel, block_size=64)
  assert np.isnan(rows[3])
  np.testing.assert_allclose(
    np.delete(np.asarray(rows), 3), np.delete(np.asarray(clean), 3), rtol=1e-5
  )
  assert np.all(np.isnan(K.log_kernel_sum(Y, x, bandwidth=0.8, kernel=kernel)))
  assert np.isnan(cs.cauchy_schwarz_divergence(x, Y, bandwidth=0.8, kernel=kernel))
  assert np.isnan(cs.mmd(Y, x, bandwidth=0.8, kernel=kernel))
  if kernel == "gaussian":  # the product-kernel path
    assert np.isnan(
      cs.cauchy_schwarz_mutual_information(x, jnp.tanh(X[:, :1]), bandwidth_x=0.8, bandwidth_z=0.8)
    )


def test_traced_bandwidth_jit_vmap():
  f = jax.jit(lambda bw: cs.cauchy_schwarz_divergence(X, Y, bandwidth=bw))
  bws = jnp.array([0.5, 1.0, 2.0])
  np.testing.assert_allclose(jax.vmap(f)(bws), [f(b) for b in bws], rtol=1e-5)


def test_errors():
  with pytest.raises(ValueError, match="bandwidth must be > 0"):
    cs.cauchy_schwarz_divergence(X, Y, bandwidth=0.0)
  with pytest.raises(ValueError, match="kernel must be one of"):
    cs.cauchy_schwarz_divergence(X, Y, bandwidth=1.0, kernel="rbf")
  with pytest.raises(ValueError, match="same dim"):
    cs.cauchy_schwarz_divergence(X, Y[:, :2], bandwidth=1.0)
  with pytest.raises(ValueError, match="at least 1 point in x and y, got 0"):
    cs.cauchy_schwarz_divergence(X[:0], Y, bandwidth=1.0)
  with pytest.raises(ValueError, match="x must have at least 2 dimension"):
    cs.cauchy_schwarz_divergence(X[:, 0], Y, bandwidth=1.0)
  with pytest.raises(ValueError, match="y and y_pred must have the same shape"):
    cs.conditional_cauchy_schwarz_divergence(
      X, Y[:157, :1], jnp.zeros((157, 2)), bandwidth_x=1.0, bandwidth_y=1.0
    )


@pytest.mark.parametrize("block_size", [0, -3, 2.5, True])
def test_block_size_errors(block_size):
  with pytest.raises(ValueError, match="block_size must be a positive int"):
    cs.cauchy_schwarz_divergence(X, Y, bandwidth=1.0, block_size=block_size)


def test_cs_mutual_information_dense_reference_and_limits():
  z = X[:, :2] * 0.5 + jax.random.normal(jax.random.fold_in(KEY, 11), (157, 2))
  got = cs.cauchy_schwarz_mutual_information(X, z, bandwidth_x=1.0, bandwidth_z=0.7, block_size=40)
  kx, kz = np.exp(dense_log_k(X, X, "gaussian", 1.0)), np.exp(dense_log_k(z, z, "gaussian", 0.7))
  n = len(X)
  want = (
    np.log((kx * kz).sum() / n**2)
    + np.log(kx.sum() * kz.sum() / n**4)
    - 2 * np.log((kx.sum(1) * kz.sum(1)).sum() / n**3)
  )
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
  assert float(got) > 0
  # Constant z carries no information; dependence increases it.
  const = cs.cauchy_schwarz_mutual_information(
    X, jnp.zeros((157, 1)), bandwidth_x=1.0, bandwidth_z=1.0
  )
  np.testing.assert_allclose(const, 0.0, atol=1e-5)
  indep = cs.cauchy_schwarz_mutual_information(
    X, jax.random.normal(jax.random.fold_in(KEY, 12), (157, 2)), bandwidth_x=1.0, bandwidth_z=0.7
  )
  assert float(indep) < float(got)
  g = jax.grad(
    lambda a: cs.cauchy_schwarz_mutual_information(X, a, bandwidth_x=1.0, bandwidth_z=0.7)
  )(z)
  chex.assert_tree_all_finite(g)
  with pytest.raises(ValueError, match="paired samples"):
    cs.cauchy_schwarz_mutual_information(X, z[:10], bandwidth_x=1.0, bandwidth_z=1.0)
  with pytest.raises(ValueError, match="bandwidth_z must be > 0"):
    cs.cauchy_schwarz_mutual_information(X, z, bandwidth_x=1.0, bandwidth_z=0.0)


def test_concrete_bandwidth_closed_over_inside_jit():
  """A concrete bandwidth captured by a jitted function is checked without a
  tracer-bool error (jnp ops on constants are staged under jit)."""
  bw = K.median_bandwidth(X)
  f = jax.jit(lambda a: cs.cauchy_schwarz_divergence(a, Y, bandwidth=bw))
  np.testing.assert_allclose(f(X), cs.cauchy_schwarz_divergence(X, Y, bandwidth=bw), rtol=1e-5)


def test_gradient_memory_is_linear_in_n():
  """The blocked sums' backward pass recomputes its tiles (jax.checkpoint), so
  the gradient's planned memory is O(n * block), not O(n^2): at n = 20 000 and
  block 512 under 8 n x block floats (without rematerialisation XLA planned
  15 GB here, 370 n x block; one Gram matrix is 1.6 GB)."""
  n, block = 20_000, 512
  x = jax.random.normal(jax.random.PRNGKey(0), (n, 2))
  loss = lambda x: cs.cauchy_schwarz_divergence(x, x + 0.5, bandwidth=1.0, block_size=block)
  temp = jax.jit(jax.grad(loss)).lower(x).compile().memory_analysis().temp_size_in_bytes
  assert temp < 8 * n * block * 4, temp
