"""fdiv_jax.kernels: distances, log kernels, blocked kernel sums and bandwidth heuristics."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from kernel_reference import KEY, X, Y, dense_log_k
from scipy.spatial.distance import cdist, pdist
from scipy.special import logsumexp

from fdiv_jax import cauchy_schwarz as cs
from fdiv_jax import kernels as K
from fdiv_jax.kernels import _blocked


@pytest.mark.parametrize("kernel", K.KERNELS)
@pytest.mark.parametrize("block", [16, 50, 1024])
def test_log_kernel_sum_blocked_equals_dense(kernel, block):
  lw = jax.random.normal(jax.random.fold_in(KEY, 3), (131,))
  got = K.log_kernel_sum(X, Y, bandwidth=0.7, kernel=kernel, log_weights=lw, block_size=block)
  want = logsumexp(dense_log_k(X, Y, kernel, 0.7) + np.asarray(lw)[None, :], axis=1)
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_bandwidth_heuristics():
  x = jax.random.normal(KEY, (500, 2))
  med = K.median_bandwidth(x)
  # Median distance between two N(0, I_2) points: sqrt(2) * sqrt(2 ln 2) = 1.665.
  np.testing.assert_allclose(med, 1.665, rtol=0.05)
  silv = K.silverman_bandwidth(x)
  np.testing.assert_allclose(silv, (4 / 4) ** (1 / 6) * 500 ** (-1 / 6), rtol=0.1)


def test_default_block_size_per_backend():
  assert K.default_block_size("cpu") == 1024
  assert K.default_block_size("gpu") == K.default_block_size("tpu") == 4096
  assert K.default_block_size() == K.default_block_size(jax.default_backend())
  assert _blocked._block_size(np.int64(64)) == 64
  # None resolves to the backend's tile side: the same program as passing it.
  chex.assert_trees_all_close(
    cs.cauchy_schwarz_divergence(X, Y, bandwidth=0.7),
    cs.cauchy_schwarz_divergence(X, Y, bandwidth=0.7, block_size=K.default_block_size()),
  )


def test_inner_products_at_full_float32_precision():
  # XLA's default would multiply float32 in TF32 / bf16 passes on GPU / TPU.
  x = jnp.ones((4, 3))
  for fn in (K.squared_distances, lambda a, b: K.log_kernel_sum(a, b, bandwidth=1.0)):
    text = jax.jit(fn).lower(x, x).as_text()
    dots = [line for line in text.splitlines() if "dot_general" in line]
    assert dots and all("HIGHEST" in line for line in dots), dots
  # A precision the user sets through JAX's own switch applies instead.
  with jax.default_matmul_precision("tensorfloat32"):
    text = jax.jit(K.squared_distances).lower(x, x).as_text()
  dots = [line for line in text.splitlines() if "dot_general" in line]
  assert dots and not any("HIGHEST" in line for line in dots), dots


def test_gaussian_fast_path_falls_back_only_where_needed():
  """Rows far from every column underflow in the closed-form-shift path; the
  exact log-domain path must take over (values and gradients match a dense
  log-sum-exp), and without such rows the fast path must match it too."""
  x = jax.random.normal(KEY, (300, 3))
  y = jax.random.normal(jax.random.fold_in(KEY, 1), (200, 3))
  log_w = jax.random.normal(jax.random.fold_in(KEY, 2), (200,))

  def dense(x):
    return jax.nn.logsumexp(-K.squared_distances(x, y) / (2 * 0.5**2) + log_w[None, :], axis=1)

  def blocked(x):
    return K.log_kernel_sum(x, y, bandwidth=0.5, log_weights=log_w, block_size=64)

  far = x.at[7].set(40.0)  # exp(-d^2 / 2s^2) ~ exp(-9000): underflows in float32
  for pts in (x, far):
    np.testing.assert_allclose(blocked(pts), dense(pts), rtol=1e-5, atol=1e-4)
    g = jax.grad(lambda a: jnp.sum(blocked(a)))(pts)
    g_ref = jax.grad(lambda a: jnp.sum(dense(a)))(pts)
    chex.assert_tree_all_finite(g)
    np.testing.assert_allclose(g, g_ref, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("form", ["matmul", "difference"])
def test_squared_distances_match_scipy_cdist(form):
  want = cdist(np.asarray(X, np.float64), np.asarray(Y, np.float64), "sqeuclidean")
  got = K.squared_distances(X, Y, form=form)
  chex.assert_shape(got, (157, 131))
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
  assert float(jnp.min(K.squared_distances(X, X, form=form))) >= 0.0
  np.testing.assert_allclose(
    jax.jit(K.squared_distances, static_argnames="form")(X, Y, form=form), got, rtol=1e-6, atol=1e-5
  )
  with pytest.raises(ValueError, match="form"):
    K.squared_distances(X, Y, form="cdist")


def test_squared_distances_difference_form_is_exact_on_equal_points():
  x = X + 1e3  # far from the origin: the matmul form cancels, the difference form does not
  np.testing.assert_array_equal(
    np.diag(np.asarray(K.squared_distances(x, x, form="difference"))), 0.0
  )


@pytest.mark.parametrize("kernel", K.KERNELS)
def test_log_kernel_matches_numpy_and_jit(kernel):
  d2 = np.asarray(K.squared_distances(X, Y, form="difference"))
  got = K.log_kernel(d2, kernel=kernel, bandwidth=0.7)
  np.testing.assert_allclose(got, dense_log_k(X, Y, kernel, 0.7), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(K.log_kernel(np.zeros(3), kernel=kernel, bandwidth=0.7), 0.0)
  # A traced bandwidth under jit gives the eager values.
  jitted = jax.jit(lambda d, bw: K.log_kernel(d, kernel=kernel, bandwidth=bw))
  np.testing.assert_allclose(jitted(d2, 0.7), got, rtol=1e-6, atol=1e-6)
  with pytest.raises(ValueError, match="kernel must be one of"):
    K.log_kernel(d2, kernel="rbf", bandwidth=0.7)


def test_laplace_gradient_is_finite_at_zero_distance():
  """d = sqrt(d^2) has an infinite derivative at 0; the Laplace log kernel's is 0 there."""
  grad_sq = jax.grad(lambda s: jnp.sum(K.log_kernel(s, kernel="laplace", bandwidth=0.5)))
  np.testing.assert_array_equal(grad_sq(jnp.zeros(4)), 0.0)
  np.testing.assert_allclose(grad_sq(jnp.array([4.0])), [-1.0 / (2 * 2.0 * 0.5)], rtol=1e-6)
  x = X[:20]
  for fn in (
    lambda a: jnp.sum(
      K.log_kernel(K.squared_distances(a, x, form="difference"), kernel="laplace", bandwidth=0.5)
    ),
    lambda a: jnp.sum(K.log_kernel_sum(a, x, bandwidth=0.5, kernel="laplace", block_size=8)),
  ):
    g = jax.grad(fn)(x)  # every row of x is at distance 0 from itself
    assert bool(jnp.all(jnp.isfinite(g)))
    assert float(jnp.max(jnp.abs(g))) > 0


def test_blocked_row_logsumexp_matches_scipy_on_ragged_tiles():
  terms = jax.random.normal(jax.random.fold_in(KEY, 4), (37, 23)) * 30.0
  terms = terms.at[5].set(-jnp.inf)  # a row with no mass

  def run(t):
    return K.blocked_row_logsumexp(lambda i, j: t[i][:, j], 37, 23, block_size=8)

  got = run(terms)
  want = logsumexp(np.asarray(terms, np.float64), axis=1)
  assert np.isneginf(got[5]) and np.isneginf(want[5])
  np.testing.assert_allclose(np.delete(got, 5), np.delete(want, 5), rtol=1e-5)
  np.testing.assert_allclose(jax.jit(run)(terms), got, rtol=1e-6)
  whole = K.blocked_row_logsumexp(lambda i, j: terms[i][:, j], 37, 23, block_size=64)
  np.testing.assert_allclose(whole, got, rtol=1e-5)


@pytest.mark.parametrize("kernel", K.KERNELS)
def test_log_product_kernel_sum_against_dense_product(kernel):
  z = jnp.tanh(X[:, :2]) + 0.1 * jax.random.normal(jax.random.fold_in(KEY, 6), (157, 2))
  w = jnp.sin(Y[:, :2])
  lw = jax.random.normal(jax.random.fold_in(KEY, 7), (131,))
  got = K.log_product_kernel_sum(
    (X, z), (Y, w), bandwidths=(0.8, 0.3), kernel=kernel, log_weights=lw, block_size=32
  )
  dense = dense_log_k(X, Y, kernel, 0.8) + dense_log_k(z, w, kernel, 0.3)
  want = logsumexp(dense + np.asarray(lw, np.float64)[None, :], axis=1)
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
  # One factor is log_kernel_sum.
  np.testing.assert_allclose(
    K.log_product_kernel_sum((X,), (Y,), bandwidths=(0.8,), kernel=kernel, block_size=32),
    K.log_kernel_sum(X, Y, bandwidth=0.8, kernel=kernel, block_size=32),
    rtol=1e-6,
  )
  with pytest.raises(ValueError, match="one entry per factor"):
    K.log_product_kernel_sum((X, z), (Y,), bandwidths=(0.8, 0.3))


def test_bandwidth_heuristics_equal_numpy_formulas():
  x, y = np.asarray(X, np.float64), np.asarray(Y, np.float64)
  pooled = np.concatenate([x, y])[:200]
  np.testing.assert_allclose(
    K.median_bandwidth(X, Y, max_points=200),
    np.sqrt(np.median(pdist(pooled, "sqeuclidean"))),
    rtol=1e-4,
  )
  n, d = x.shape
  want = x.std(0).mean() * (4 / (d + 2)) ** (1 / (d + 4)) * n ** (-1 / (d + 4))
  np.testing.assert_allclose(K.silverman_bandwidth(X), want, rtol=1e-5)
  # Hyperparameters, not gradient paths.
  np.testing.assert_array_equal(jax.grad(lambda a: K.median_bandwidth(a))(X), 0.0)
  np.testing.assert_array_equal(jax.grad(lambda a: K.silverman_bandwidth(a))(X), 0.0)
