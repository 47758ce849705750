"""fdiv_jax.gaussians against independent references: distrax's KL and quadrature of
E_Q[f(p/q)] with the registry's f on a dense grid (float64 NumPy)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fdiv_jax as fd

G = fd.gaussians
CASES = [(0.3, 0.8, -0.2, 1.1), (1.5, 1.0, 0.0, 1.0), (-0.7, 0.5, 0.4, 0.6)]


def _quadrature(name, mp, sp, mq, sq, **params):
  x = np.linspace(-30.0, 30.0, 600_001)
  log_p = -0.5 * ((x - mp) / sp) ** 2 - np.log(sp) - 0.5 * np.log(2 * np.pi)
  log_q = -0.5 * ((x - mq) / sq) ** 2 - np.log(sq) - 0.5 * np.log(2 * np.pi)
  with jax.enable_x64(True):
    f = np.asarray(fd.get(name, **params).f(jnp.asarray(log_p - log_q)))
  return float(np.sum(np.exp(log_q) * f) * (x[1] - x[0]))


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize(
  "name, params",
  [(n, {}) for n in G.CLOSED_FORMS if n != "alpha"]
  + [("alpha", {"alpha": a}) for a in (-0.5, 0.3, 2.0)],
)
def test_closed_forms_equal_quadrature(name, params, case):
  with jax.enable_x64(True):
    got = float(G.f_divergence(name, *case, **params))
  np.testing.assert_allclose(got, _quadrature(name, *case, **params), rtol=1e-6)


@pytest.mark.parametrize("case", CASES)
def test_kl_equals_distrax(case):
  distrax = pytest.importorskip("distrax")  # absent in the core-only run (make test-core)
  mp, sp, mq, sq = case
  want = distrax.Normal(mp, sp).kl_divergence(distrax.Normal(mq, sq))
  np.testing.assert_allclose(G.kl(*case), want, rtol=1e-5)


def test_diagonal_sums_the_last_axis_and_broadcasts():
  mp, sp = jnp.array([0.3, -1.0, 2.0]), jnp.array([0.8, 1.2, 0.5])
  for name in ("kl", "squared_hellinger", "pearson"):
    per_dim_kl = G.kl(mp, sp, 0.0, 1.0)
    np.testing.assert_allclose(G.kl(mp, sp, 0.0, 1.0, event_ndims=1), per_dim_kl.sum(), rtol=1e-6)
    assert G.f_divergence(name, mp, sp, 0.0, 1.0).shape == (3,)
    assert G.f_divergence(name, mp, sp, 0.0, 1.0, event_ndims=1).shape == ()


def test_renyi_is_infinite_where_the_integral_diverges_with_finite_gradients_elsewhere():
  # alpha sq^2 + (1 - alpha) sp^2 = 2 * 0.25 - 1 * 1 < 0: E_Q[(p/q)^2] diverges.
  assert G.renyi(2.0, 0.0, 1.0, 0.0, 0.5) == jnp.inf
  assert G.f_divergence("pearson", 0.0, 1.0, 0.0, 0.5) == jnp.inf
  grad = jax.grad(lambda m: G.renyi(2.0, m, 1.0, 0.0, 0.5))(0.0)
  assert not jnp.isnan(grad)
  assert np.isfinite(jax.grad(lambda m: G.renyi(2.0, m, 0.8, 0.0, 1.0))(0.3))


def test_bad_arguments_raise_naming_them():
  with pytest.raises(ValueError, match="name must be one of"):
    G.f_divergence("js", 0.0, 1.0, 0.0, 1.0)
  with pytest.raises(ValueError, match="alpha"):
    G.f_divergence("alpha", 0.0, 1.0, 0.0, 1.0)
  with pytest.raises(ValueError, match="event_ndims"):
    G.kl(0.0, 1.0, 0.0, 1.0, event_ndims=2)


def test_log_prob_equals_distrax():
  distrax = pytest.importorskip("distrax")  # absent in the core-only run (make test-core)
  x = jnp.linspace(-3.0, 3.0, 7)
  np.testing.assert_allclose(
    G.log_prob(x, 0.4, 1.3), distrax.Normal(0.4, 1.3).log_prob(x), rtol=1e-6
  )


def _alpha_longdouble(a, mp, sp, mq, sq):
  """(c - 1) / (a (a - 1)), c = int p^a q^(1-a), in extended precision (NumPy longdouble)."""
  a, mp, sp, mq, sq = (np.longdouble(v) for v in (a, mp, sp, mq, sq))
  s2 = a * sq**2 + (1 - a) * sp**2
  log_c = a * (a - 1) * (mp - mq) ** 2 / (2 * s2) - np.log(s2) / 2
  log_c += (1 - a) * np.log(sp) + a * np.log(sq)
  return float(np.expm1(log_c) / (a * (a - 1)))


@pytest.mark.parametrize("x64", [False, True])
def test_alpha_is_continuous_at_orders_zero_and_one(x64):
  case = CASES[0]
  rtol = 1e-10 if x64 else 2e-6
  with jax.enable_x64(x64):
    alpha = lambda a: float(G.f_divergence("alpha", *case, alpha=a))  # noqa: E731
    kl, reverse = float(G.kl(*case)), float(G.kl(*case[2:], *case[:2]))
    np.testing.assert_allclose(alpha(1.0), kl, rtol=rtol)
    np.testing.assert_allclose(alpha(0.0), reverse, rtol=rtol)
    np.testing.assert_allclose(float(G.renyi(1.0, *case)), kl, rtol=rtol)
    for a in (1e-7, 1e-5, 1e-3, 0.4999, 0.5, 1 - 1e-5, 1 + 1e-6, 1.02, -1e-4):
      np.testing.assert_allclose(alpha(a), _alpha_longdouble(a, *case), rtol=rtol)
    # Gradients in alpha exist at the removable singularities.
    for a in (0.0, 1.0):
      g = jax.grad(lambda a: G.f_divergence("alpha", *case, alpha=a))(jnp.asarray(a))
      assert np.isfinite(g)
