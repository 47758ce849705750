"""fdiv_jax.annealing: paths, resampling, AIS, the replay buffer, FAB and TA-BG."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy import stats

import fdiv_jax as fd
from fdiv_jax import annealing as A

D = 6
MU, SCALE, LOG_C = 1.0, 0.6, 2.5  # target: exp(LOG_C) * N(MU 1, SCALE^2 I)


def log_base(x):
  return jax.scipy.stats.norm.logpdf(x).sum(-1)


def log_target(x):
  return LOG_C + jax.scipy.stats.norm.logpdf(x, MU, SCALE).sum(-1)


def base_samples(key, n, d=D):
  return jax.random.normal(key, (n, d))


# ---------------------------------------------------------------------------
# Paths.
# ---------------------------------------------------------------------------


def test_paths_match_their_formulas_and_keep_minus_inf():
  lb, lt = jnp.array([-1.0, -2.0, -3.0]), jnp.array([0.5, -jnp.inf, 1.0])
  out = A.geometric_path(lb, lt, 0.25)
  np.testing.assert_allclose(out[::2], 0.75 * lb[::2] + 0.25 * lt[::2], rtol=1e-6)
  assert out[1] == -jnp.inf
  np.testing.assert_array_equal(A.geometric_path(lb, lt, 0.0), lb)  # no 0 * inf = NaN
  np.testing.assert_allclose(A.temperature_path(lt[:1], 4.0), lt[:1] / 4.0)
  lp, lq = jnp.array([1.0, 2.0]), jnp.array([-1.0, -jnp.inf])
  np.testing.assert_allclose(A.alpha_target(lp[:1], lq[:1], alpha=2.0), 2 * lp[:1] - lq[:1])
  np.testing.assert_array_equal(A.alpha_target(lp, lq, alpha=1.0), lp)
  np.testing.assert_allclose(
    A.alpha_target(lp[:1], lq[:1], alpha=fd.get("alpha", alpha=0.5)), 0.5 * lp[:1] + 0.5 * lq[:1]
  )


def test_alpha_of_reads_registry_entries_and_rejects_others():
  assert float(A.alpha_of("kl")) == 1.0
  assert float(A.alpha_of("reverse_kl")) == 0.0
  assert float(A.alpha_of(fd.get("alpha", alpha=2.0))) == 2.0
  with pytest.raises(ValueError, match="alpha-divergence"):
    A.alpha_of("js")
  # A traced order: vmap over alpha does not recompile per value.
  out = jax.vmap(lambda a: A.alpha_target(1.0, -1.0, alpha=a))(jnp.array([0.5, 2.0]))
  np.testing.assert_allclose(out, [0.5 * 1 - 0.5, 2.0 + 1.0])


# ---------------------------------------------------------------------------
# Resampling.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", A.RESAMPLING)
def test_resample_draws_the_weights(method):
  w = np.array([0.05, 0.4, 0.0, 0.25, 0.3])
  log_w = jnp.log(jnp.asarray(w, jnp.float32)) + 3.0  # unnormalised
  m = 20_000
  res = A.resample(jax.random.PRNGKey(0), log_w, m, method=method)
  counts = np.bincount(np.asarray(res.indices), minlength=5)
  assert counts[2] == 0  # zero weight never drawn
  if method == "multinomial":
    nz = w > 0
    _, p = stats.chisquare(counts[nz], m * w[nz])
    assert p > 1e-3
  else:  # systematic: every count within one of its expectation
    assert np.all(np.abs(counts - m * w) <= 1.0)
  np.testing.assert_allclose(float(res.ess), 1.0 / np.sum(w**2), rtol=1e-4)
  np.testing.assert_allclose(float(res.ess_fraction), 1.0 / np.sum(w**2) / 5, rtol=1e-4)


def test_resample_multinomial_is_jax_random_choice_and_clips():
  key = jax.random.PRNGKey(3)
  log_w = jax.random.normal(key, (1000,)) * 2.0
  res = A.resample(key, log_w, 500)
  ref = jax.random.choice(key, 1000, (500,), p=jax.nn.softmax(log_w))
  np.testing.assert_array_equal(res.indices, ref)
  clipped = A.resample(key, log_w, 500, clip_quantile=0.9)
  np.testing.assert_allclose(float(clipped.clipped_fraction), 0.1, atol=1e-3)
  assert float(clipped.ess) > float(res.ess)  # clipping the tail raises the ESS


def test_resample_ignores_nan_and_inf_weights():
  log_w = jnp.array([0.0, jnp.nan, jnp.inf, -jnp.inf, 1.0])
  res = A.resample(jax.random.PRNGKey(1), log_w, 4000)
  assert set(np.unique(np.asarray(res.indices))) <= {0, 4}
  assert np.isfinite(float(res.ess))


def test_resample_bad_input():
  with pytest.raises(ValueError, match="method"):
    A.resample(jax.random.PRNGKey(0), jnp.zeros(3), 3, method="stratified")
  with pytest.raises(ValueError, match="log_weights"):
    A.resample(jax.random.PRNGKey(0), jnp.zeros((2, 3)), 3)
  with pytest.raises(ValueError, match="num_samples"):
    A.resample(jax.random.PRNGKey(0), jnp.zeros(3), 0)
  with pytest.raises(ValueError, match="clip_quantile"):
    A.resample(jax.random.PRNGKey(0), jnp.zeros(3), 3, clip_quantile=1.5)


# ---------------------------------------------------------------------------
# AIS.
# ---------------------------------------------------------------------------


def test_ais_without_transitions_is_importance_sampling():
  x0 = base_samples(jax.random.PRNGKey(0), 256)
  for betas, steps in ((jnp.linspace(0, 1, 6), 0), (jnp.array([0.0, 1.0]), 3)):
    out = A.ais(
      jax.random.PRNGKey(1),
      x0,
      log_base=log_base,
      log_target=log_target,
      betas=betas,
      num_mcmc_steps=steps,
    )
    np.testing.assert_array_equal(out.samples, x0)
    np.testing.assert_allclose(out.log_weights, log_target(x0) - log_base(x0), rtol=1e-5, atol=1e-4)
    iw = fd.importance_weights(log_target(x0), log_base(x0))
    np.testing.assert_allclose(out.log_normalizer, iw.log_normalizer, rtol=1e-5, atol=1e-5)
  # FAB's target gamma^alpha q^(1 - alpha): the same two evaluations, weights alpha (lt - lb).
  out = A.ais(
    jax.random.PRNGKey(1),
    x0,
    log_base=log_base,
    log_target=log_target,
    betas=jnp.linspace(0, 1, 4),
    num_mcmc_steps=0,
    alpha=fd.get("alpha", alpha=2.0),
  )
  lb, lt = log_base(x0), log_target(x0)
  np.testing.assert_allclose(
    out.log_weights, A.alpha_target(lt, lb, alpha=2.0) - lb, rtol=1e-5, atol=1e-4
  )
  np.testing.assert_allclose(out.log_target, lt, rtol=1e-6)


RUNS, N, LEVELS = 32, 128, 16


@functools.cache
def ais_runs(kernel):
  """AIS to the Gaussian target, vmapped over RUNS independent runs; compiled once per kernel."""

  def one(key, eps):
    k0, k1 = jax.random.split(key)
    return A.ais(
      k1,
      base_samples(k0, N),
      log_base=log_base,
      log_target=log_target,
      betas=jnp.linspace(0.0, 1.0, LEVELS),
      kernel=kernel,
      step_size=eps,
      num_integration_steps=3,
      # Random-walk moves are local and gradient-free: more of them per level.
      num_mcmc_steps=10 if kernel == "rwm" else 2,
    )

  return jax.jit(jax.vmap(one)), jax.jit(one)


@pytest.mark.parametrize("kernel", A.KERNELS)
def test_ais_normaliser_is_unbiased_and_beats_importance_sampling(kernel):
  # Z-hat is unbiased for Z = exp(LOG_C): over 32 independent runs of 128
  # particles, mean(Z-hat / Z) is within 4 standard errors of 1.
  keys = jax.random.split(jax.random.PRNGKey(7), RUNS)
  out = ais_runs(kernel)[0](keys, jnp.full((RUNS, LEVELS - 2), 0.3))
  ratio = np.exp(np.asarray(out.log_normalizer, np.float64) - LOG_C)
  se = ratio.std(ddof=1) / np.sqrt(RUNS)
  assert abs(ratio.mean() - 1.0) < 4 * se + 1e-3, (ratio.mean(), se)
  assert np.all(np.asarray(out.acceptance_rate) > 0.3)
  # Plain importance sampling from the same base, same particle count.
  x = jax.vmap(lambda k: base_samples(jax.random.split(k)[0], N))(keys)
  iw = fd.importance_weights(log_target(x), log_base(x))
  ais_err = np.mean(np.abs(np.asarray(out.log_normalizer) - LOG_C))
  is_err = np.mean(np.abs(np.asarray(iw.log_normalizer) - LOG_C))
  assert ais_err < 0.2 and ais_err < is_err / 4, (ais_err, is_err)
  assert float(np.mean(out.ess_fraction)) > 5 * float(np.mean(iw.ess_fraction))
  # Where the weights point: the weighted mean is the target's.
  w = np.asarray(jax.nn.softmax(out.log_weights.reshape(-1)))
  mean = (w[:, None] * np.asarray(out.samples).reshape(-1, D)).sum(0)
  np.testing.assert_allclose(mean, MU, atol=0.08)
  assert abs(float(out.samples.mean()) - MU) < 0.15  # unweighted, already near it
  np.testing.assert_allclose(out.log_base, log_base(out.samples), rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(out.log_target, log_target(out.samples), rtol=1e-5, atol=1e-5)


def test_ais_jit_equals_eager_and_vmap_equals_loop():
  keys = jax.random.split(jax.random.PRNGKey(5), RUNS)
  eps = jnp.linspace(0.2, 0.4, RUNS)[:, None] * jnp.ones((1, LEVELS - 2))
  batched, single = ais_runs("hmc")
  out = batched(keys, eps)
  for i in (0, 1, 5):
    chex.assert_trees_all_close(
      jax.tree.map(lambda a: a[i], out), single(keys[i], eps[i]), rtol=1e-5, atol=1e-5
    )
  # Eager (op by op) on a small problem equals its jitted form.
  x0 = base_samples(keys[0], 16)

  def f(k, x):
    return A.ais(
      k,
      x,
      log_base=log_base,
      log_target=log_target,
      betas=jnp.array([0.0, 0.5, 1.0]),
      step_size=0.3,
      num_integration_steps=2,
    )

  chex.assert_trees_all_close(f(keys[1], x0), jax.jit(f)(keys[1], x0), rtol=1e-5, atol=1e-5)


def test_ais_rejects_invalid_points_and_never_returns_nan():
  # The target is -inf on x_0 < -0.5 and NaN on x_1 > 1.5: particles starting
  # there get weight zero; no proposal moves a live particle into them.
  def log_wall(x):
    lp = log_target(x)
    lp = jnp.where(x[..., 0] < -0.5, -jnp.inf, lp)
    return jnp.where(x[..., 1] > 1.5, jnp.nan, lp)

  x0 = base_samples(jax.random.PRNGKey(0), 512)
  out = A.ais(
    jax.random.PRNGKey(1),
    x0,
    log_base=log_base,
    log_target=log_wall,
    betas=jnp.linspace(0, 1, 8),
    step_size=0.5,
    num_integration_steps=5,
    num_mcmc_steps=2,
  )
  assert not np.any(np.isnan(np.asarray(out.log_weights)))
  assert np.all(np.isfinite(np.asarray(out.samples)))
  bad0 = np.asarray((x0[:, 0] < -0.5) | (x0[:, 1] > 1.5))
  assert np.all(np.asarray(out.log_weights)[bad0] == -np.inf)
  live = np.isfinite(np.asarray(out.log_weights))
  assert live.sum() > 100
  assert np.all(np.isfinite(np.asarray(log_wall(out.samples))[live]))
  assert np.all(np.isfinite(np.asarray(out.acceptance_rate)))
  assert np.isfinite(float(out.log_normalizer))


def test_ais_float64():
  with jax.enable_x64(True):
    x0 = jax.random.normal(jax.random.PRNGKey(0), (128, D), jnp.float64)
    out = A.ais(
      jax.random.PRNGKey(1),
      x0,
      log_base=log_base,
      log_target=log_target,
      betas=jnp.linspace(0, 1, 3, dtype=jnp.float64),
      step_size=0.3,
      num_integration_steps=1,
    )
    assert out.samples.dtype == jnp.float64 and out.log_weights.dtype == jnp.float64


def test_ais_bad_input():
  x0 = base_samples(jax.random.PRNGKey(0), 8)
  kw = dict(log_base=log_base, log_target=log_target)
  for betas in (
    jnp.array([0.0, 0.5, 0.4, 1.0]),
    jnp.array([0.1, 1.0]),
    jnp.array([0.0, 0.9]),
    jnp.array([0.0]),
  ):
    with pytest.raises(ValueError, match="betas"):
      A.ais(jax.random.PRNGKey(0), x0, betas=betas, **kw)
  with pytest.raises(ValueError, match="x0"):
    A.ais(jax.random.PRNGKey(0), x0[0], betas=jnp.linspace(0, 1, 3), **kw)
  with pytest.raises(ValueError, match="step_size"):
    A.ais(jax.random.PRNGKey(0), x0, betas=jnp.linspace(0, 1, 3), step_size=0.0, **kw)
  with pytest.raises(ValueError, match="step_size"):
    A.ais(jax.random.PRNGKey(0), x0, betas=jnp.linspace(0, 1, 4), step_size=jnp.ones(3), **kw)
  with pytest.raises(ValueError, match="kernel"):
    A.ais(jax.random.PRNGKey(0), x0, betas=jnp.linspace(0, 1, 3), kernel="nuts", **kw)
  with pytest.raises(ValueError, match="num_mcmc_steps"):
    A.ais(jax.random.PRNGKey(0), x0, betas=jnp.linspace(0, 1, 3), num_mcmc_steps=-1, **kw)
  with pytest.raises(ValueError, match="inverse_mass_matrix"):
    A.ais(
      jax.random.PRNGKey(0), x0, betas=jnp.linspace(0, 1, 3), inverse_mass_matrix=jnp.ones(2), **kw
    )
  # A log density of the wrong shape ([N, 1], or a scalar) is named, not failed inside JAX.
  betas = jnp.linspace(0, 1, 3)
  for bad, what in (
    (lambda x: log_target(x)[:, None], r"shape \(8, 1\)"),
    (lambda x: jnp.sum(log_target(x)), r"shape \(\)"),
  ):
    with pytest.raises(
      ValueError, match="log_target must map x \\[N, d\\] to log densities \\[N\\].*" + what
    ):
      A.ais(jax.random.PRNGKey(0), x0, betas=betas, log_base=log_base, log_target=bad)
  with pytest.raises(ValueError, match="log_base must map"):
    A.ais(jax.random.PRNGKey(0), x0, betas=betas, log_base=lambda x: x, log_target=log_target)


def test_adapt_step_size_moves_towards_the_target_acceptance(optimizing_compiler):
  eps = A.adapt_step_size(jnp.array([0.1, 0.1]), jnp.array([0.9, 0.2]))
  np.testing.assert_allclose(eps, [0.102, 0.1 / 1.02], rtol=1e-6)
  # Repeated AIS calls from a step size that accepts nothing: every level's
  # acceptance, averaged over runs and the last 10 calls, ends near 0.65.
  batched = ais_runs("hmc")[0]
  eps = jnp.full((RUNS, LEVELS - 2), 2.0)
  first = None
  history = []
  for i in range(60):
    out = batched(jax.random.split(jax.random.PRNGKey(100 + i), RUNS), eps)
    first = out.acceptance_rate if first is None else first
    eps = A.adapt_step_size(eps, out.acceptance_rate, factor=1.05)
    history.append(np.asarray(out.acceptance_rate).mean(0))
  assert float(np.max(first)) < 0.1
  settled = np.mean(history[-10:], axis=0)
  assert np.all((settled > 0.45) & (settled < 0.85)), settled
  with pytest.raises(ValueError, match="target"):
    A.adapt_step_size(eps, out.acceptance_rate, target=1.5)
  with pytest.raises(ValueError, match="factor"):
    A.adapt_step_size(eps, out.acceptance_rate, factor=1.0)


# ---------------------------------------------------------------------------
# Replay buffer.
# ---------------------------------------------------------------------------


def test_buffer_add_wraps_and_drops_invalid_samples():
  buf = A.buffer_init(5, 2)
  x = jnp.arange(8.0).reshape(4, 2)
  buf = A.buffer_add(buf, x, jnp.array([0.0, 1.0, jnp.nan, 2.0]), jnp.zeros(4))
  assert int(buf.size) == 4 and int(buf.index) == 4
  assert buf.log_w[2] == -jnp.inf and buf.log_w[4] == -jnp.inf
  buf = A.buffer_add(buf, x[:3] + 100, jnp.zeros(3), jnp.array([1.0, 1.0, jnp.inf]))
  assert int(buf.size) == 5 and int(buf.index) == 2
  np.testing.assert_array_equal(buf.x[4], x[0] + 100)  # slot 4, then wraps to 0, 1
  np.testing.assert_array_equal(buf.x[0], x[1] + 100)
  assert buf.log_w[1] == -jnp.inf  # log_q = inf: invalid
  np.testing.assert_array_equal(buf.x[3], x[3])  # untouched
  with pytest.raises(ValueError, match="x must have shape"):
    A.buffer_add(buf, jnp.zeros((2, 3)), jnp.zeros(2), jnp.zeros(2))
  with pytest.raises(ValueError, match="capacity"):
    A.buffer_add(buf, jnp.zeros((6, 2)), jnp.zeros(6), jnp.zeros(6))


def test_buffer_sample_is_proportional_to_weight_and_skips_empty_slots():
  buf = A.buffer_init(10, 1)
  w = np.array([0.1, 0.2, 0.3, 0.4])
  buf = A.buffer_add(buf, jnp.arange(4.0)[:, None], jnp.log(jnp.asarray(w)), jnp.zeros(4))
  keys = jax.random.split(jax.random.PRNGKey(0), 20_000)
  idx = jax.jit(jax.vmap(lambda k: A.buffer_sample(k, buf, 1)[2][0]))(keys)
  counts = np.bincount(np.asarray(idx), minlength=10)
  assert counts[4:].sum() == 0
  _, p = stats.chisquare(counts[:4], 20_000 * w)
  assert p > 1e-3
  x, log_q, idx = A.buffer_sample(jax.random.PRNGKey(1), buf, 4)
  assert sorted(np.asarray(idx).tolist()) == [0, 1, 2, 3]  # without replacement
  np.testing.assert_array_equal(x[:, 0], idx.astype(jnp.float32))
  with pytest.raises(ValueError, match="num_samples"):
    A.buffer_sample(jax.random.PRNGKey(1), buf, 11)


def test_buffer_adjust_reweights_by_the_flow_change():
  buf = A.buffer_add(
    A.buffer_init(4, 1),
    jnp.zeros((4, 1)),
    jnp.array([0.0, 1.0, 2.0, 3.0]),
    jnp.array([-1.0, -1.0, -1.0, -1.0]),
  )
  new = A.buffer_adjust(buf, jnp.array([1, 3]), jnp.array([-0.5, jnp.nan]), alpha=2.0)
  # log w += (1 - alpha)(log q_new - log q_old) = -(0.5)
  np.testing.assert_allclose(new.log_w[:3], [0.0, 0.5, 2.0])
  assert new.log_w[3] == -jnp.inf  # a NaN log q invalidates the slot
  np.testing.assert_allclose(new.log_q[:3], [-1.0, -0.5, -1.0])
  same = A.buffer_adjust(buf, jnp.array([0]), jnp.array([5.0]), alpha="kl")
  np.testing.assert_array_equal(same.log_w, buf.log_w)  # alpha = 1: p / q needs no change


def test_buffer_functions_jit():
  buf = jax.jit(A.buffer_add)(A.buffer_init(8, 2), jnp.ones((3, 2)), jnp.zeros(3), jnp.zeros(3))
  x, lq, idx = jax.jit(A.buffer_sample, static_argnums=2)(jax.random.PRNGKey(0), buf, 3)
  buf = jax.jit(A.buffer_adjust)(buf, idx, lq + 1.0, alpha=jnp.float32(2.0))
  np.testing.assert_allclose(buf.log_w[:3], -1.0)


# ---------------------------------------------------------------------------
# FAB losses.
# ---------------------------------------------------------------------------


def _alpha_divergence_closed_form(theta, alpha):
  """D_alpha(N(0, 1) || N(theta, 1)) and Z_gamma = int p^a q^(1-a), 1-D."""
  z = jnp.exp(-alpha * (1 - alpha) * theta**2 / 2)
  return (z - 1) / (alpha * (alpha - 1)), z


@pytest.mark.parametrize("alpha", [2.0, 1.5, 1.0])
def test_fab_loss_gradient_is_the_alpha_divergence_gradient(alpha):
  # p = N(0, 1), q_theta = N(theta, 1). Samples of q with log w = log gamma - log q,
  # gamma = p^alpha q^(1-alpha): grad FAB = alpha / Z_gamma * grad D_alpha(p || q).
  theta = 0.6
  x = theta + jax.random.normal(jax.random.PRNGKey(0), (400_000,))
  log_p = jax.scipy.stats.norm.logpdf(x)

  def loss(t):
    log_q = jax.scipy.stats.norm.logpdf(x, t)
    log_w = A.alpha_target(log_p, log_q, alpha=alpha) - log_q
    return A.fab_loss(log_q, log_w)

  g = float(jax.grad(loss)(theta))
  if alpha == 1.0:  # forward KL(p || q) = theta^2 / 2
    expected = theta
  else:
    dd = jax.grad(lambda t: _alpha_divergence_closed_form(t, alpha)[0])(theta)
    expected = float(alpha / _alpha_divergence_closed_form(theta, alpha)[1] * dd)
  np.testing.assert_allclose(g, expected, rtol=0.03)
  # The registry entry gives the same order.
  div = fd.get("alpha", alpha=alpha)
  log_q = jax.scipy.stats.norm.logpdf(x, theta)
  np.testing.assert_allclose(
    A.alpha_target(log_p, log_q, alpha=div), A.alpha_target(log_p, log_q, alpha=alpha), rtol=1e-6
  )


def test_fab_buffer_loss_gradient_with_buffer_samples():
  # Buffer samples drawn in proportion to w are samples of gamma; with
  # log q_old = log q the adjustment is 1 and the loss is -mean log q.
  theta, alpha = 0.6, 2.0
  key = jax.random.PRNGKey(1)
  x = theta + jax.random.normal(key, (200_000,))
  log_q0 = jax.scipy.stats.norm.logpdf(x, theta)
  log_w = alpha * (jax.scipy.stats.norm.logpdf(x) - log_q0)
  buf = A.buffer_add(A.buffer_init(200_000, 1), x[:, None], log_w, log_q0)
  # 1% of the buffer: without replacement is then close to in proportion to w.
  xb, lq_old, _ = A.buffer_sample(jax.random.PRNGKey(2), buf, 2_000)

  def loss(t):
    return A.fab_buffer_loss(jax.scipy.stats.norm.logpdf(xb[:, 0], t), lq_old, alpha=alpha)[0]

  g = float(jax.grad(loss)(theta))
  dd = jax.grad(lambda t: _alpha_divergence_closed_form(t, alpha)[0])(theta)
  expected = float(alpha / _alpha_divergence_closed_form(theta, alpha)[1] * dd)
  np.testing.assert_allclose(g, expected, rtol=0.1)
  # After a flow change the adjustment reweights: log adjust = (1 - alpha)(log q - log q_old).
  _, log_adjust = A.fab_buffer_loss(lq_old + 0.3, lq_old, alpha=alpha)
  np.testing.assert_allclose(log_adjust, -0.3, rtol=1e-5)
  value, _ = A.fab_buffer_loss(
    jnp.array([-1.0, -2.0]), jnp.array([-1.0, -10.0]), alpha=0.0, max_weight=10.0
  )
  np.testing.assert_allclose(value, -(1.0 * -1.0 + 10.0 * -2.0) / 2)  # exp(8) clipped at 10


def test_fab_losses_finite_with_invalid_weights_and_bad_input():
  g = jax.grad(lambda lq: A.fab_loss(lq, jnp.array([0.0, -jnp.inf, jnp.nan])))(
    jnp.array([-1.0, -2.0, -3.0])
  )
  np.testing.assert_allclose(g, [-1.0, 0.0, 0.0])
  assert np.isnan(float(A.fab_loss(jnp.array([jnp.nan, 0.0]), jnp.zeros(2))))  # NaN in, NaN out
  with pytest.raises(ValueError, match="log_q"):
    A.fab_loss(jnp.zeros(3), jnp.zeros(4))
  with pytest.raises(ValueError, match="max_weight"):
    A.fab_buffer_loss(jnp.zeros(3), jnp.zeros(3), alpha=2.0, max_weight=0.0)


# ---------------------------------------------------------------------------
# TA-BG level.
# ---------------------------------------------------------------------------


def test_tabg_level_fits_the_next_level():
  # q = N(m, e^{2 s}) in 2-D; the next level N(2, 0.5^2): a level's maximum
  # likelihood on resampled flow samples moves (m, s) towards (2, log 0.5).
  def sample_and_log_prob(p, key, n):
    x = p["m"] + jnp.exp(p["s"]) * jax.random.normal(key, (n, 2))
    return x, jax.scipy.stats.norm.logpdf(x, p["m"], jnp.exp(p["s"])).sum(-1)

  def log_prob(p, x):
    return jax.scipy.stats.norm.logpdf(x, p["m"], jnp.exp(p["s"])).sum(-1)

  def log_next(x):
    return jax.scipy.stats.norm.logpdf(x, 2.0, 0.5).sum(-1) + 7.0

  params = {"m": jnp.zeros(2), "s": jnp.log(2.0) * jnp.ones(2)}
  opt = optax.adam(0.05)
  state = opt.init(params)
  level = jax.jit(
    lambda k, p, s: A.tabg_level(
      k,
      p,
      s,
      sample_and_log_prob=sample_and_log_prob,
      log_prob=log_prob,
      log_target=log_next,
      optimizer=opt,
      buffer_size=4000,
      batch_size=256,
      num_steps=150,
      clip_quantile=0.999,
    )
  )
  for i in range(3):
    params, state, info = level(jax.random.PRNGKey(i), params, state)
  np.testing.assert_allclose(params["m"], 2.0, atol=0.1)
  np.testing.assert_allclose(jnp.exp(params["s"]), 0.5, atol=0.1)
  assert info["loss"].shape == (150,)
  assert 0.3 < float(info["buffer_ess"]) <= 1.0
  np.testing.assert_allclose(float(info["clipped_fraction"]), 0.001, atol=5e-4)
