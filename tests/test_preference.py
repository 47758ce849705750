"""f-DPO, f-DPG and the mass-covering regulariser (fdiv_jax.preference), and the registry's f'."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import fdiv_jax as fd
from fdiv_jax import preference

# Every entry with an invertible f' (spec strings, as test_float64 builds them): the f-DPO
# ones in the default suite, the rest with make test-slow.
_DEFAULT = ("kl", "reverse_kl", "js", "alpha:0.3")
ENTRIES = [
  spec if spec in _DEFAULT else pytest.param(spec, marks=pytest.mark.slow)
  for spec in [e for e in fd.available() if e not in ("alpha", "total_variation")]
  + ["alpha:0.3", "alpha:2", "alpha:1"]
]
DPO_ENTRIES = [("kl", {}), ("reverse_kl", {}), ("js", {}), ("alpha", {"alpha": 0.5})]


@pytest.mark.parametrize("spec", ENTRIES)
def test_f_prime_is_the_derivative_of_f(spec):
  """f'(u) = d f / d u = (d/dl) f(e^l) e^{-l}, against autodiff of the generator; a
  user-defined entry (from_generator) derives the same."""
  div = fd.get(spec)
  l = jnp.linspace(-5.0, 5.0, 41)
  want = jax.vmap(jax.grad(div.f))(l) * jnp.exp(-l)
  np.testing.assert_allclose(div.f_prime(l), want, rtol=2e-4, atol=2e-5)
  custom = fd.from_generator(div.f)
  np.testing.assert_allclose(custom.f_prime(l), want, rtol=2e-4, atol=2e-5)
  assert div.f_prime_invertible


def test_total_variation_has_no_invertible_f_prime():
  tv = fd.get("total_variation")
  assert not tv.f_prime_invertible
  np.testing.assert_allclose(tv.f_prime(jnp.array([-1.0, 1.0])), [-0.5, 0.5])
  z = jnp.zeros(3)
  with pytest.raises(ValueError, match="total_variation.*not strictly increasing"):
    preference.f_dpo_loss(z, z, z, z, divergence="total_variation", beta=0.1)


def test_f_dpo_with_kl_is_dpo():
  """DPO: -log sigmoid(beta [(log pi_w - log ref_w) - (log pi_l - log ref_l)])."""
  pw, pl, rw, rl = jax.random.normal(jax.random.PRNGKey(0), (4, 16)) * 3.0
  beta = 0.2
  want = -jax.nn.log_sigmoid(beta * ((pw - rw) - (pl - rl)))
  got = preference.f_dpo_loss(pw, pl, rw, rl, divergence="kl", beta=beta)
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(
    jax.jit(preference.f_dpo_loss, static_argnames="divergence")(
      pw, pl, rw, rl, divergence="kl", beta=beta
    ),
    got,
    rtol=1e-6,
  )
  # Forward KL (registry reverse_kl): f'(u) = -1 / u.
  got = preference.f_dpo_loss(pw, pl, rw, rl, divergence="reverse_kl", beta=beta)
  want = jax.nn.softplus(-beta * (-jnp.exp(rw - pw) + jnp.exp(rl - pl)))
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,params", DPO_ENTRIES)
def test_f_dpo_implicit_reward_recovers_a_planted_reward(name, params):
  """Population f-DPO on a 5-way categorical: pairs (i, j) ~ ref x ref labelled by
  Bradley-Terry with reward r. The minimiser's implicit rewards differ by r_i - r_j."""
  div = fd.get(name, **params)
  ref = jax.nn.log_softmax(jnp.array([0.3, -0.2, 0.5, 0.0, -0.6]))
  r = jnp.array([1.0, -0.5, 0.0, 0.7, -1.2])
  beta = 0.5
  pair_weight = jnp.exp(ref[:, None] + ref[None, :])
  label = jax.nn.sigmoid(r[:, None] - r[None, :])  # P(i preferred to j)
  i, j = jnp.meshgrid(jnp.arange(5), jnp.arange(5), indexing="ij")

  def loss(logits):
    logp = jax.nn.log_softmax(logits)
    win = preference.f_dpo_loss(logp[i], logp[j], ref[i], ref[j], divergence=div, beta=beta)
    lose = preference.f_dpo_loss(logp[j], logp[i], ref[j], ref[i], divergence=div, beta=beta)
    return jnp.sum(pair_weight * (label * win + (1.0 - label) * lose))

  opt = optax.adam(0.05)

  def step(carry, _):
    logits, state = carry
    updates, state = opt.update(jax.grad(loss)(logits), state)
    return (optax.apply_updates(logits, updates), state), None

  logits = ref
  (logits, _), _ = jax.lax.scan(step, (logits, opt.init(logits)), None, length=3000)
  reward = preference.implicit_reward(jax.nn.log_softmax(logits), ref, divergence=div, beta=beta)
  np.testing.assert_allclose(reward - reward[0], r - r[0], atol=2e-3)


@pytest.mark.parametrize("name,params", DPO_ENTRIES + [("alpha", {"alpha": 0.3})])
def test_f_dpo_gradients_finite_at_log_ratios_of_80(name, params):
  grid = jnp.array([-80.0, 0.0, 80.0])
  lw, ll = [a.ravel() for a in jnp.meshgrid(grid, grid)]
  zero = jnp.zeros_like(lw)

  def total(lw, ll):
    return jnp.sum(
      preference.f_dpo_loss(lw, ll, zero, zero, divergence=fd.get(name, **params), beta=0.1)
    )

  value = total(lw, ll)
  gw, gl = jax.grad(total, argnums=(0, 1))(lw, ll)
  assert np.isfinite(value)
  assert np.all(np.isfinite(gw)) and np.all(np.isfinite(gl))
  nan = preference.f_dpo_loss(
    jnp.array([jnp.nan]), zero[:1], zero[:1], zero[:1], divergence=fd.get(name, **params), beta=0.1
  )
  assert np.isnan(nan).all()


def test_bad_input_names_the_argument():
  z = jnp.zeros(3)
  with pytest.raises(ValueError, match="beta"):
    preference.f_dpo_loss(z, z, z, z, divergence="kl", beta=0.0)
  with pytest.raises(ValueError, match="policy_rejected_logps"):
    preference.f_dpo_loss(z, jnp.zeros(2), z, jnp.zeros(2), divergence="kl", beta=0.1)
  with pytest.raises(ValueError, match="reference_chosen_logps"):
    preference.f_dpo_loss(z, z, jnp.zeros(2), z, divergence="kl", beta=0.1)


@pytest.mark.parametrize("name", ["kl", pytest.param("reverse_kl", marks=pytest.mark.slow), "js"])
def test_f_dpg_gradient_matches_the_exact_gradient_by_enumeration(name):
  """D_f(p || pi_theta) = sum_y pi(y) f(p(y) / pi(y)) on 6 outcomes, p known up to a
  constant: the self-normalised score-function surrogate over 2e5 policy samples has
  the exact gradient (and value) within Monte-Carlo error."""
  div = fd.get(name)
  logits = jnp.array([0.4, -0.3, 0.0, 1.0, -1.0, 0.2])
  log_p_tilde = jnp.array([1.0, 0.5, -0.5, 0.0, 2.0, -1.0]) + 3.0  # unnormalised
  log_p = jax.nn.log_softmax(log_p_tilde)

  def exact(theta):
    log_pi = jax.nn.log_softmax(theta)
    return jnp.sum(jnp.exp(log_pi) * div.f(log_p - log_pi))

  y = jax.random.categorical(jax.random.PRNGKey(1), logits, shape=(200_000,))

  def surrogate(theta):
    log_pi = jax.nn.log_softmax(theta)[y]
    return preference.f_dpg_loss(log_pi, log_p_tilde[y], divergence=div)

  value, grad = jax.value_and_grad(surrogate)(logits)
  np.testing.assert_allclose(value, exact(logits), rtol=0.02, atol=5e-3)
  np.testing.assert_allclose(grad, jax.grad(exact)(logits), atol=0.01)


def test_mass_covering_regularizer_is_the_forward_kl_from_initial_samples():
  """KL(pi_0 || pi) estimated at pi_0's samples, its value and gradient against the
  exact sums on 6 outcomes; JS against the registry's categorical JS."""
  init = jnp.array([0.4, -0.3, 0.0, 1.0, -1.0, 0.2])
  theta = jnp.array([2.0, -1.0, 0.0, -0.5, 0.3, 0.0])
  y = jax.random.categorical(jax.random.PRNGKey(2), init, shape=(200_000,))
  log0 = jax.nn.log_softmax(init)

  def estimate(theta, name):
    log_pi = jax.nn.log_softmax(theta)
    return preference.mass_covering_regularizer(log_pi[y], log0[y], divergence=name)

  def exact_kl(theta):
    return jnp.sum(jnp.exp(log0) * (log0 - jax.nn.log_softmax(theta)))

  np.testing.assert_allclose(estimate(theta, "kl"), exact_kl(theta), rtol=0.02)
  np.testing.assert_allclose(jax.grad(estimate)(theta, "kl"), jax.grad(exact_kl)(theta), atol=0.01)
  js = fd.categorical.f_divergence(init, theta, divergence="js")
  np.testing.assert_allclose(estimate(theta, "js"), js, rtol=0.03)
