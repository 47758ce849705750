"""f-distill: the surrogate's gradient equals the gradient of D_f (Gaussian, quadrature)."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fdiv_jax as fd
from fdiv_jax import distill
from conftest import textbook_f

# Teacher p = N(0, 1); student x0 = mu + s z. Both noised with sigma (alpha = 1):
# p_t = N(0, 1 + sigma^2), q_t = N(mu, s^2 + sigma^2). q_t is the wider one, so
# every registry divergence (Pearson, Neyman included) is finite.
MU, S, SIGMA = 0.3, 1.3, 0.5
WEIGHTED = [("kl", {}), ("reverse_kl", {}), ("js", {}), ("gan", {}),
            ("squared_hellinger", {}), ("pearson", {}), ("neyman", {}),
            ("jeffreys", {}), ("triangular", {}), ("alpha", {"alpha": 0.5}),
            ("alpha", {"alpha": 1.5}), ("alpha", {"alpha": -0.5})]


def log_normal(x, mean, var):
  return -0.5 * ((x - mean)**2 / var + jnp.log(2 * jnp.pi * var))


def divergence_by_quadrature(name, params, mu, s, nodes=4001):
  """D_f(p_t || q_t) = int q_t f(p_t / q_t) in float64 on a dense grid."""
  vp, vq = 1 + SIGMA**2, s**2 + SIGMA**2
  x = np.linspace(mu - 14 * np.sqrt(vq), mu + 14 * np.sqrt(vq), nodes)
  lp = -0.5 * (x**2 / vp + np.log(2 * np.pi * vp))
  lq = -0.5 * ((x - mu)**2 / vq + np.log(2 * np.pi * vq))
  return np.trapezoid(np.exp(lq) * textbook_f(name, lp - lq, params.get("alpha")), x)


def surrogate_gradient(divergence, gh=60):
  """grad_(mu, s) of E[generator_loss] by 2-D Gauss-Hermite over (z, eps)."""
  nodes, w = np.polynomial.hermite_e.hermegauss(gh)
  w = w / w.sum()
  ww = np.outer(w, w).ravel()
  keep = ww > 1e-25  # drop nodes whose weight underflows float32 (0 * inf there)
  z, e = [jnp.asarray(a.ravel()[keep], jnp.float32) for a in np.meshgrid(nodes, nodes)]
  ww = jnp.asarray(ww[keep], jnp.float32)

  def expected(theta):
    mu, s = theta
    x_t = (mu + s * z + SIGMA * e)[:, None]
    vp, vq = 1 + SIGMA**2, s**2 + SIGMA**2
    sp = -x_t / vp
    sq = -(x_t - mu) / vq
    log_r = (log_normal(x_t, 0.0, vp) - log_normal(x_t, mu, vq))[:, 0]
    h = distill.weights(log_r, divergence=divergence, logit_clip=None)
    return jnp.sum(ww * distill.generator_loss(x_t, sp, sq, h))

  return jax.grad(expected)(jnp.array([MU, S]))


@pytest.mark.parametrize("name,params", WEIGHTED,
                         ids=[n + str(p.get("alpha", "")) for n, p in WEIGHTED])
def test_surrogate_gradient_equals_gradient_of_divergence(name, params):
  div = fd.get(name, **params)
  got = surrogate_gradient(div)
  d = 1e-4
  want = [(divergence_by_quadrature(name, params, MU + d, S) -
           divergence_by_quadrature(name, params, MU - d, S)) / (2 * d),
          (divergence_by_quadrature(name, params, MU, S + d) -
           divergence_by_quadrature(name, params, MU, S - d)) / (2 * d)]
  np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-5)


def test_reverse_kl_is_vsd_closed_form():
  """h = 1: the gradient of KL(q_t || p_t) between Gaussians, in closed form."""
  vp, vq = 1 + SIGMA**2, S**2 + SIGMA**2
  want = [MU / vp, S / vp - S / vq]
  np.testing.assert_allclose(surrogate_gradient(fd.get("reverse_kl")), want, rtol=1e-4)


@pytest.mark.parametrize("name,params", WEIGHTED,
                         ids=[n + str(p.get("alpha", "")) for n, p in WEIGHTED])
def test_weights_finite_and_normalised_at_extreme_logits(name, params):
  div = fd.get(name, **params)
  log_r = jnp.array([-1e4, -80.0, -10.0, 0.0, 10.0, 80.0, 1e4])
  for kw in (dict(), dict(logit_clip=None, ratio_clip=(0.1, 20.0)),
             dict(normalize=True), dict(logit_clip=(-10.0, 10.0), normalize=True)):
    h = distill.weights(log_r, divergence=div, **kw)
    chex.assert_tree_all_finite(h)
    assert bool(jnp.all(h >= 0))
    if kw.get("normalize"):
      np.testing.assert_allclose(h.mean(), 1.0, rtol=1e-5)
  g = jax.grad(lambda l: distill.weights(l, divergence=div, normalize=True).sum())(log_r)
  np.testing.assert_allclose(g, 0.0)  # weights carry no gradient


def test_weights_options_against_hand_computation():
  log_r = jnp.array([-3.0, -1.0, 0.5, 2.0, 4.0, 0.0])
  bins = jnp.array([0, 0, 1, 1, 1, 3])
  np.testing.assert_allclose(
      distill.weights(log_r, divergence="kl", logit_clip=(-2.0, 3.0)),
      np.exp(np.clip(log_r, -2, 3)), rtol=1e-6)
  np.testing.assert_allclose(
      distill.weights(log_r, divergence="kl", ratio_clip=(0.1, 20.0)),
      np.clip(np.exp(log_r), 0.1, 20.0), rtol=1e-5)
  # Per-bin normalisation: r / mean_{bin}(r); for h = r each bin then averages 1.
  h = distill.weights(log_r, divergence="kl", bins=bins, num_bins=4, logit_clip=None)
  r = np.exp(np.asarray(log_r))
  want = np.array([r[i] / r[np.asarray(bins) == b].mean() for i, b in enumerate(bins)])
  np.testing.assert_allclose(h, want, rtol=1e-5)
  np.testing.assert_allclose(distill.weights(log_r, divergence="js"),
                             jax.nn.sigmoid(log_r), rtol=1e-6)
  assert distill.noise_level_bins(jnp.array([0.002, 1.0, 80.0]), sigma_min=0.002,
                                  sigma_max=80.0).tolist() == [0, 5, 9]


def test_generator_loss_jit_vmap_and_errors():
  x = jax.random.normal(jax.random.PRNGKey(0), (4, 8, 3))
  sp, sq = -x, -(x - 1.0)
  h = jnp.ones((4, 8))
  f = lambda a, b, c, w: distill.generator_loss(a, b, c, w, scale=2.0)
  out = f(x, sp, sq, h)
  chex.assert_shape(out, (4, 8))
  chex.assert_trees_all_close(jax.jit(f)(x, sp, sq, h), out, rtol=1e-6)
  chex.assert_trees_all_close(jax.vmap(f)(x, sp, sq, h), out, rtol=1e-6)
  scale = distill.dmd_scale(x, x + 0.5)
  np.testing.assert_allclose(scale, 2.0, rtol=1e-4)
  with pytest.raises(ValueError, match="x_t and teacher_score must have the same shape"):
    distill.generator_loss(x, sp[..., :2], sq, h)
  with pytest.raises(ValueError, match="weight \\* scale must be scalar or of shape"):
    distill.generator_loss(x, sp, sq, jnp.ones(3))
  with pytest.raises(ValueError, match="unknown divergence 'kl2'"):
    distill.weights(jnp.zeros(3), divergence="kl2")
  with pytest.raises(ValueError, match="has no f-distill weight|total_variation"):
    distill.weights(jnp.zeros(3), divergence="total_variation")
  with pytest.raises(ValueError, match="ratio_clip must be"):
    distill.weights(jnp.zeros(3), divergence="kl", ratio_clip=(1.0, 0.5))


def test_discriminator_optimum_is_log_ratio():
  """Minimising the logistic loss over a constant-per-point logit gives log p/q."""
  vp, vq = 1 + SIGMA**2, S**2 + SIGMA**2
  x = jnp.linspace(-3, 3, 13)
  p, q = jnp.exp(log_normal(x, 0.0, vp)), jnp.exp(log_normal(x, MU, vq))

  def risk(d):
    lp, lq = distill.discriminator_loss(d, d)
    return jnp.sum(p * lp + q * lq)

  d = jnp.zeros_like(x)
  for _ in range(3000):
    d = d - 2.0 * jax.grad(risk)(d)
  np.testing.assert_allclose(d, log_normal(x, 0.0, vp) - log_normal(x, MU, vq), atol=2e-3)
  np.testing.assert_allclose(distill.gan_generator_loss(jnp.array([0.0])), np.log(2.0),
                             rtol=1e-6)
