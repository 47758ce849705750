"""Under ``jax_enable_x64`` every public function computes in float64 end to end.

Each check feeds float64 inputs (and, where a function takes them, ints) inside
``jax.enable_x64(True)`` and asserts that every floating output, and the gradient
with respect to the floating inputs, is float64; a few compare with the same
estimator in float64 NumPy to a tolerance float32 cannot reach (rtol 1e-12), so a
silent cast to float32 somewhere inside fails them (as optax's float64 tests do).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import fdiv_jax as fd

F64 = jnp.float64
ENTRIES = [e for e in fd.available() if e != "alpha"] + ["alpha:0.5", "alpha:2"]


@pytest.fixture(autouse=True)
def x64():
  with jax.enable_x64(True):
    yield


def _floating_leaves(tree):
  return [
    x
    for x in jax.tree_util.tree_leaves(tree)
    if hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.floating)
  ]


def assert_float64(tree, what=""):
  leaves = _floating_leaves(tree)
  assert leaves, f"{what}: no floating output"
  for leaf in leaves:
    assert leaf.dtype == F64, f"{what}: {leaf.dtype} output"


def _normal(seed, shape):
  return jax.random.normal(jax.random.PRNGKey(seed), shape, F64)


@pytest.mark.parametrize("name", ENTRIES)
def test_registry_entry_in_float64(name):
  div = fd.get(name)
  l = jnp.linspace(-3.0, 3.0, 7, dtype=F64)
  assert_float64(div.f(l), "f")
  assert_float64(div.conjugate_of_activation(l), "f*(g(v))")
  assert_float64(div.activation(l), "g")
  assert_float64(jax.vmap(jax.grad(div.f))(l), "grad f")
  if div.has_weight:
    assert_float64(div.weight(l), "h")
  assert_float64(div.f_prime_at_one, "f'(1)")
  assert_float64(div.f(jnp.arange(3)), "f of ints")


def test_alpha_entry_matches_numpy_to_float64_precision():
  """f_alpha at log u = 1e-4, where float32 loses every digit of the cancellation."""
  l = np.array([1e-4, -2.5e-3, 0.7], np.float64)
  a = 0.3
  # (u^a - 1 - a (u - 1)) / (a (a - 1)) with u = e^l, as its power series in l (the
  # closed form cancels catastrophically even in float64 at l = 1e-4).
  k = np.arange(2, 40)[:, None]
  log_fact = np.cumsum(np.log(np.arange(1, 40)))[k - 1]
  want = np.sum((a**k - a) * np.sign(l) ** k * np.exp(k * np.log(np.abs(l)) - log_fact), 0)
  want /= a * (a - 1)
  got = np.asarray(fd.get("alpha", alpha=a).f(jnp.asarray(l)))
  np.testing.assert_allclose(got, want, rtol=1e-9)


@pytest.mark.parametrize("name", ["kl", "reverse_kl", "js", "squared_hellinger"])
def test_monte_carlo_f_divergence_equals_numpy_in_float64(name):
  x = _normal(0, (4096,))
  log_p = -0.5 * (x - 0.3) ** 2
  log_q = -0.5 * x**2
  got = fd.f_divergence(log_p, log_q, divergence=name)
  assert_float64(got, name)
  want = np.mean(np.asarray(fd.get(name).f(log_p - log_q)))
  np.testing.assert_allclose(float(got), want, rtol=1e-12)
  grad = jax.grad(lambda lp: fd.f_divergence(lp, log_q, divergence=name))(log_p)
  assert_float64(grad, "grad")
  assert_float64(fd.f_divergence(log_p, log_q, divergence=name, self_normalize=True))


def test_monte_carlo_helpers_in_float64():
  x = _normal(1, (512,))
  log_p, log_q = -0.5 * (x - 0.5) ** 2, -0.5 * x**2
  assert_float64(fd.renyi_divergence(log_p, log_q, alpha=2.0), "renyi")
  assert_float64(fd.importance_weights(log_p, log_q), "importance_weights")
  assert_float64(fd.monte_carlo.log_ratio(log_p, log_q, self_normalize=True))


def test_variational_bounds_in_float64():
  v_p, v_q = _normal(2, (256,)), _normal(3, (256,))
  for name in ("kl", "js", "alpha:2"):
    assert_float64(fd.f_gan_bound(v_p, v_q, divergence=name), name)
    assert_float64(fd.f_gan_critic_loss(v_p, v_q, divergence=name), name)
    assert_float64(fd.f_gan_generator_loss(v_q, divergence=name, non_saturating=True))
    assert_float64(jax.grad(lambda v: fd.f_gan_critic_loss(v, v_q, divergence=name))(v_p))
  assert_float64(fd.donsker_varadhan_bound(v_p, v_q))
  assert_float64(fd.nwj_bound(v_p, v_q))
  assert_float64(fd.renyi_bound(v_p, v_q, alpha=0.5))
  assert_float64(fd.cumulant_gan_bound(v_p, v_q, beta=0.5, gamma=0.5))
  state = fd.variational.mine_init()
  assert_float64(state, "mine_init")
  assert_float64(fd.variational.mine_loss(v_p, v_q, state), "mine_loss")


def test_distill_and_diffusion_in_float64():
  D, F = fd.diffusion, fd.distill
  log_r = _normal(4, (64,))
  sigma = jnp.exp(_normal(5, (64,)))
  bins = F.noise_level_bins(sigma, sigma_min=0.01, sigma_max=80.0)
  assert_float64(F.weights(log_r, divergence="js", bins=bins, normalize=True), "weights")
  x0, xt = _normal(6, (64, 2)), _normal(7, (64, 2))
  mixture = D.GaussianMixture.create(jnp.array([[-2.0, 0.0], [2.0, 0.0]], F64), 0.3)
  teacher = mixture.denoiser(xt, sigma=sigma)
  assert_float64(teacher, "mixture denoiser")
  assert_float64(mixture.log_prob(xt, sigma=sigma), "mixture log_prob")
  assert_float64(F.denoiser_generator_loss(x0, teacher, 0.9 * teacher), "generator loss")
  assert_float64(F.dmd_score_scale(x0, teacher, sigma=sigma[:, None]))
  assert_float64(F.fake_score_loss(teacher, x0))
  assert_float64(F.discriminator_loss(log_r, -log_r))
  assert_float64(F.gan_generator_loss(log_r))
  assert_float64(D.karras_sigmas(8), "karras_sigmas")
  assert_float64(D.sample_sigmas(jax.random.PRNGKey(0), 16, sigma_min=0.002, sigma_max=80.0))
  pre = D.edm_preconditioning(sigma)
  assert_float64(pre, "edm_preconditioning")
  assert_float64(D.edm_loss_weight(sigma))
  assert_float64(D.score_from_denoiser(xt, teacher, sigma=sigma[:, None]))
  assert_float64(D.vp_alpha_sigma(jnp.linspace(0.1, 1.0, 4, dtype=F64)))
  denoise = lambda x, s: mixture.denoiser(x, sigma=s)
  out = D.heun_sample(denoise, 80.0 * _normal(8, (32, 2)), sigmas=D.karras_sigmas(6))
  assert_float64(out, "heun_sample")


def test_annealing_in_float64():
  A = fd.annealing
  log_w = _normal(9, (256,))
  assert_float64(A.resample(jax.random.PRNGKey(0), log_w, 128), "resample")
  assert_float64(A.alpha_of("kl"), "alpha_of('kl')")
  assert_float64(A.alpha_of(2), "alpha_of(int)")
  assert_float64(A.alpha_target(log_w, -log_w, alpha=2.0))
  assert_float64(A.geometric_path(log_w, -log_w, 0.5))
  assert_float64(A.temperature_path(log_w, 2.0))
  buffer = A.buffer_init(64, 3)
  assert_float64(buffer, "buffer_init")
  buffer = A.buffer_add(buffer, _normal(10, (32, 3)), log_w[:32], log_w[32:64])
  x, lq, idx = A.buffer_sample(jax.random.PRNGKey(1), buffer, 16)
  assert_float64((x, lq), "buffer_sample")
  assert_float64(A.buffer_adjust(buffer, idx, lq + 0.1, alpha=2.0), "buffer_adjust")
  assert_float64(A.fab_loss(log_w, -log_w), "fab_loss")
  assert_float64(A.fab_buffer_loss(log_w, log_w + 0.1, alpha=2.0), "fab_buffer_loss")
  assert_float64(A.adapt_step_size(0.1, 0.5), "adapt_step_size")


def test_kernels_and_cauchy_schwarz_in_float64():
  x, y = _normal(11, (300, 2)), _normal(12, (200, 2)) + 0.5
  K, C = fd.kernels, fd.cauchy_schwarz
  bw = K.median_bandwidth(x, y)
  assert_float64(bw, "median_bandwidth")
  assert_float64(K.silverman_bandwidth(x))
  grad = jax.grad(lambda x: fd.cauchy_schwarz_divergence(x, y, bandwidth=1.0, block_size=64))(x)
  assert_float64(grad, "CS gradient (blocked, custom backward pass)")
  assert_float64(fd.mmd(x, y, bandwidth=1.0, unbiased=True), "mmd")
  assert_float64(fd.cauchy_schwarz_mutual_information(x, x**2, bandwidth_x=1.0, bandwidth_z=1.0))
  y_pred = x[:, :1] + 0.1
  assert_float64(
    fd.conditional_cauchy_schwarz_divergence(x, x[:, :1], y_pred, bandwidth_x=1.0, bandwidth_y=1.0),
    "conditional CS",
  )
  assert C.cauchy_schwarz_divergence is fd.cauchy_schwarz_divergence


def test_cauchy_schwarz_equals_numpy_to_float64_precision():
  x, y = _normal(13, (40, 2)), _normal(14, (30, 2)) + 0.2

  def log_mean_kernel(a, b):
    d2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    return np.log(np.mean(np.exp(-d2 / 2.0)))

  a, b = np.asarray(x), np.asarray(y)
  want = -2 * log_mean_kernel(a, b) + log_mean_kernel(a, a) + log_mean_kernel(b, b)
  got = fd.cauchy_schwarz_divergence(x, y, bandwidth=1.0)
  np.testing.assert_allclose(float(got), want, rtol=1e-11)


def test_categorical_in_float64():
  s, t = _normal(15, (8, 10)), _normal(16, (8, 10))
  for name in ("kl", "reverse_kl", "js"):
    assert_float64(fd.kd_loss(s, t, divergence=name, temperature=2.0), name)
    assert_float64(jax.grad(lambda s: fd.kd_loss(s, t, divergence=name))(s))
  assert_float64(fd.balanced_kd_loss(s, t), "balanced_kd_loss")
  assert_float64(fd.categorical.f_divergence(s, t, divergence="js"))
  assert_float64(fd.categorical.entropy(s))


def test_transport_in_float64():
  x, y = _normal(17, (64, 2)), _normal(18, (48, 2))
  value, _ = fd.sinkhorn_divergence(x, y, epsilon=1.0)
  assert_float64(value, "sinkhorn_divergence")
  loss, _ = fd.sinkhorn_kd_loss(_normal(19, (16, 5)), _normal(20, (16, 5)))
  assert_float64(loss, "sinkhorn_kd_loss")


def test_flows_are_float64_from_init():
  """RealNVP with the elementwise spline layer: affine couplings and a spline bijector."""
  flow = fd.flows.real_nvp(3, num_layers=2, hidden=(8,), marginal_bins=4)
  params = flow.init(jax.random.PRNGKey(0))
  assert_float64(params, "params")
  x, log_q = flow.sample_and_log_prob(params, jax.random.PRNGKey(1), 16)
  assert_float64((x, log_q), "samples")
  np.testing.assert_allclose(flow.log_prob(params, x), log_q, rtol=1e-10, atol=1e-10)
  grads = jax.grad(lambda p: flow.log_prob(p, x).mean())(params)
  assert_float64(grads, "grads")
  opt = optax.adam(1e-3)
  updates, _ = opt.update(grads, opt.init(params))
  assert_float64(optax.apply_updates(params, updates), "updated params")


@pytest.mark.parametrize("target", ["gmm40", "many_well", "funnel"])
def test_targets_and_metrics_in_float64(target):
  t = getattr(fd.targets, target)()
  x = t.sample(jax.random.PRNGKey(0), 256)
  assert_float64(x, "exact samples")
  log_p = t.log_prob(x)
  assert_float64(log_p, "log_prob")
  log_q = log_p - 0.1 * jnp.abs(x).sum(-1)
  M = fd.metrics
  for metric in (M.reverse_ess, M.forward_ess, M.log_z_estimate, M.elbo, M.eubo):
    assert_float64(metric(log_p, log_q), metric.__name__)
  assert_float64(M.energy_distance(x, x + 0.1), "energy_distance")
  if target == "gmm40":
    cov = M.mode_coverage(x, t.means, radius=1.0)
    assert_float64((cov.histogram, cov.mode_entropy), "mode_coverage")


def test_preference_losses_in_float64():
  """f-DPO with kl equals DPO in float64 NumPy to 1e-12; f-DPG and the regulariser too."""
  rng = np.random.default_rng(0)
  pw, pl, rw, rl = rng.normal(size=(4, 8)) * 3.0
  got = fd.f_dpo_loss(pw, pl, rw, rl, divergence="kl", beta=0.2)
  assert_float64(got, "f_dpo_loss")
  want = np.logaddexp(0.0, -0.2 * ((pw - rw) - (pl - rl)))
  np.testing.assert_allclose(got, want, rtol=1e-12)
  grads = jax.grad(lambda a: fd.f_dpg_loss(a, jnp.asarray(rw), divergence="js"))(jnp.asarray(pw))
  assert_float64(grads, "f_dpg_loss grad")
  assert_float64(fd.preference.mass_covering_regularizer(pw, rw, divergence="js"), "mass_covering")
