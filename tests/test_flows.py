"""fdiv_jax.flows: RealNVP and spline flows, their masks and FlowDistribution."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fdiv_jax import flows

KEY = jax.random.PRNGKey(0)
FLOWS = {
  "real_nvp": lambda d: flows.real_nvp(d, num_layers=4, hidden=(16,), base_scale=1.5),
  "spline": lambda d: flows.spline_flow(
    d, num_layers=4, hidden=(16,), num_bins=5, bound=6.0, base_scale=1.5
  ),
  "real_nvp_binary_masks": lambda d: flows.real_nvp(
    d, num_layers=4, hidden=(16,), base_scale=1.5, masks="binary"
  ),
}


def jitted_sample(flow):
  """``flow.sample_and_log_prob`` compiled (op-by-op flows cost minutes of dispatch)."""
  return jax.jit(flow.sample_and_log_prob, static_argnums=2)


def perturbed(flow, scale=0.1):
  p = flow.init(KEY)
  leaves, tree = jax.tree.flatten(p)
  keys = jax.random.split(jax.random.fold_in(KEY, 9), len(leaves))
  return jax.tree.unflatten(
    tree, [l + scale * jax.random.normal(k, l.shape) for l, k in zip(leaves, keys)]
  )


@pytest.mark.parametrize("name", FLOWS)
def test_flow_starts_at_identity(name):
  flow = FLOWS[name](3)
  p = flow.init(KEY)
  x, log_q = flow.sample_and_log_prob(p, KEY, 7)
  base = jax.scipy.stats.norm.logpdf(x, scale=1.5).sum(-1)
  np.testing.assert_allclose(log_q, base, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", FLOWS)
def test_log_prob_inverts_sampling_and_matches_change_of_variables(name):
  flow = FLOWS[name](4)
  p = perturbed(flow)
  x, log_q = jitted_sample(flow)(p, KEY, 16)
  np.testing.assert_allclose(jax.jit(flow.log_prob)(p, x), log_q, rtol=1e-4, atol=1e-4)
  # Density integrates to ~1 in 2-D on a grid.
  flow2 = FLOWS[name](2)
  p2 = perturbed(flow2)
  g = jnp.linspace(-12, 12, 161)
  xx, yy = jnp.meshgrid(g, g)
  mass = (
    jnp.exp(jax.jit(flow2.log_prob)(p2, jnp.stack([xx.ravel(), yy.ravel()], -1))).sum()
    * (g[1] - g[0]) ** 2
  )
  np.testing.assert_allclose(mass, 1.0, atol=2e-2)


@pytest.mark.parametrize("name", FLOWS)
def test_flow_jit_and_gradients(name):
  flow = FLOWS[name](2)
  p = perturbed(flow)
  f = lambda p, k: flow.sample_and_log_prob(p, k, 8)
  chex.assert_trees_all_close(jax.jit(f)(p, KEY), f(p, KEY), rtol=1e-5, atol=1e-5)
  g = jax.grad(lambda p: -flow.sample_and_log_prob(p, KEY, 32)[1].mean())(p)
  chex.assert_tree_all_finite(g)
  with pytest.raises(ValueError, match="last axis of size 2"):
    flow.log_prob(p, jnp.zeros((3, 5)))
  with pytest.raises(ValueError, match="dim must be >= 2"):
    flows.real_nvp(1)


@pytest.mark.parametrize("dim", [2, 3, 10, 32])
def test_binary_masks_condition_every_coordinate_on_every_other(dim):
  bits = max(1, (dim - 1).bit_length())
  masks = np.asarray(flows._coupling._masks(dim, 2 * bits, "binary"))
  # kept_before[i, j]: some layer keeps i and transforms j (j conditioned on i).
  kept_before = np.einsum("li,lj->ij", masks, ~masks) > 0
  assert kept_before[~np.eye(dim, dtype=bool)].all()
  assert np.all(masks[0::2] == ~masks[1::2])
  parity = np.asarray(flows._coupling._masks(dim, 2 * bits, "parity"))
  np.testing.assert_array_equal(masks[:2], parity[:2])  # bit 0 is parity
  if dim >= 3:  # parity never conditions x_2 on x_0 (both even); binary does
    assert not (np.einsum("li,lj->ij", parity, ~parity) > 0)[0, 2]
  with pytest.raises(ValueError, match="masks must be one of"):
    flows.spline_flow(dim, masks="random")


def test_marginal_spline_layer_identity_inverse_and_gradients():
  """real_nvp(..., marginal_bins=K): identity at init, exact inverse, finite gradients."""
  flow = flows.real_nvp(
    3, num_layers=2, hidden=(8,), base_scale=1.5, marginal_bins=6, marginal_bound=6.0
  )
  p = flow.init(KEY)
  sample = jitted_sample(flow)
  x, log_q = sample(p, KEY, 16)
  np.testing.assert_allclose(
    log_q, jax.scipy.stats.norm.logpdf(x, scale=1.5).sum(-1), rtol=1e-5, atol=1e-5
  )
  p = perturbed(flow, scale=0.5)
  x, log_q = sample(p, KEY, 16)
  np.testing.assert_allclose(jax.jit(flow.log_prob)(p, x), log_q, rtol=1e-4, atol=1e-4)
  g = jax.jit(jax.grad(lambda p: -flow.sample_and_log_prob(p, KEY, 32)[1].mean()))(p)
  chex.assert_tree_all_finite(g)
  with pytest.raises(ValueError, match="marginal_bins"):
    flows.real_nvp(3, marginal_bins=-1)


def test_compile_cost_flat_in_depth():
  """Layers run under lax.scan: the jaxpr does not grow with depth."""
  sizes = []
  for layers in (2, 16):
    flow = flows.real_nvp(2, num_layers=layers, hidden=(8,))
    p = flow.init(KEY)
    sizes.append(len(str(jax.make_jaxpr(lambda p: flow.sample_and_log_prob(p, KEY, 4))(p))))
  assert sizes[1] < 1.05 * sizes[0]


def test_linear_skip_starts_at_identity_inverts_and_extrapolates_linearly():
  """``real_nvp(..., linear_skip=True)``: the identity at init, an exact inverse, and a
  log-scale linear in the conditioning coordinate far past any data (the linear path is
  outside the ``scale_max * tanh`` bound, as Neal's funnel needs)."""
  flow = flows.real_nvp(3, num_layers=2, hidden=(8,), base_scale=1.5, linear_skip=True)
  p = flow.init(KEY)
  assert "linear_skip" in p["params"]
  x, log_q = flow.sample_and_log_prob(p, KEY, 7)
  np.testing.assert_allclose(log_q, jax.scipy.stats.norm.logpdf(x, scale=1.5).sum(-1), rtol=1e-5)
  p = perturbed(flow)
  x, log_q = jitted_sample(flow)(p, KEY, 16)
  np.testing.assert_allclose(jax.jit(flow.log_prob)(p, x), log_q, rtol=1e-4, atol=1e-4)
  # Only the linear path, with slope 0.5 from x_0 to the log-scale of x_1: log q of
  # (t, 0, 0) falls by the log-scale a(t) = t / 2 (the log-det), however far out t is
  # and although scale_max = 3.
  skip = jax.tree.map(jnp.zeros_like, p)
  kernel = skip["params"]["linear_skip"]["kernel"]  # [layers, kept dims, dim * 2]
  skip["params"]["linear_skip"]["kernel"] = kernel.at[0, 0, 3].set(0.5)  # x_0 -> a(x_1)
  t = jnp.array([0.0, 10.0, 20.0])
  pts = jnp.stack([t, jnp.zeros(3), jnp.zeros(3)], -1)
  lq = flow.log_prob(skip, pts) - jax.scipy.stats.norm.logpdf(t, scale=1.5)
  np.testing.assert_allclose(lq - lq[0], -0.5 * np.asarray(t), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("make", [flows.real_nvp, flows.spline_flow])
def test_squash_inputs_feeds_conditioners_arcsinh_and_inverts(make):
  """``squash_inputs=True``: every conditioner sees ``arcsinh(x_kept)`` (so a one-layer
  flow with the same parameters equals the raw-input flow whose kept coordinate is
  pre-squashed), the flow is still the identity at init, and still exactly invertible."""
  flow = make(2, num_layers=1, hidden=(8,), squash_inputs=True)
  raw = make(2, num_layers=1, hidden=(8,))
  p = flow.init(KEY)
  x, log_q = flow.sample_and_log_prob(p, KEY, 5)
  np.testing.assert_allclose(log_q, jax.scipy.stats.norm.logpdf(x).sum(-1), rtol=1e-5)
  p = perturbed(flow)
  # Layer 0 keeps x_0 (parity) and transforms x_1 conditioned on it.
  x = jnp.array([[30.0, 2.0], [-8.0, -1.0], [0.5, 0.3]])
  squashed_kept = x.at[:, 0].set(jnp.arcsinh(x[:, 0]))
  log_det_sq = flow.log_prob(p, x) - jax.scipy.stats.norm.logpdf(x[:, 0])
  log_det_raw = raw.log_prob(p, squashed_kept) - jax.scipy.stats.norm.logpdf(squashed_kept[:, 0])
  # Same transform of x_1 given the conditioner's input: equal log q(x_1 | x_0) terms.
  np.testing.assert_allclose(log_det_sq, log_det_raw, rtol=1e-5, atol=1e-4)
  assert not np.allclose(raw.log_prob(p, x), flow.log_prob(p, x))
  deep = make(4, num_layers=4, hidden=(8,), squash_inputs=True, masks="binary")
  p = perturbed(deep)
  x, log_q = jitted_sample(deep)(p, KEY, 16)
  np.testing.assert_allclose(jax.jit(deep.log_prob)(p, x), log_q, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("make", ["real_nvp", "spline_flow"])
def test_flow_distribution_samples_scores_saves_and_loads(make, tmp_path):
  flow = getattr(flows, make)(3, num_layers=2, hidden=(8,))
  params = flow.init(jax.random.PRNGKey(0))
  # Move away from the identity so that a wrong reload would show.
  params = jax.tree_util.tree_map(
    lambda p: p + 0.1 * jax.random.normal(jax.random.PRNGKey(1), p.shape), params
  )
  dist = flows.FlowDistribution(flow, params)
  x, log_q = dist.sample_and_log_prob(jax.random.PRNGKey(2), 5)
  chex.assert_shape(x, (5, 3))
  np.testing.assert_allclose(dist.log_prob(x), log_q, rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(dist.sample(jax.random.PRNGKey(2), 5), x)
  dist.save(str(tmp_path / "flow"))
  again = flows.FlowDistribution.load(str(tmp_path / "flow"))
  assert again.flow.config == flow.config and hash(again.flow.config) == hash(flow.config)
  np.testing.assert_allclose(again.log_prob(x), dist.log_prob(x), rtol=1e-6)
  # A pytree of its parameters: through jit and grad; a base for AIS as it is.
  g = jax.grad(lambda d: jnp.sum(d.log_prob(x)))(dist)
  assert isinstance(g, flows.FlowDistribution)
  np.testing.assert_allclose(jax.jit(lambda d: d.log_prob(x))(dist), dist.log_prob(x), rtol=1e-5)
  import fdiv_jax as fd

  res = fd.annealing.ais(
    jax.random.PRNGKey(3),
    x,
    log_base=dist.log_prob,
    log_target=lambda y: -0.5 * jnp.sum(y**2, -1),
    betas=jnp.linspace(0.0, 1.0, 3),
  )
  assert bool(jnp.all(jnp.isfinite(res.log_weights)))
  with pytest.raises(FileNotFoundError, match="holds no saved flow"):
    flows.FlowDistribution.load(str(tmp_path / "missing"))
  with pytest.raises(ValueError, match="flow.config is None"):
    flows.FlowDistribution(flow._replace(config=None), params).save(str(tmp_path / "x"))


def test_circular_coordinates_stay_on_the_circle_invert_and_normalise():
  """A spline flow on R x [-pi, pi): samples of the circular coordinate stay in
  [-pi, pi), log_prob inverts sampling, the density integrates to 1 over the cylinder, is
  continuous across the wrap at +-pi (periodic conditioner, circular spline) and is -inf
  outside the circle."""
  flow = flows.spline_flow(2, num_layers=2, hidden=(16,), num_bins=5, bound=6.0, circular=(1,))
  p = perturbed(flow, scale=0.3)
  x, log_q = jitted_sample(flow)(p, KEY, 256)
  assert np.all((x[:, 1] >= -np.pi) & (x[:, 1] < np.pi))
  log_prob = jax.jit(flow.log_prob)
  np.testing.assert_allclose(log_prob(p, x), log_q, rtol=1e-4, atol=1e-4)
  u = jnp.linspace(-8, 8, 321)
  v = jnp.linspace(-np.pi, np.pi, 201)[:-1]  # the periodic trapezoid rule
  uu, vv = jnp.meshgrid(u, v)
  density = jnp.exp(log_prob(p, jnp.stack([uu.ravel(), vv.ravel()], -1)))
  mass = density.sum() * (u[1] - u[0]) * (v[1] - v[0])
  np.testing.assert_allclose(mass, 1.0, atol=2e-3)
  # Continuity across the wrap, in float64 and where the conditioners' outputs are moderate
  # (far out in u the random parameters make bins of width ~1e-5 next to the boundary).
  with jax.enable_x64(True):
    p64 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), p)
    w = jnp.linspace(-2.0, 2.0, 41, dtype=jnp.float64)
    ends = [jnp.stack([w, jnp.full_like(w, s)], -1) for s in (-np.pi, np.pi - 1e-9)]
    below, above = (jax.jit(flow.log_prob)(p64, e) for e in ends)
    np.testing.assert_allclose(below, above, atol=1e-3)
  assert np.all(np.isneginf(log_prob(p, jnp.array([[0.0, 3.2], [0.0, -3.2]]))))
  # Not the base: the parameters moved the circular marginal away from uniform.
  assert np.ptp(np.asarray(below)) > 0.1
  g = jax.grad(lambda q: log_prob(q, x).mean())(p)
  assert all(np.isfinite(l).all() for l in jax.tree.leaves(g))


def test_circular_indices_are_checked_and_recorded():
  with pytest.raises(ValueError, match="circular must be distinct indices"):
    flows.spline_flow(3, circular=(3,))
  flow = flows.spline_flow(3, num_layers=2, hidden=(8,), circular=[2, 0])
  assert dict(flow.config.options)["circular"] == (2, 0)  # as given
  assert flows.make(flow.config).config == flow.config
