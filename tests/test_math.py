"""fdiv_jax.math against closed forms, SciPy and extended precision; jit == eager; float64."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import lambertw, logsumexp

from fdiv_jax import math as fmath


class TestRemovableSingularities(chex.TestCase):
  @chex.variants(with_jit=True, without_jit=True)
  def test_expm1_over_and_log1p_over_equal_their_formulas_and_limits(self):
    x = jnp.array([-1.5, -0.3, 0.0, 0.7, 1.5])  # 1 + a x > 0: log1p_over's domain
    for a in (0.5, -0.4, 1e-3, 1e-6, 0.0):
      e = self.variant(fmath.expm1_over)(x, a)
      l = self.variant(fmath.log1p_over)(x, a)
      xd = np.asarray(x, np.longdouble)
      if a == 0.0:
        want_e = want_l = xd
      else:
        ad = np.longdouble(a)
        want_e, want_l = np.expm1(ad * xd) / ad, np.log1p(ad * xd) / ad
      np.testing.assert_allclose(e, np.asarray(want_e, np.float64), rtol=2e-6, atol=1e-7)
      np.testing.assert_allclose(l, np.asarray(want_l, np.float64), rtol=2e-6, atol=1e-7)

  @chex.variants(with_jit=True, without_jit=True)
  def test_gradients_in_the_scale_are_finite_and_continuous_through_zero(self):
    g = self.variant(jax.grad(lambda a: fmath.expm1_over(1.5, a)))
    # d/da expm1(a x) / a at a = 0 is x^2 / 2.
    np.testing.assert_allclose(g(0.0), 1.125, rtol=1e-5)
    np.testing.assert_allclose(g(1e-5), g(-1e-5), rtol=1e-3)
    g_log = self.variant(jax.grad(lambda a: fmath.log1p_over(1.5, a)))
    np.testing.assert_allclose(g_log(0.0), -1.125, rtol=1e-5)


def test_double_where_keeps_the_untaken_branch_out_of_value_and_gradient():
  f = lambda d2: fmath.double_where(d2 > 0, jnp.sqrt, d2, safe=1.0, otherwise=0.0)  # noqa: E731
  assert float(jax.grad(f)(0.0)) == 0.0 and float(f(0.0)) == 0.0
  np.testing.assert_allclose(jax.grad(f)(4.0), 0.25)
  assert bool(jnp.isnan(jax.grad(lambda d2: jnp.where(d2 > 0, jnp.sqrt(d2), 0.0))(0.0)))


@pytest.mark.parametrize("axis", [0, -1])
def test_log_mean_exp_and_cumulant_against_scipy(axis):
  x = np.random.default_rng(0).normal(size=(5, 7)) * 3
  np.testing.assert_allclose(
    fmath.log_mean_exp(x, axis=axis), logsumexp(x, axis=axis) - np.log(x.shape[axis]), rtol=1e-5
  )
  for a in (0.7, -2.0):
    want = (logsumexp(a * x, axis=axis) - np.log(x.shape[axis])) / a
    np.testing.assert_allclose(fmath.cumulant(x, a, axis=axis), want, rtol=1e-5)
  # a -> 0: the mean, continuously.
  np.testing.assert_allclose(fmath.cumulant(x, 0.0, axis=axis), x.mean(axis), rtol=1e-5)
  np.testing.assert_allclose(fmath.cumulant(x, 1e-7, axis=axis), x.mean(axis), rtol=1e-4)


def test_lambertw_exp_against_scipy_finite_far_out_and_float64():
  s = np.array([-30.0, -2.0, 0.0, 1.0, 5.0, 40.0])
  np.testing.assert_allclose(fmath.lambertw_exp(s), lambertw(np.exp(s)).real, rtol=1e-5)
  big = fmath.lambertw_exp(jnp.array([500.0, 3e4]))
  assert bool(jnp.all(jnp.isfinite(big)))
  np.testing.assert_allclose(big + jnp.log(big), [500.0, 3e4], rtol=1e-6)
  with jax.enable_x64(True):
    w = fmath.lambertw_exp(jnp.asarray(s, jnp.float64))
    assert w.dtype == jnp.float64
    np.testing.assert_allclose(w, lambertw(np.exp(s)).real, rtol=1e-12)


def test_pad_rows():
  x = jnp.arange(10.0).reshape(5, 2)
  padded = fmath.pad_rows(x, 4)
  chex.assert_shape(padded, (8, 2))
  np.testing.assert_array_equal(padded[5:], jnp.broadcast_to(x[:1], (3, 2)))
  assert fmath.pad_rows(x, 5) is x
  minus_inf = fmath.pad_rows(x[:, 0], 4, value=-jnp.inf)
  assert bool(jnp.all(minus_inf[5:] == -jnp.inf))


def test_nan_in_gives_nan_out():
  x = jnp.array([1.0, jnp.nan, 2.0])
  assert bool(jnp.isnan(fmath.log_mean_exp(x)))
  assert bool(jnp.isnan(fmath.cumulant(x, 0.5)))
  assert bool(jnp.isnan(fmath.expm1_over(x, 0.5)[1])) and bool(jnp.isnan(fmath.lambertw_exp(x)[1]))
