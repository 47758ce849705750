"""fdiv_jax.targets: the synthetic targets' normalisers, densities and samplers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fdiv_jax import targets

KEY = jax.random.PRNGKey(0)


def test_targets_normalisers_and_samplers():
  t = targets.gmm40()
  assert t.means.shape == (40, 2)
  g = jnp.linspace(-50, 50, 801)
  xx, yy = jnp.meshgrid(g, g)
  mass = jnp.exp(t.log_prob(jnp.stack([xx.ravel(), yy.ravel()], -1))).sum() * (g[1] - g[0]) ** 2
  np.testing.assert_allclose(mass, 1.0, rtol=1e-3)
  # Many-Well: 1-D well normaliser and the sampler's histogram.
  mw = targets.many_well(4)
  grid = np.linspace(-4, 4, 20001)
  z1 = np.trapezoid(np.exp(-(grid**4) + 6 * grid**2 + 0.5 * grid), grid)
  np.testing.assert_allclose(mw.log_z, 2 * (np.log(z1) + 0.5 * np.log(2 * np.pi)), rtol=1e-6)
  s = np.asarray(mw.sample(KEY, 20000))
  p_right = np.trapezoid(np.exp(-(grid**4) + 6 * grid**2 + 0.5 * grid) * (grid > 0), grid) / z1
  np.testing.assert_allclose((s[:, 0] > 0).mean(), p_right, atol=0.015)
  np.testing.assert_allclose(s[:, 1].std(), 1.0, atol=0.03)
  f = targets.funnel(10)
  y = f.sample(KEY, 5)
  want = jax.scipy.stats.norm.logpdf(y[:, 0], 0, 3) + jax.scipy.stats.norm.logpdf(
    y[:, 1:], 0, jnp.exp(0.5 * y[:, :1])
  ).sum(-1)
  np.testing.assert_allclose(f.log_prob(y), want, rtol=1e-5, atol=1e-5)
  with pytest.raises(ValueError, match="positive even"):
    targets.many_well(3)
