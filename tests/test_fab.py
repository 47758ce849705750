"""FAB as a sampler object: the buffer fill, one step against its parts, learning a target."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from fdiv_jax import annealing, fab, flows
from fdiv_jax import metrics as M

MU = jnp.array([1.0, -2.0])
SD = jnp.array([0.5, 2.0])


def log_target(x):  # unnormalised: log Z = 1 + sum log(sd sqrt(2 pi))
  return jnp.sum(-0.5 * ((x - MU) / SD) ** 2, -1) + 1.0


LOG_Z = 1.0 + float(jnp.sum(jnp.log(SD * jnp.sqrt(2 * jnp.pi))))
FLOW = flows.real_nvp(2, num_layers=2, hidden=(16,), base_scale=1.0)


def sampler(**kw):
  kw = dict(batch_size=64, buffer_batches=8, fill_batches=3, num_levels=2, step_size=0.3) | kw
  return fab.fab(FLOW, log_target, optax.adam(1e-2), **kw)


def test_init_fills_the_buffer_and_adapts_step_sizes():
  s = sampler()
  state = jax.jit(s.init)(jax.random.PRNGKey(0), FLOW.init(jax.random.PRNGKey(1)))
  assert int(state.buffer.size) == 3 * 64 and int(state.step) == 0
  assert bool(jnp.all(jnp.isfinite(state.buffer.log_w[: 3 * 64])))
  assert bool(jnp.all(state.buffer.log_w[3 * 64 :] == -jnp.inf))
  # Three adaptations by a factor 1.02 either way.
  ratio = np.log(np.asarray(state.step_size) / 0.3) / np.log(1.02)
  assert np.all(np.isin(np.round(ratio), [-3, -1, 1, 3]))


def test_step_equals_its_parts():
  """One step is buffer_sample, AIS with the flow before the updates, fab_buffer_loss
  updates, buffer_adjust and buffer_add, written out here again."""
  s = sampler(updates_per_ais=2)
  opt = optax.adam(1e-2)
  state = s.init(jax.random.PRNGKey(0), FLOW.init(jax.random.PRNGKey(1)))
  key = jax.random.PRNGKey(7)
  new, info = jax.jit(s.step)(key, state)

  k_b, k_a = jax.random.split(key)
  x, lq_old, idx = annealing.buffer_sample(k_b, state.buffer, 128)
  k_s, k_ais, _ = jax.random.split(k_a, 3)
  x0, _ = FLOW.sample_and_log_prob(state.params, k_s, 64)
  res = annealing.ais(
    k_ais,
    x0,
    log_base=lambda y: FLOW.log_prob(state.params, y),
    log_target=log_target,
    betas=jnp.linspace(0.0, 1.0, 4),
    step_size=state.step_size,
    alpha=2.0,
  )
  params, opt_state, log_qs = state.params, state.opt_state, []
  for b in range(2):
    xb, lb = x[64 * b : 64 * (b + 1)], lq_old[64 * b : 64 * (b + 1)]

    def loss(p, xb=xb, lb=lb):
      lq = FLOW.log_prob(p, xb)
      return annealing.fab_buffer_loss(lq, lb, alpha=2.0)[0], lq

    (_, lq), g = jax.value_and_grad(loss, has_aux=True)(params)
    updates, opt_state = opt.update(g, opt_state, params)
    params = optax.apply_updates(params, updates)
    log_qs.append(lq)
  buffer = annealing.buffer_adjust(state.buffer, idx, jnp.concatenate(log_qs), alpha=2.0)
  buffer = annealing.buffer_add(buffer, res.samples, res.log_weights, res.log_base)
  chex.assert_trees_all_close(new.params, params, rtol=1e-5, atol=1e-6)
  chex.assert_trees_all_close(new.buffer, buffer, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(info.ais_ess, res.ess_fraction, rtol=1e-5)
  assert int(new.step) == 1


def test_fab_learns_a_gaussian_and_vmaps_over_seeds():
  s = sampler(updates_per_ais=4)

  def run(key):
    k_i, k_p, k_s = jax.random.split(key, 3)
    state = s.init(k_i, FLOW.init(k_p))
    state, infos = jax.lax.scan(lambda st, k: s.step(k, st), state, jax.random.split(k_s, 150))
    return state, infos

  keys = jax.random.split(jax.random.PRNGKey(3), 2)
  states, infos = jax.jit(jax.vmap(run))(keys)
  chex.assert_shape(infos.loss, (2, 150))
  one, _ = jax.jit(run)(keys[1])
  chex.assert_trees_all_close(jax.tree.map(lambda a: a[1], states.params), one.params, rtol=1e-4)
  for i in range(2):
    params = jax.tree.map(lambda a, i=i: a[i], states.params)
    x, lq = FLOW.sample_and_log_prob(params, jax.random.PRNGKey(9), 4000)
    lp = log_target(x)
    assert float(M.reverse_ess(lp, lq)) > 0.9
    assert abs(float(M.log_z_estimate(lp, lq)) - LOG_Z) < 0.02


def test_arguments_are_checked():
  with pytest.raises(ValueError, match="batch_size"):
    sampler(batch_size=0)
  with pytest.raises(ValueError, match="updates_per_ais"):
    sampler(updates_per_ais=9)
  with pytest.raises(ValueError, match="fill_batches"):
    sampler(fill_batches=-1)


def test_a_spoiled_buffer_row_reaches_neither_loss_nor_gradient_and_nan_params_show():
  """A buffer row whose x (or log q) is not finite gets weight 0, and its NaN partials do
  not reach the gradient (0 * NaN); parameters that do turn NaN make the loss NaN."""
  s = sampler()
  state = jax.jit(s.init)(jax.random.PRNGKey(0), FLOW.init(jax.random.PRNGKey(1)))
  buf = state.buffer
  # Every filled slot holds the same spoiled row except one: it is drawn for sure.
  spoiled = buf._replace(x=buf.x.at[: buf.size - 1].set(jnp.nan))
  new, info = jax.jit(s.step)(jax.random.PRNGKey(2), state._replace(buffer=spoiled))
  leaves = jax.tree.leaves(new.params)
  assert all(bool(jnp.all(jnp.isfinite(p))) for p in leaves)
  assert bool(jnp.isfinite(info.loss))
  nan_params = jax.tree.map(lambda p: jnp.full_like(p, jnp.nan), state.params)
  _, info = jax.jit(s.step)(jax.random.PRNGKey(3), state._replace(params=nan_params))
  assert bool(jnp.isnan(info.loss))
