"""Variational bounds: tight at the analytic optimal critic, loose elsewhere."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import ENTRIES, ENTRY_IDS, textbook_f
from scipy import stats

import fdiv_jax as fd

# P = N(0.5, 1), Q = N(0, 1): equal variances keep the integrands of the
# chi-squared-type bounds (q^2 / p) inside the range the stratified samples cover.
MP, SP = 0.5, 1.0
N = 200_000
# Stratified (quasi-exact) samples: expectations converge like 1/N, not 1/sqrt(N).
_U = (np.arange(N) + 0.5) / N
XP = jnp.asarray(stats.norm.ppf(_U, MP, SP), jnp.float32)
XQ = jnp.asarray(stats.norm.ppf(_U), jnp.float32)


def log_ratio(x):
  return stats.norm.logpdf(np.asarray(x, np.float64), MP, SP) - stats.norm.logpdf(
    np.asarray(x, np.float64)
  )


LP, LQ = jnp.asarray(log_ratio(XP), jnp.float32), jnp.asarray(log_ratio(XQ), jnp.float32)


def truth(name, alpha=None):
  """D_f by quadrature with the float64 textbook generator."""
  x = np.linspace(-12, 12, 400_001)
  q = stats.norm.pdf(x)
  return np.trapezoid(q * textbook_f(name, log_ratio(x), alpha), x)


def optimal_critic(div, log_u):
  """V* = g^{-1}(f'(p/q)) by bisection on the increasing activation."""
  target = jax.vmap(jax.grad(div.f))(log_u) * jnp.exp(-log_u)
  lo, hi = jnp.full_like(log_u, -60.0), jnp.full_like(log_u, 60.0)
  for _ in range(80):
    mid = 0.5 * (lo + hi)
    right = div.activation(mid) < target
    lo, hi = jnp.where(right, mid, lo), jnp.where(right, hi, mid)
  return 0.5 * (lo + hi)


@pytest.mark.parametrize("entry", ENTRIES, ids=ENTRY_IDS)
def test_f_gan_bound_is_tight_at_optimal_critic(entry):
  _, name, params = entry
  div = fd.get(name, **params)
  if name == "total_variation":  # f' is a sign: a saturated critic
    vp, vq = 30.0 * jnp.sign(LP), 30.0 * jnp.sign(LQ)
  else:
    vp, vq = optimal_critic(div, LP), optimal_critic(div, LQ)
  want = truth(name, params.get("alpha"))
  got = fd.f_gan_bound(vp, vq, divergence=div)
  np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-4)
  # Other critics give lower values (it is a lower bound).
  assert float(fd.f_gan_bound(0.5 * vp, 0.5 * vq, divergence=div)) < want + 1e-4
  assert float(fd.f_gan_bound(vp + 0.3, vq + 0.3, divergence=div)) < want + 1e-4


def test_closed_form_critics_for_common_entries():
  """The documented optimal critics: V = log(p/q) (js, gan, reverse_kl, alpha),
  V = 1 + log(p/q) (kl)."""
  for name, params in (("js", {}), ("gan", {}), ("reverse_kl", {}), ("alpha", {"alpha": 0.3})):
    got = fd.f_gan_bound(LP, LQ, divergence=fd.get(name, **params))
    np.testing.assert_allclose(got, truth(name, params.get("alpha")), rtol=2e-3, atol=2e-4)
  np.testing.assert_allclose(
    fd.f_gan_bound(1 + LP, 1 + LQ, divergence="kl"), truth("kl"), rtol=2e-3
  )


def test_custom_generator_bound_tight_at_log_ratio():
  custom = fd.from_generator(lambda l: jnp.square(jnp.expm1(0.5 * l)))
  np.testing.assert_allclose(
    fd.f_gan_bound(LP, LQ, divergence=custom), truth("squared_hellinger"), rtol=2e-3
  )


def test_dv_and_nwj_tight_at_optimum():
  kl = truth("kl")
  np.testing.assert_allclose(fd.donsker_varadhan_bound(LP + 3.0, LQ + 3.0), kl, rtol=2e-3)
  np.testing.assert_allclose(fd.nwj_bound(1.0 + LP, 1.0 + LQ), kl, rtol=2e-3)
  assert fd.nwj_bound(LP + 0.5, LQ + 0.5) < kl  # NWJ is not shift-invariant
  assert fd.donsker_varadhan_bound(0.5 * LP, 0.5 * LQ) < kl


@pytest.mark.parametrize("alpha", [0.3, 0.5, 1.0, 2.0])
def test_renyi_bound_tight_at_log_ratio(alpha):
  if alpha == 1.0:
    want = truth("kl")
  else:
    x = np.linspace(-12, 12, 400_001)
    integrand = stats.norm.pdf(x) * np.exp(alpha * log_ratio(x))
    want = np.log(np.trapezoid(integrand, x)) / (alpha - 1)
  got = fd.renyi_bound(LP + 1.7, LQ + 1.7, alpha=alpha)
  np.testing.assert_allclose(got, want, rtol=3e-3)
  assert fd.renyi_bound(0.6 * LP, 0.6 * LQ, alpha=alpha) < want
  # Cumulant GAN with (beta, gamma) = (1 - a, a) is the Renyi bound over a.
  np.testing.assert_allclose(
    fd.cumulant_gan_bound(LP, LQ, beta=1 - alpha, gamma=alpha), got / alpha, rtol=1e-4
  )


def test_cumulant_gan_special_cases():
  np.testing.assert_allclose(
    fd.cumulant_gan_bound(LP, LQ, beta=0.0, gamma=1.0), fd.donsker_varadhan_bound(LP, LQ), rtol=1e-5
  )
  np.testing.assert_allclose(
    fd.cumulant_gan_bound(LP, LQ, beta=0.0, gamma=0.0), jnp.mean(LP) - jnp.mean(LQ), rtol=1e-5
  )
  grads = jax.grad(
    lambda b, g: fd.cumulant_gan_bound(LP[:100], LQ[:100], beta=b, gamma=g), argnums=(0, 1)
  )(0.0, 0.0)
  chex.assert_tree_all_finite(grads)


def test_generator_losses():
  v = jnp.linspace(-4.0, 4.0, 9)
  np.testing.assert_allclose(
    fd.f_gan_generator_loss(v, divergence="gan", non_saturating=True),
    -jnp.mean(jax.nn.log_sigmoid(v)),
    rtol=1e-6,
  )
  np.testing.assert_allclose(
    fd.f_gan_generator_loss(v, divergence="gan"), -jnp.mean(jax.nn.softplus(v)), rtol=1e-6
  )
  # The saturating loss is the Q term of the bound: bound(P=0, Q) - loss = g(0).
  js = fd.get("js")
  np.testing.assert_allclose(
    fd.f_gan_bound(jnp.zeros(1), v, divergence=js)
    - fd.f_gan_generator_loss(v, divergence=js)
    - js.activation(0.0),
    0.0,
    atol=1e-6,
  )
  np.testing.assert_allclose(
    fd.f_gan_critic_loss(LP, LQ, divergence="js"), -fd.f_gan_bound(LP, LQ, divergence="js")
  )


def test_mine_value_and_corrected_gradient():
  key = jax.random.PRNGKey(0)
  tp = jax.random.normal(key, (128,))
  tq = jax.random.normal(jax.random.fold_in(key, 1), (128,))
  state = fd.variational.mine_init()
  loss, new_state = fd.variational.mine_loss(tp, tq, state, decay=0.9)
  np.testing.assert_allclose(loss, -fd.donsker_varadhan_bound(tp, tq), rtol=1e-6)
  m = jnp.mean(jnp.exp(tq))
  ema = 0.9 * 1.0 + 0.1 * m
  np.testing.assert_allclose(jnp.exp(new_state.log_ema), ema, rtol=1e-6)
  g = jax.grad(lambda q: fd.variational.mine_loss(tp, q, state, decay=0.9)[0])(tq)
  np.testing.assert_allclose(g, jnp.exp(tq) / tq.shape[0] / ema, rtol=1e-5)


def test_batch_axes_jit_vmap_and_errors():
  key = jax.random.PRNGKey(2)
  vp = jax.random.normal(key, (3, 50))
  vq = jax.random.normal(jax.random.fold_in(key, 1), (3, 70))
  for fn in (
    lambda a, b: fd.f_gan_bound(a, b, divergence="neyman"),
    fd.donsker_varadhan_bound,
    lambda a, b: fd.renyi_bound(a, b, alpha=0.5),
  ):
    out = fn(vp, vq)
    chex.assert_shape(out, (3,))
    chex.assert_trees_all_close(jax.jit(fn)(vp, vq), out, rtol=1e-6)
    chex.assert_trees_all_close(jax.vmap(fn)(vp, vq), out, rtol=1e-6)
  with pytest.raises(ValueError, match="critic_p and critic_q must share"):
    fd.f_gan_bound(jnp.zeros((3, 5)), jnp.zeros((2, 5)), divergence="kl")
  with pytest.raises(ValueError, match="alpha must be > 0"):
    fd.renyi_bound(vp, vq, alpha=0.0)


def test_sample_axis_and_empty_input():
  key = jax.random.PRNGKey(3)
  cp = jax.random.normal(key, (64, 2))
  cq = jax.random.normal(jax.random.fold_in(key, 1), (80, 2))
  fns = [
    lambda a, b, **k: fd.variational.f_gan_bound(a, b, divergence="js", **k),
    lambda a, b, **k: fd.variational.f_gan_critic_loss(a, b, divergence="kl", **k),
    lambda a, b, **k: fd.variational.f_gan_generator_loss(b, divergence="gan", **k),
    lambda a, b, **k: fd.variational.donsker_varadhan_bound(a, b, **k),
    lambda a, b, **k: fd.variational.nwj_bound(a, b, **k),
    lambda a, b, **k: fd.variational.cumulant_gan_bound(a, b, beta=0.3, gamma=0.5, **k),
    lambda a, b, **k: fd.variational.renyi_bound(a, b, alpha=0.5, **k),
    lambda a, b, **k: fd.variational.mine_loss(a, b, fd.variational.mine_init((2,)), **k)[0],
  ]
  for fn in fns:
    got = fn(cp, cq, axis=0)
    assert got.shape == (2,)
    np.testing.assert_allclose(got, fn(cp.T, cq.T), rtol=1e-5)
  with pytest.raises(ValueError, match="critic_p needs at least one sample"):
    fd.variational.f_gan_bound(jnp.zeros((0,)), jnp.zeros((3,)), divergence="js")
  with pytest.raises(ValueError, match="critic_q needs at least one sample"):
    fd.variational.f_gan_generator_loss(jnp.zeros((2, 0)), divergence="js")
