"""fdiv_jax.metrics: weight-based estimates, mode coverage, sample distances and moments."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fdiv_jax import metrics as M
from fdiv_jax import targets

KEY = jax.random.PRNGKey(0)


def test_metrics_exact_when_q_equals_p():
  t = targets.funnel(3)
  x = t.sample(KEY, 4000)
  lp = t.log_prob(x)
  np.testing.assert_allclose(M.reverse_ess(lp, lp), 1.0, rtol=1e-6)
  np.testing.assert_allclose(M.forward_ess(lp, lp), 1.0, rtol=1e-6)
  np.testing.assert_allclose(M.log_z_estimate(lp + 2.0, lp), 2.0, rtol=1e-6)
  np.testing.assert_allclose(M.elbo(lp, lp), 0.0, atol=1e-6)
  # Forward ESS is invariant to the scale of the unnormalised density.
  lq = lp + 0.3 * jax.random.normal(KEY, lp.shape)
  np.testing.assert_allclose(M.forward_ess(lp + 7.0, lq), M.forward_ess(lp, lq), rtol=1e-5)
  assert float(M.forward_ess(lp, lq)) < 1.0
  # ELBO <= log Z <= EUBO, with the gap to each the closed-form KL, for
  # p = N(0, 1) unnormalised by exp(1.5) and q = N(0.5, 1.2^2).
  norm = jax.scipy.stats.norm.logpdf
  xq = 0.5 + 1.2 * jax.random.normal(KEY, (200_000,))
  xp = jax.random.normal(jax.random.fold_in(KEY, 1), (200_000,))
  kl_qp = np.log(1 / 1.2) + (1.2**2 + 0.25) / 2 - 0.5
  kl_pq = np.log(1.2) + (1 + 0.25) / (2 * 1.2**2) - 0.5
  np.testing.assert_allclose(M.elbo(norm(xq) + 1.5, norm(xq, 0.5, 1.2)), 1.5 - kl_qp, atol=0.01)
  np.testing.assert_allclose(M.eubo(norm(xp) + 1.5, norm(xp, 0.5, 1.2)), 1.5 + kl_pq, atol=0.01)


def test_mode_coverage_and_sign_patterns_and_energy_distance():
  means = jnp.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
  x = jnp.concatenate(
    [
      means[0] + 0.1 * jax.random.normal(KEY, (50, 2)),
      means[1] + 0.1 * jax.random.normal(KEY, (150, 2)),
    ]
  )
  cov = M.mode_coverage(x, means, radius=1.0, min_count=10)
  assert int(cov.modes_covered) == 2
  p = np.array([0.25, 0.75])
  np.testing.assert_allclose(cov.mode_entropy, np.exp(-(p * np.log(p)).sum()) / 3, rtol=1e-5)
  s = jnp.array([[1.0, 0, -1.0, 0], [2.0, 0, -3.0, 0], [-1.0, 0, 1.0, 0]])
  assert M.sign_patterns(s) == 2
  y = jax.random.normal(KEY, (300, 2))
  assert abs(float(M.energy_distance(y, y))) < 1e-5
  assert float(M.energy_distance(y, y + 1.0)) > 0.3


def test_moment_errors_against_numpy_weighted_moments():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(500, 3)) * np.array([1.0, 2.0, 0.5]) + np.array([0.0, 1.0, -1.0])
  lw = rng.normal(size=500)
  mean, std = np.array([0.1, 0.9, -1.0]), np.array([1.0, 2.0, 0.5])
  w = np.exp(lw - lw.max())
  w /= w.sum()
  m_hat = w @ x
  s_hat = np.sqrt(w @ (x - m_hat) ** 2)
  got = M.moment_errors(x, mean, std, log_weights=lw)
  np.testing.assert_allclose(got.mean, (m_hat - mean) / std, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(got.std, (s_hat - std) / std, rtol=1e-5, atol=1e-6)
  uniform = M.moment_errors(x, mean, std)
  np.testing.assert_allclose(uniform.mean, (x.mean(0) - mean) / std, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(uniform.std, (x.std(0) - std) / std, rtol=1e-5, atol=1e-6)
  jitted = jax.jit(M.moment_errors)(x, mean, std, log_weights=lw)
  np.testing.assert_allclose(jitted.mean, got.mean, rtol=1e-6)
  x_nan = x.copy()
  x_nan[0, 1] = np.nan
  bad = M.moment_errors(x_nan, mean, std)
  assert bool(jnp.isnan(bad.mean[1])) and bool(jnp.isfinite(bad.mean[0]))
  with pytest.raises(ValueError, match="x must have"):
    M.moment_errors(x[0], mean, std)
  with pytest.raises(ValueError, match="mean and std must have shape"):
    M.moment_errors(x, mean[:2], std)
  with pytest.raises(ValueError, match="log_weights must have shape"):
    M.moment_errors(x, mean, std, log_weights=lw[:3])
