"""The f-divergence registry: values, conjugates, weights, limits, extremes."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import ENTRIES, textbook_f, textbook_weight

import fdiv_jax as fd

ENTRIES_FOR_REVERSE = [e for e in ENTRIES if e[1] != "alpha" or e[2]["alpha"] not in (0.0, 1.0)]

F32_MAX = float(np.finfo(np.float32).max)
EXTREME = np.array([-80.0, -50.0, -10.0, -1.0, -1e-3, 0.0, 1e-3, 1.0, 10.0, 50.0, 80.0])


def _phi_derivs(div, l):
  """phi'(l), phi''(l) of phi(l) = f(e^l) by scalar autodiff."""
  d1 = jax.vmap(jax.grad(div.f))(l)
  d2 = jax.vmap(jax.grad(jax.grad(div.f)))(l)
  return d1, d2


def test_f_is_zero_at_one(entry):
  div, name, _ = entry
  expected = -math.log(4.0) if name == "gan" else 0.0
  np.testing.assert_allclose(div.f(0.0), expected, atol=1e-7)


def test_f_is_convex_in_u(entry):
  """Chords lie above the graph: f(t a + (1-t) b) <= t f(a) + (1-t) f(b)."""
  div, _, _ = entry
  rng = np.random.default_rng(0)
  la, lb = rng.uniform(-4, 4, (2, 2000))
  t = rng.uniform(0, 1, 2000)
  mid = np.log(t * np.exp(la) + (1 - t) * np.exp(lb))
  lhs = np.asarray(div.f(mid), np.float64)
  rhs = t * np.asarray(div.f(la)) + (1 - t) * np.asarray(div.f(lb))
  assert np.all(lhs <= rhs + 1e-5 * (1 + np.abs(rhs)))


def test_values_match_textbook_forms_to_the_extremes(entry):
  """Stable forms agree with float64 textbook forms; NaN never, inf only when
  the true value exceeds float32."""
  div, name, alpha = entry
  got = np.asarray(div.f(jnp.asarray(EXTREME, jnp.float32)), np.float64)
  want = textbook_f(name, EXTREME, alpha)
  assert not np.any(np.isnan(got)), got
  fits = np.abs(want) < F32_MAX / 2
  assert np.all(np.isfinite(got[fits])), (EXTREME[fits], got[fits])
  np.testing.assert_allclose(got[fits], want[fits], rtol=2e-4, atol=2e-6)
  assert np.all(np.abs(got[~fits]) > F32_MAX / 4)


def test_gradients_finite_at_extremes(entry):
  """d f / d log u: no NaN at |log u| <= 80; finite and right where representable."""
  div, name, alpha = entry
  grads = np.asarray(jax.vmap(jax.grad(div.f))(jnp.asarray(EXTREME, jnp.float32)), np.float64)
  assert not np.any(np.isnan(grads)), grads
  h = 1e-6 * np.maximum(1.0, np.abs(EXTREME))
  want = (textbook_f(name, EXTREME + h, alpha) - textbook_f(name, EXTREME - h, alpha)) / (2 * h)
  fits = np.abs(want) < F32_MAX / 2
  if name == "total_variation":  # |u - 1| has a kink at log u = 0
    fits &= EXTREME != 0.0
  assert np.all(np.isfinite(grads[fits]))
  np.testing.assert_allclose(grads[fits], want[fits], rtol=2e-3, atol=1e-5)


# Every finite float32, out to the ends of the range.
ANY_FINITE = np.array(
  [
    -3e38,
    -1e10,
    -1e4,
    -1e3,
    -200.0,
    -100.0,
    -89.0,
    -88.0,
    -30.0,
    0.0,
    30.0,
    88.0,
    89.0,
    100.0,
    200.0,
    1e3,
    1e4,
    1e10,
    3e38,
  ],
  np.float32,
)


def test_no_nan_for_any_finite_input(entry):
  """f, the f-GAN activation and the fused f*(g(v)): no NaN in values or input
  gradients for any finite float32 input (inf only where the true value
  overflows; the accuracy checks above cover where it fits). For the alpha
  family also with a traced order (the per-element formulas of vmap / grad
  over alpha)."""
  div, name, alpha = entry
  for traced in (False, True) if alpha is not None else (False,):
    _check_no_nan(div, alpha, traced)


def _check_no_nan(div, alpha, traced):
  x = jnp.asarray(ANY_FINITE)
  for field in ("f", "activation", "conjugate_of_activation"):
    if traced:
      fn = lambda v, a, field=field: getattr(fd.get("alpha", alpha=a), field)(v)
      args = (x, jnp.float32(alpha))
      values = jax.vmap(fn, (0, None))(*args)
      grads = jax.vmap(jax.grad(fn), (0, None))(*args)
    else:
      fn = getattr(div, field)
      values, grads = jax.vmap(fn)(x), jax.vmap(jax.grad(fn))(x)
    assert not np.any(np.isnan(values)), (field, traced, ANY_FINITE[np.isnan(values)])
    assert not np.any(np.isnan(grads)), (field, traced, ANY_FINITE[np.isnan(grads)])


def test_finite_where_the_true_value_fits_past_log_u_80():
  """alpha(3) f(30) = e^90 / 6 fits float32; gan f at log u = 89 is about -90; js f at
  89 is 3.1e38: finite where the true value fits."""
  l = np.array([30.0, 60.0, 85.0, 89.0])
  cases = [
    ("alpha", {"alpha": 3.0}, l),
    ("alpha", {"alpha": 2.0}, l),
    ("alpha", {"alpha": -1.0}, -l),
    ("alpha", {"alpha": 1.0}, l),
    ("alpha", {"alpha": 0.5}, l),
    ("gan", {}, l),
    ("js", {}, l),
    ("triangular", {}, l),
    ("kl", {}, l),
    ("squared_hellinger", {}, l),
  ]
  for name, params, ls in cases:
    div = fd.get(name, **params)
    got = np.asarray(div.f(jnp.asarray(ls, jnp.float32)), np.float64)
    want = textbook_f(name, ls, params.get("alpha"))
    fits = np.abs(want) < 0.99 * F32_MAX
    assert fits[0], (name, params)  # each case has at least one value that fits
    np.testing.assert_allclose(got[fits], want[fits], rtol=1e-4, err_msg=f"{name} {params}")
    assert np.all(np.abs(got[~fits]) > F32_MAX / 4)
    grads = np.asarray(jax.vmap(jax.grad(div.f))(jnp.asarray(ls, jnp.float32)))
    assert np.all(np.isfinite(grads[np.abs(want) < F32_MAX / 100])), (name, params, grads)


# f(0+) of each generator: the contribution of a sample outside P's support
# (log p = -inf is legal). alpha(a): 1 / a for a > 0, +inf for a <= 0.
F_AT_ZERO = {
  "kl": 0.0,
  "js": math.log(2.0),
  "gan": 0.0,
  "squared_hellinger": 1.0,
  "pearson": 1.0,
  "total_variation": 0.5,
  "triangular": 1.0,
  "reverse_kl": math.inf,
  "neyman": math.inf,
  "jeffreys": math.inf,
}


def test_value_and_gradient_at_u_zero(entry):
  """log u = -inf gives f(0+), never NaN; where f(0+) is finite the gradient is
  its limit u f'(u) -> 0 (a masked class or an out-of-support sample adds
  nothing to the gradient)."""
  div, name, alpha = entry
  want = F_AT_ZERO.get(name, (1.0 / alpha) if alpha is not None and alpha > 0 else math.inf)
  l = jnp.asarray(-jnp.inf, jnp.float32)
  got = float(div.f(l))
  np.testing.assert_allclose(got, want, rtol=1e-5)
  if math.isfinite(want):
    assert float(jax.grad(div.f)(l)) == 0.0
    # The same as at a finite log u where u (and u^alpha) underflow to 0.
    np.testing.assert_allclose(got, float(div.f(jnp.float32(-1e30))), rtol=1e-6)


def test_weight_matches_autodiff_of_f(entry):
  """h(r) = r^2 f''(r) = phi''(l) - phi'(l) with phi(l) = f(e^l)."""
  div, name, alpha = entry
  if not div.has_weight:
    with pytest.raises(ValueError, match="no f-distill weight"):
      div.weight(0.0)
    return
  l = jnp.linspace(-8.0, 8.0, 161)
  d1, d2 = _phi_derivs(div, l)
  # phi'' - phi' cancels in float32: compare relative to the terms' scale.
  err = np.abs(np.asarray(div.weight(l)) - np.asarray(d2 - d1))
  assert np.all(err <= 2e-3 * (np.abs(d1) + np.abs(d2)) + 1e-5)
  # And against the textbook weight at the extremes, with finite gradients.
  got = np.asarray(div.weight(jnp.asarray(EXTREME, jnp.float32)), np.float64)
  want = textbook_weight(name, EXTREME, alpha)
  fits = want < F32_MAX / 2
  np.testing.assert_allclose(got[fits], want[fits], rtol=2e-4, atol=1e-30)
  g = jax.vmap(jax.grad(div.weight))(jnp.asarray(EXTREME, jnp.float32))
  assert not np.any(np.isnan(np.asarray(g)))


def test_f_prime_at_one_matches_autodiff(entry):
  div, _, _ = entry
  if div.name == "total_variation":
    assert float(div.f_prime_at_one) == 0.0  # subgradient midpoint
    return
  np.testing.assert_allclose(div.f_prime_at_one, jax.grad(div.f)(0.0), atol=1e-6)


def _numeric_conjugate(div, t):
  """sup_u t u - f(u) over a fine grid of log u."""
  l = jnp.linspace(-12.0, 12.0, 24001)
  obj = t[:, None] * jnp.exp(l)[None, :] - div.f(l)[None, :]
  return jnp.max(obj, axis=1), l[jnp.argmax(obj, axis=1)]


def test_conjugate_matches_numeric_sup(entry):
  div, _, _ = entry
  # t = f'(u) for u in [e^-4, e^4] lies inside dom f* with the sup inside the grid.
  l = jnp.linspace(-4.0, 4.0, 17)
  t = jax.vmap(jax.grad(div.f))(l) * jnp.exp(-l)
  if div.name == "total_variation":
    t = jnp.linspace(-0.49, 0.49, 17)  # f' is a sign; use the interior of dom f*
  want, _ = _numeric_conjugate(div, t)
  got = div.conjugate(t)
  np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)


def test_conjugate_of_activation_is_fused_composition(entry):
  div, _, _ = entry
  v = jnp.linspace(-6.0, 6.0, 121)
  fused = div.conjugate_of_activation(v)
  composed = div.conjugate(div.activation(v))
  ok = np.isfinite(np.asarray(composed))
  assert ok.mean() > 0.8
  np.testing.assert_allclose(fused[ok], composed[ok], rtol=2e-4, atol=2e-5)
  # The fused form stays finite (no NaN) where the composition breaks down.
  for fn in (div.conjugate_of_activation, div.activation):
    big = jnp.array([-80.0, -40.0, 40.0, 80.0])
    vals = np.asarray(fn(big))
    assert not np.any(np.isnan(vals))
    assert not np.any(np.isnan(np.asarray(jax.vmap(jax.grad(fn))(big))))


def test_activation_maps_into_domain(entry):
  div, _, _ = entry
  # Moderate range: saturating activations round onto the edge of dom f* in
  # float32 far out, which is why the fused form exists.
  v = jnp.linspace(-5.0, 5.0, 101)
  assert np.all(np.isfinite(np.asarray(div.conjugate(div.activation(v)))))


@pytest.mark.parametrize("eps", [1e-7, 1e-5, 9e-4, 1.1e-3, 1e-2])
@pytest.mark.parametrize("sign", [-1.0, 1.0])
def test_alpha_limits_agree_with_kl_and_reverse_kl(eps, sign):
  """alpha -> 1 gives u log u - u + 1; alpha -> 0 gives -log u + u - 1.

  Across the switch to the Taylor branch (1e-3) the family stays continuous.
  """
  l = jnp.linspace(-10.0, 10.0, 201)
  u = np.exp(np.asarray(l, np.float64))
  kl = fd.get("kl").f(l) - jnp.expm1(l)
  rkl = fd.get("reverse_kl").f(l) + jnp.expm1(l)
  near1 = fd.get("alpha", alpha=1.0 + sign * eps).f(l)
  near0 = fd.get("alpha", alpha=sign * eps).f(l)
  for got, limit, a in ((near1, kl, 1 + sign * eps), (near0, rkl, sign * eps)):
    assert np.all(np.isfinite(np.asarray(got)))
    exact = textbook_f("alpha", l, a)
    np.testing.assert_allclose(got, exact, rtol=2e-3, atol=1e-5)
    # distance to the limit shrinks linearly in eps (|d f / d alpha| bound)
    scale = np.abs(np.log(u)) ** 3 * (u + 1) + 1
    assert np.all(np.abs(np.asarray(got) - np.asarray(limit)) <= 2 * eps * scale + 1e-5)
  # Gradients w.r.t. both log u and alpha are finite at the exact limits.
  for a0 in (0.0, 1.0):
    g = jax.grad(lambda a, x: fd.get("alpha", alpha=a).f(x).sum(), argnums=(0, 1))(
      jnp.float32(a0), l
    )
    chex.assert_tree_all_finite(g)


def test_alpha_special_cases():
  l = jnp.linspace(-5.0, 5.0, 101)
  np.testing.assert_allclose(
    fd.get("alpha", alpha=2.0).f(l), 0.5 * fd.get("pearson").f(l), rtol=1e-4, atol=1e-6
  )
  np.testing.assert_allclose(
    fd.get("alpha", alpha=0.5).f(l), 2.0 * fd.get("squared_hellinger").f(l), rtol=1e-4, atol=1e-6
  )


def test_alpha_is_traced_vmap_equals_loop_and_no_retrace():
  alphas = jnp.array([-1.0, 0.0, 0.3, 1.0, 2.5])
  l = jnp.linspace(-3.0, 3.0, 11)

  @jax.jit
  @chex.assert_max_traces(n=1)
  def f(alpha, l):
    d = fd.get("alpha", alpha=alpha)
    return d.f(l), d.weight(l), d.conjugate_of_activation(l)

  batched = jax.vmap(f, in_axes=(0, None))(alphas, l)
  for i, a in enumerate(alphas):
    looped = f(a, l)
    chex.assert_trees_all_close(jax.tree.map(lambda x: x[i], batched), looped, rtol=1e-6, atol=1e-6)
  for a in (0.1, 0.7, 1.9):  # new values reuse the compiled function
    f(jnp.float32(a), l)


def test_divergence_is_a_pytree_through_jit():
  div = fd.get("alpha", alpha=0.3)
  leaves = jax.tree.leaves(div)
  assert len(leaves) == 1

  @jax.jit
  def g(d, l):
    return d.f(l)

  l = jnp.linspace(-2.0, 2.0, 5)
  chex.assert_trees_all_close(g(div, l), div.f(l))
  chex.assert_trees_all_close(g(fd.get("js"), l), fd.get("js").f(l))


def test_jit_equals_eager(entry):
  div, _, _ = entry
  l = jnp.linspace(-20.0, 20.0, 41)
  for fn in (div.f, div.activation, div.conjugate_of_activation):
    chex.assert_trees_all_close(jax.jit(fn)(l), fn(l), rtol=1e-6)


def test_unknown_name_lists_valid_names():
  with pytest.raises(ValueError, match="unknown divergence 'kll'.*reverse_kl"):
    fd.get("kll")


def test_bad_parameters():
  with pytest.raises(TypeError, match="unexpected parameters"):
    fd.get("kl", alpha=0.5)
  with pytest.raises(ValueError, match="alpha must be finite"):
    fd.get("alpha", alpha=float("nan"))
  with pytest.raises(TypeError, match="only be given with a divergence name"):
    fd.divergences.resolve(fd.get("kl"), alpha=1.0)
  # No silent default order, and no array of orders paired with the samples.
  with pytest.raises(ValueError, match="divergence 'alpha' needs alpha"):
    fd.get("alpha")
  with pytest.raises(ValueError, match="alpha must be a scalar, got shape \\(2,\\).*vmap"):
    fd.get("alpha", alpha=[0.5, 2.0])
  assert float(fd.get("alpha", alpha=[0.5][0]).params["alpha"]) == 0.5


def test_available_and_repr():
  names = fd.available()
  for required in (
    "kl",
    "reverse_kl",
    "js",
    "gan",
    "squared_hellinger",
    "pearson",
    "neyman",
    "total_variation",
    "jeffreys",
    "triangular",
    "alpha",
  ):
    assert required in names
  assert "alpha" in repr(fd.get("alpha", alpha=2.0))


def test_from_generator_derives_everything_from_f():
  kl = fd.get("kl")
  custom = fd.from_generator(lambda l: jnp.exp(l) * l, name="my_kl")
  l = jnp.linspace(-6.0, 6.0, 49)
  np.testing.assert_allclose(custom.weight(l), kl.weight(l), rtol=1e-5)
  np.testing.assert_allclose(custom.f_prime_at_one, 1.0, atol=1e-6)
  t = jnp.linspace(-3.0, 3.0, 13)
  np.testing.assert_allclose(custom.conjugate(t), kl.conjugate(t), rtol=1e-4, atol=1e-6)
  # Derived activation is f'(e^v) = v + 1 and f*(g(v)) = e^v.
  np.testing.assert_allclose(custom.activation(l), l + 1.0, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(custom.conjugate_of_activation(l), jnp.exp(l), rtol=1e-5)
  # Conjugate gradient is u* = (f')^{-1}(t) = e^{t - 1} (envelope theorem).
  np.testing.assert_allclose(jax.vmap(jax.grad(custom.conjugate))(t), jnp.exp(t - 1.0), rtol=1e-4)
  with pytest.raises(TypeError, match="f must be callable"):
    fd.from_generator(3.0)


def test_from_generator_respects_given_pieces():
  hel = fd.get("squared_hellinger")
  custom = fd.from_generator(
    lambda l: jnp.square(jnp.expm1(0.5 * l)),
    conjugate=lambda t: t / (1.0 - t),
    activation=lambda v: -jnp.expm1(-v),
  )
  v = jnp.linspace(-3.0, 3.0, 13)
  np.testing.assert_allclose(
    custom.conjugate_of_activation(v), hel.conjugate_of_activation(v), rtol=1e-5
  )


def test_lambertw_exp():
  s = jnp.array([-50.0, -5.0, -1.0, 0.0, 1.0, 3.0, 20.0, 500.0])
  w = fd.math.lambertw_exp(s)
  np.testing.assert_allclose(w + jnp.log(w), s, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(jax.vmap(jax.grad(fd.math.lambertw_exp))(s), w / (1 + w), rtol=1e-5)


def test_records_do_not_retrace_jit():
  """Records are pytrees whose metadata are shared functions: new records of
  the same entry (or another alpha) reuse the compiled function."""

  @jax.jit
  @chex.assert_max_traces(n=2)
  def g(d, l):
    return d.f(l) + d.conjugate_of_activation(l)

  l = jnp.linspace(-1.0, 1.0, 5)
  for _ in range(3):
    g(fd.get("kl"), l)
  for a in (0.2, 0.5, 3.0):
    g(fd.get("alpha", alpha=a), l)


@pytest.mark.parametrize("entry_id", [e[0] for e in ENTRIES_FOR_REVERSE])
def test_reversed_is_the_csiszar_dual(entry_id):
  """u f(1/u) == f_reversed(u), and reversing twice is the identity."""
  _, name, params = next(e for e in ENTRIES_FOR_REVERSE if e[0] == entry_id)
  div = fd.get(name, **params)
  l = jnp.linspace(-6.0, 6.0, 25)
  want = jnp.exp(l) * div.f(-l)
  np.testing.assert_allclose(div.reversed().f(l), want, rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(div.reversed().reversed().f(l), div.f(l), rtol=1e-4, atol=1e-5)
  custom = fd.from_generator(div.f)
  np.testing.assert_allclose(custom.reversed().f(l), want, rtol=1e-4, atol=1e-5)


# alpha < 0: u^alpha = inf there
@pytest.mark.parametrize("alpha", [0.0, 1e-5, 5e-4, 0.5, 1.0 - 1e-4, 1.0, 1.0 + 5e-4, 2.0, 3.0])
def test_alpha_finite_and_exact_at_extreme_negative_log_ratio(alpha):
  # Regressions: the unselected alpha -> 1 branch overflowed (l^2 u = inf * 0)
  # and turned the gradient into NaN at log u = -1e20 (found by
  # benchmarks/divergences_vs_tfp.py; TFP's amari_alpha stays finite there);
  # the alpha -> 0 expansion was used where |alpha log u| is not small
  # (alpha = 5e-4, log u = -1e6: -2.5e8 instead of 1 / alpha = 2000).
  div = fd.get("alpha", alpha=alpha)
  for log_u in (-1e3, -1e6, -1e10, -1e20, -1e30):
    value, grad = jax.value_and_grad(lambda l: div.f(l))(jnp.float32(log_u))
    assert np.isfinite(value) and np.isfinite(grad), (alpha, log_u, value, grad)
    if alpha == 0.0:
      want = -log_u - 1.0  # u - 1 - log u at u = 0
    elif alpha == 1.0:
      want = 1.0  # u log u - u + 1 at u = 0
    else:
      with np.errstate(over="ignore"):
        want = (np.expm1(alpha * log_u) - alpha * np.expm1(log_u)) / (alpha * (alpha - 1.0))
    np.testing.assert_allclose(float(value), want, rtol=1e-5, err_msg=str((alpha, log_u)))
    traced = jax.jit(lambda l, a: fd.get("alpha", alpha=a).f(l))(
      jnp.float32(log_u), jnp.float32(alpha)
    )
    np.testing.assert_allclose(float(traced), float(value), rtol=1e-6)


def test_spec_strings():
  """``get("alpha:2")`` is ``get("alpha", alpha=2.0)``; bad specs name the problem."""
  a = fd.get("alpha:2")
  np.testing.assert_allclose(
    a.f(jnp.array([0.3, -1.0])), fd.get("alpha", alpha=2.0).f(jnp.array([0.3, -1.0]))
  )
  assert fd.divergences.resolve("alpha:-1").params["alpha"] == -1.0
  for spec, match in (
    ("js:2", "takes no parameter"),
    ("alpha:x", "is not a number"),
    ("foo:1", "unknown divergence 'foo'"),
  ):
    with pytest.raises(ValueError, match=match):
      fd.get(spec)
  with pytest.raises(TypeError, match="already gives"):
    fd.get("alpha:2", alpha=3.0)


def test_gradient_needs_normalizer_says_whether_an_unknown_z_moves_the_gradient(entry):
  """The reparameterised gradient of E_q[f(Z p / q)] in q's mean is the same for Z = 1 and
  Z = e^2 exactly when the record says the normaliser is not needed (reverse KL)."""
  div, _, _ = entry
  eps = jax.random.normal(jax.random.PRNGKey(0), (4096,))

  def grad(log_z):
    def loss(m):
      x = m + eps
      log_q = -0.5 * eps**2
      log_p = -0.5 * (x - 0.7) ** 2 + log_z
      return jnp.mean(div.f(log_p - log_q))

    return float(jax.grad(loss)(0.2))

  same = np.isclose(grad(0.0), grad(2.0), rtol=1e-5, atol=1e-6)
  assert same == (not div.gradient_needs_normalizer), (div.name, grad(0.0), grad(2.0))


def test_records_carry_alpha_order_and_scale_free_gradient():
  assert float(fd.get("kl").alpha_order) == 1.0 and float(fd.get("reverse_kl").alpha_order) == 0.0
  assert float(fd.get("alpha:2").alpha_order) == 2.0 and fd.get("js").alpha_order is None
  assert float(fd.get("alpha", alpha=0.5).reversed().alpha_order) == 0.5
  assert fd.get("reverse_kl").scale_free_gradient and not fd.get("kl").scale_free_gradient
  # Derived from f for user generators: -2 log u is scale free, u log u and -log u + u are not.
  assert fd.divergences.from_generator(lambda l: -2.0 * l, name="neg2log").scale_free_gradient
  for f in (lambda l: jnp.exp(l) * l, lambda l: -l + jnp.expm1(l)):
    div = fd.divergences.from_generator(f, name="user")
    assert not div.scale_free_gradient and div.gradient_needs_normalizer
  with pytest.raises(ValueError, match="alpha-divergence"):
    fd.annealing.alpha_of("js")


@pytest.mark.parametrize("alpha", [1 - 1e-4, 1 + 3e-6, 1e-4, 2e-6, 1 - 2e-3])
def test_alpha_near_its_limits_is_accurate_in_float64(alpha):
  """float64 uses float64 windows for the expansions at orders 0 and 1 (relative error
  below 1e-9 against extended precision; the float32 windows left 1e-5)."""
  l = np.array([-5.0, -1.0, -0.1, 0.3, 2.0, 6.0])
  a, u = np.longdouble(alpha), np.exp(np.asarray(l, np.longdouble))
  want = np.asarray((u**a - 1 - a * (u - 1)) / (a * (a - 1)), np.float64)
  with jax.enable_x64(True):
    got = fd.get("alpha", alpha=alpha).f(jnp.asarray(l))
    traced = jax.jit(lambda a: fd.get("alpha", alpha=a).f(jnp.asarray(l)))(alpha)
    assert got.dtype == jnp.float64
  np.testing.assert_allclose(got, want, rtol=1e-9)
  np.testing.assert_allclose(traced, want, rtol=1e-9)
