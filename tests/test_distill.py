"""f-distill: the surrogate's gradient equals the gradient of D_f (Gaussian, quadrature)."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import textbook_f

import fdiv_jax as fd
from fdiv_jax import diffusion as D
from fdiv_jax import distill

# Teacher p = N(0, 1); student x0 = mu + s z. Both noised with sigma (alpha = 1):
# p_t = N(0, 1 + sigma^2), q_t = N(mu, s^2 + sigma^2). q_t is the wider one, so
# every registry divergence (Pearson, Neyman included) is finite.
MU, S, SIGMA = 0.3, 1.3, 0.5
WEIGHTED = [
  ("kl", {}),
  ("reverse_kl", {}),
  ("js", {}),
  ("gan", {}),
  ("squared_hellinger", {}),
  ("pearson", {}),
  ("neyman", {}),
  ("jeffreys", {}),
  ("triangular", {}),
  ("alpha", {"alpha": 0.5}),
  ("alpha", {"alpha": 1.5}),
  ("alpha", {"alpha": -0.5}),
]


def log_normal(x, mean, var):
  return -0.5 * ((x - mean) ** 2 / var + jnp.log(2 * jnp.pi * var))


def divergence_by_quadrature(name, params, mu, s, nodes=4001):
  """D_f(p_t || q_t) = int q_t f(p_t / q_t) in float64 on a dense grid."""
  vp, vq = 1 + SIGMA**2, s**2 + SIGMA**2
  x = np.linspace(mu - 14 * np.sqrt(vq), mu + 14 * np.sqrt(vq), nodes)
  lp = -0.5 * (x**2 / vp + np.log(2 * np.pi * vp))
  lq = -0.5 * ((x - mu) ** 2 / vq + np.log(2 * np.pi * vq))
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


@pytest.mark.parametrize(
  "name,params", WEIGHTED, ids=[n + str(p.get("alpha", "")) for n, p in WEIGHTED]
)
def test_surrogate_gradient_equals_gradient_of_divergence(name, params):
  div = fd.get(name, **params)
  got = surrogate_gradient(div)
  d = 1e-4
  want = [
    (
      divergence_by_quadrature(name, params, MU + d, S)
      - divergence_by_quadrature(name, params, MU - d, S)
    )
    / (2 * d),
    (
      divergence_by_quadrature(name, params, MU, S + d)
      - divergence_by_quadrature(name, params, MU, S - d)
    )
    / (2 * d),
  ]
  np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-5)


def test_reverse_kl_is_vsd_closed_form():
  """h = 1: the gradient of KL(q_t || p_t) between Gaussians, in closed form."""
  vp, vq = 1 + SIGMA**2, S**2 + SIGMA**2
  want = [MU / vp, S / vp - S / vq]
  np.testing.assert_allclose(surrogate_gradient(fd.get("reverse_kl")), want, rtol=1e-4)


@pytest.mark.parametrize(
  "name,params", WEIGHTED, ids=[n + str(p.get("alpha", "")) for n, p in WEIGHTED]
)
def test_weights_finite_and_normalised_at_extreme_logits(name, params):
  div = fd.get(name, **params)
  log_r = jnp.array([-1e4, -80.0, -10.0, 0.0, 10.0, 80.0, 1e4])
  for kw in (
    dict(),
    dict(logit_clip=None, ratio_clip=(0.1, 20.0)),
    dict(normalize=True),
    dict(logit_clip=(-10.0, 10.0), normalize=True),
  ):
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
    np.exp(np.clip(log_r, -2, 3)),
    rtol=1e-6,
  )
  np.testing.assert_allclose(
    distill.weights(log_r, divergence="kl", ratio_clip=(0.1, 20.0)),
    np.clip(np.exp(log_r), 0.1, 20.0),
    rtol=1e-5,
  )
  # Per-bin normalisation: r / mean_{bin}(r); for h = r each bin then averages 1.
  h = distill.weights(log_r, divergence="kl", bins=bins, num_bins=4, logit_clip=None)
  r = np.exp(np.asarray(log_r))
  want = np.array([r[i] / r[np.asarray(bins) == b].mean() for i, b in enumerate(bins)])
  np.testing.assert_allclose(h, want, rtol=1e-5)
  np.testing.assert_allclose(
    distill.weights(log_r, divergence="js"), jax.nn.sigmoid(log_r), rtol=1e-6
  )
  assert distill.noise_level_bins(
    jnp.array([0.002, 1.0, 80.0]), sigma_min=0.002, sigma_max=80.0
  ).tolist() == [0, 5, 9]


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
  with pytest.raises(ValueError, match=r"logit_clip must be \(lo, hi\) with lo < hi"):
    distill.weights(jnp.zeros(3), divergence="kl", logit_clip=(10.0, -10.0))
  with pytest.raises(ValueError, match="logit_clip must be a pair"):
    distill.weights(jnp.zeros(3), divergence="kl", logit_clip=10.0)


def test_discriminator_optimum_is_log_ratio():
  """Minimising the logistic loss over a constant-per-point logit gives log p/q."""
  vp, vq = 1 + SIGMA**2, S**2 + SIGMA**2
  x = jnp.linspace(-3, 3, 13)
  p, q = jnp.exp(log_normal(x, 0.0, vp)), jnp.exp(log_normal(x, MU, vq))

  def risk(d):
    lp, lq = distill.discriminator_loss(d, d)
    return jnp.sum(p * lp + q * lq)

  d = jax.lax.fori_loop(0, 3000, lambda _, d: d - 2.0 * jax.grad(risk)(d), jnp.zeros_like(x))
  np.testing.assert_allclose(d, log_normal(x, 0.0, vp) - log_normal(x, MU, vq), atol=2e-3)
  np.testing.assert_allclose(distill.gan_generator_loss(jnp.array([0.0])), np.log(2.0), rtol=1e-6)


def test_denoiser_loss_is_fastgen_step_and_score_form_with_sigma_squared():
  """FastGen's x0-space MSE: value, gradient c h (D_q - D_p) / (B d), and the
  score-form surrogate with w = c sigma^2 / d (dmd_score_scale) has that gradient."""
  k = jax.random.split(jax.random.PRNGKey(3), 5)
  b, d = 16, 3
  x0 = jax.random.normal(k[0], (b, d))
  sigma = jnp.exp(jax.random.uniform(k[1], (b,), minval=-3.0, maxval=2.0))
  eps = jax.random.normal(k[2], (b, d))
  dp = x0 + 0.3 * jax.random.normal(k[3], (b, d))
  dq = x0 + 0.5 * jax.random.normal(k[4], (b, d))
  h = jnp.linspace(0.2, 2.0, b)
  c = 1.0 / (jnp.mean(jnp.abs(x0 - dp), -1) + 1e-6)
  # FastGen: pseudo_target = gen - (fake - teacher) * w; 0.5 * mse(gen, target), mean.
  target = x0 - (dq - dp) * (c * h)[:, None]
  want_value = 0.5 * jnp.mean((x0 - target) ** 2)
  loss = lambda x: distill.denoiser_generator_loss(x, dp, dq, h).mean()
  np.testing.assert_allclose(loss(x0), want_value, rtol=1e-6)
  np.testing.assert_allclose(jax.grad(loss)(x0), (c * h)[:, None] * (dq - dp) / (b * d), rtol=1e-5)

  # The same step in score space: s = (D - x_t) / sigma^2 at x_t = x0 + sigma eps.
  def score_form(x):
    xt = D.add_noise(x, eps, sigma=sigma)
    xs = jax.lax.stop_gradient(xt)
    sp = D.score_from_denoiser(xs, dp, sigma=sigma)
    sq = D.score_from_denoiser(xs, dq, sigma=sigma)
    w = distill.dmd_score_scale(x, dp, sigma=sigma)
    return distill.generator_loss(xt, sp, sq, h, scale=w).mean()

  np.testing.assert_allclose(jax.grad(score_form)(x0), jax.grad(loss)(x0), rtol=2e-4, atol=1e-7)

  # dmd_scale alone on the score difference carries an extra 1 / sigma^2.
  def score_dmd(x):
    xt = D.add_noise(x, eps, sigma=sigma)
    xs = jax.lax.stop_gradient(xt)
    sp, sq = (D.score_from_denoiser(xs, v, sigma=sigma) for v in (dp, dq))
    return distill.generator_loss(xt, sp, sq, h, scale=distill.dmd_scale(x, dp)).mean()

  np.testing.assert_allclose(
    jax.grad(score_dmd)(x0) * (sigma**2 / d)[:, None], jax.grad(loss)(x0), rtol=2e-4, atol=1e-7
  )


@pytest.mark.parametrize("name", ["kl", "reverse_kl", "squared_hellinger"])
def test_sigma_integrated_step_is_gradient_of_weighted_divergence(name):
  """Without the DMD normaliser, E_sigma E[denoiser_generator_loss] has the gradient
  of sum_j pi_j sigma_j^2 / d D_f(p_sigma_j || q_sigma_j): w(sigma) = sigma^2 / d.
  Teacher N(0, 1), student mu + s z (d = 1), closed-form D_f, Gauss-Hermite in (z, eps)."""
  closed_form = fd.gaussians.f_divergence

  sigmas = jnp.array([0.1, 0.7, 3.0])
  pis = jnp.array([0.5, 0.3, 0.2])
  nodes, w = np.polynomial.hermite_e.hermegauss(60)
  w = w / w.sum()
  ww = np.outer(w, w).ravel()
  keep = ww > 1e-25
  z, e = [jnp.asarray(a.ravel()[keep], jnp.float32) for a in np.meshgrid(nodes, nodes)]
  ww = jnp.asarray(ww[keep], jnp.float32)
  div = fd.get(name)

  def expected(theta):
    mu, s = theta
    total = 0.0
    for sigma, pi in zip(sigmas, pis):
      x0 = (mu + s * z)[:, None]
      xt = jax.lax.stop_gradient(x0 + sigma * e[:, None])
      vp, vq = 1 + sigma**2, s**2 + sigma**2
      dp = xt + sigma**2 * (-xt / vp)
      dq = xt + sigma**2 * jax.lax.stop_gradient(-(xt - mu) / vq)
      log_r = (log_normal(xt, 0.0, vp) - log_normal(xt, mu, vq))[:, 0]
      h = distill.weights(jax.lax.stop_gradient(log_r), divergence=div, logit_clip=None)
      total += pi * jnp.sum(ww * distill.denoiser_generator_loss(x0, dp, dq, h, normalize=False))
    return total

  def weighted_divergence(theta):
    mu, s = theta
    return sum(
      pi * sigma**2 * closed_form(name, 0.0, jnp.sqrt(1 + sigma**2), mu, jnp.sqrt(s**2 + sigma**2))
      for sigma, pi in zip(sigmas, pis)
    )

  theta = jnp.array([MU, S])
  np.testing.assert_allclose(
    jax.grad(expected)(theta), jax.grad(weighted_divergence)(theta), rtol=2e-3, atol=1e-5
  )


def test_fake_score_loss_and_errors():
  x0 = jnp.ones((4, 2))
  den = jnp.zeros((4, 2))
  np.testing.assert_allclose(distill.fake_score_loss(den, x0), jnp.ones(4))
  g = jax.grad(lambda x: distill.fake_score_loss(den, x).sum())(x0)
  np.testing.assert_allclose(g, 0.0)  # x0 is a stopped target
  with pytest.raises(ValueError, match="fake_denoised and x0"):
    distill.fake_score_loss(den, jnp.ones((4, 3)))
  with pytest.raises(ValueError, match="x0 and fake_denoised"):
    distill.denoiser_generator_loss(x0, den, jnp.ones((4, 3)))
  with pytest.raises(ValueError, match="weight must be scalar"):
    distill.denoiser_generator_loss(x0, den, den, jnp.ones(3))
  with pytest.raises(ValueError, match="sigma must be > 0"):
    distill.dmd_score_scale(x0, den, sigma=0.0)
  loss = lambda x: distill.denoiser_generator_loss(x, den, 2 * x, jnp.ones(4))
  np.testing.assert_allclose(jax.jit(loss)(x0), loss(x0))
  np.testing.assert_allclose(jax.vmap(loss)(x0[None])[0], loss(x0))
