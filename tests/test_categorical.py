"""Categorical f-divergences and KD losses from logits."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import textbook_f
from scipy.special import log_softmax

import fdiv_jax as fd
from fdiv_jax import categorical

KEY = jax.random.PRNGKey(0)
ZP = jax.random.normal(KEY, (6, 5)) * 2
ZQ = jax.random.normal(jax.random.fold_in(KEY, 1), (6, 5)) * 2
NAMES = [
  "kl",
  "reverse_kl",
  "js",
  "total_variation",
  "squared_hellinger",
  "pearson",
  "jeffreys",
  "triangular",
  "gan",
]


def reference(zp, zq, name, alpha=None, t=1.0):
  lp = log_softmax(np.asarray(zp, np.float64) / t, axis=-1)
  lq = log_softmax(np.asarray(zq, np.float64) / t, axis=-1)
  return (np.exp(lq) * textbook_f(name, lp - lq, alpha)).sum(-1)


@pytest.mark.parametrize("name", NAMES)
def test_matches_dense_reference(name):
  got = categorical.f_divergence(ZP, ZQ, divergence=name, temperature=1.5)
  np.testing.assert_allclose(got, reference(ZP, ZQ, name, t=1.5), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("alpha", [-0.5, 0.0, 0.5, 1.0, 2.0])
def test_alpha_matches_reference(alpha):
  got = categorical.f_divergence(ZP, ZQ, divergence=fd.get("alpha", alpha=alpha))
  np.testing.assert_allclose(got, reference(ZP, ZQ, "alpha", alpha), rtol=1e-4, atol=1e-6)


def test_kl_closed_form_and_direction():
  p = jax.nn.softmax(ZP)
  q = jax.nn.softmax(ZQ)
  kl_pq = jnp.sum(p * (jnp.log(p) - jnp.log(q)), -1)
  np.testing.assert_allclose(categorical.f_divergence(ZP, ZQ, divergence="kl"), kl_pq, rtol=1e-5)
  np.testing.assert_allclose(
    categorical.f_divergence(ZQ, ZP, divergence="reverse_kl"), kl_pq, rtol=1e-5
  )


@pytest.mark.parametrize(
  "name", ["kl", "reverse_kl", "js", "total_variation", "squared_hellinger", "triangular"]
)
def test_finite_values_and_gradients_at_logits_1e4(name):
  zs = jnp.array([[1e4, -1e4, 0.0, 3.0], [-1e4, 1e4, 5e3, 0.0]])
  zt = jnp.array([[-1e4, 1e4, 0.0, 1.0], [1e4, -1e4, 0.0, -5e3]])
  val = categorical.kd_loss(zs, zt, divergence=name, temperature=1.0)
  grad = jax.grad(lambda z: categorical.kd_loss(z, zt, divergence=name))(zs)
  chex.assert_tree_all_finite((val, grad))
  assert float(val) > 0
  # Forward KL with disjoint supports is ~1e4 per row (not inf, not NaN).
  if name == "kl":
    assert 1e3 < float(val) < 1e5


def test_kd_loss_where_axis_and_temperature():
  mask = jnp.array([1.0, 1.0, 0.0, 1.0, 0.0, 1.0])
  per = categorical.kd_loss(ZQ, ZP, temperature=2.0, axis=(), where=mask)
  raw = categorical.f_divergence(ZP, ZQ, divergence="kl", temperature=2.0)
  np.testing.assert_allclose(per, 4.0 * raw * mask, rtol=1e-5)
  np.testing.assert_allclose(
    categorical.kd_loss(ZQ, ZP, temperature=2.0, where=mask), per.sum() / 4, rtol=1e-5
  )
  np.testing.assert_allclose(
    categorical.kd_loss(ZQ, ZP, temperature=2.0, where=mask > 0), per.sum() / 4, rtol=1e-5
  )
  np.testing.assert_allclose(
    categorical.kd_loss(ZQ, ZP, temperature=2.0, scale_by_temperature_squared=False),
    raw.mean(),
    rtol=1e-5,
  )
  # Teacher gets no gradient; the student's gradient moves it toward the teacher.
  g_t = jax.grad(lambda z: categorical.kd_loss(ZQ, z))(ZP)
  np.testing.assert_allclose(g_t, 0.0)
  g_s = jax.grad(lambda z: categorical.kd_loss(z, ZP))(ZQ)
  assert categorical.kd_loss(ZQ - 0.5 * g_s, ZP) < categorical.kd_loss(ZQ, ZP)


def test_sequence_axes_jit_vmap():
  zs = jax.random.normal(KEY, (3, 7, 11))
  zt = jax.random.normal(jax.random.fold_in(KEY, 4), (3, 7, 11))
  f = lambda a, b: categorical.f_divergence(a, b, divergence="js")
  out = f(zs, zt)
  chex.assert_shape(out, (3, 7))
  chex.assert_trees_all_close(jax.jit(f)(zs, zt), out, rtol=1e-6)
  chex.assert_trees_all_close(jax.vmap(f)(zs, zt), out, rtol=1e-6)


def test_errors():
  with pytest.raises(ValueError, match="balance must be >= 1"):
    categorical.balanced_kd_loss(jnp.zeros((2, 3)), jnp.zeros((2, 3)), balance=0.5)
  with pytest.raises(ValueError, match="logits_p and logits_q must have the same shape"):
    categorical.f_divergence(jnp.zeros((2, 3)), jnp.zeros((2, 4)), divergence="kl")
  with pytest.raises(ValueError, match="where must have shape"):
    categorical.kd_loss(ZQ, ZP, where=jnp.ones(5))
  with pytest.raises(ValueError, match="axis=1 is out of range"):
    categorical.kd_loss(ZQ, ZP, axis=1)
  with pytest.raises(ValueError, match="repeats an axis"):
    categorical.kd_loss(ZQ, ZP, axis=(0, -1))
  with pytest.raises(TypeError, match="unexpected keyword argument 'reduction'"):
    categorical.kd_loss(ZQ, ZP, reduction="none")
  with pytest.raises(ValueError, match="temperature must be > 0"):
    categorical.kd_loss(ZQ, ZP, temperature=0.0)


def test_entropy_closed_form():
  np.testing.assert_allclose(
    categorical.entropy(jnp.zeros((3, 8))), np.log(8.0) * np.ones(3), rtol=1e-6
  )
  p = jax.nn.softmax(ZP / 2.0)
  np.testing.assert_allclose(
    categorical.entropy(ZP, temperature=2.0), -(p * jnp.log(p)).sum(-1), rtol=1e-5
  )
  chex.assert_tree_all_finite(categorical.entropy(jnp.array([[1e4, -1e4, 0.0]])))


def test_balanced_kd_loss_weights_by_entropy_gap():
  fwd = categorical.kd_loss(ZQ, ZP, divergence="kl", axis=(), temperature=2.0)
  rev = categorical.kd_loss(ZQ, ZP, divergence="reverse_kl", axis=(), temperature=2.0)
  plain = categorical.balanced_kd_loss(
    ZQ, ZP, temperature=2.0, balance=1.0, forward_weight=0.3, axis=()
  )
  np.testing.assert_allclose(plain, 0.3 * fwd + rev, rtol=1e-5)
  flatter = categorical.entropy(ZQ, temperature=2.0) > categorical.entropy(ZP, temperature=2.0)
  assert 0 < int(flatter.sum()) < len(flatter)  # both branches exercised
  got = categorical.balanced_kd_loss(ZQ, ZP, temperature=2.0, balance=3.0, axis=())
  want = jnp.where(flatter, fwd + 3.0 * rev, 3.0 * fwd + rev)
  np.testing.assert_allclose(got, want, rtol=1e-5)
  np.testing.assert_allclose(
    categorical.balanced_kd_loss(ZQ, ZP, temperature=2.0, balance=3.0), want.mean(), rtol=1e-5
  )
  grad = jax.grad(lambda z: categorical.balanced_kd_loss(z, ZP * 1e3))(ZQ * 1e3)
  chex.assert_tree_all_finite(grad)


def test_kd_loss_fractional_weights_give_the_weighted_mean():
  raw = categorical.kd_loss(ZQ, ZP, axis=())
  np.testing.assert_allclose(
    categorical.kd_loss(ZQ, ZP, where=0.2 * jnp.ones(6)), raw.mean(), rtol=1e-6
  )
  w = jnp.array([0.5, 2.0, 0.0, 1.0, 0.25, 3.0])
  np.testing.assert_allclose(
    categorical.kd_loss(ZQ, ZP, where=w), jnp.sum(w * raw) / jnp.sum(w), rtol=1e-6
  )
  assert float(categorical.kd_loss(ZQ, ZP, where=jnp.zeros(6))) == 0.0
  balanced = categorical.balanced_kd_loss(ZQ, ZP, where=0.2 * jnp.ones(6))
  np.testing.assert_allclose(balanced, categorical.balanced_kd_loss(ZQ, ZP), rtol=1e-6)


@pytest.mark.parametrize("loss", ["kd", "balanced"])
def test_masked_padding_rows_reach_neither_loss_nor_gradient(loss):
  fn = categorical.kd_loss if loss == "kd" else categorical.balanced_kd_loss
  mask = jnp.array([1.0, 1.0, 0.0, 1.0, 0.0, 1.0])
  padded_s = ZQ.at[2].set(-jnp.inf).at[4].set(jnp.nan)
  padded_t = ZP.at[2].set(jnp.nan).at[4].set(-jnp.inf)
  want = fn(ZQ, ZP, where=mask)
  got, grad = jax.value_and_grad(lambda s: fn(s, padded_t, where=mask))(padded_s)
  np.testing.assert_allclose(got, want, rtol=1e-6)
  assert bool(jnp.all(jnp.isfinite(grad))) and bool(jnp.all(grad[jnp.array([2, 4])] == 0))
  # A NaN in a row that counts is not hidden.
  assert bool(jnp.isnan(fn(ZQ.at[0, 1].set(jnp.nan), ZP, where=mask)))
  assert bool(jnp.isnan(fn(ZQ, ZP.at[1, 0].set(jnp.nan), where=mask)))


@pytest.mark.parametrize("loss", ["kd", "balanced"])
def test_lm_logits_token_sequence_and_batch_means(loss):
  """``[B, L, V]`` logits with a ``[B, L]`` padding mask: the per-token values, the
  per-sequence means and the batch mean equal a loop over the real tokens."""
  fn = categorical.kd_loss if loss == "kd" else categorical.balanced_kd_loss
  k1, k2 = jax.random.split(KEY)
  zs, zt = 3.0 * jax.random.normal(k1, (3, 5, 17)), 3.0 * jax.random.normal(k2, (3, 5, 17))
  lengths = np.array([5, 2, 3])
  pad = jnp.arange(5)[None, :] < lengths[:, None]
  zs_padded = jnp.where(pad[..., None], zs, -jnp.inf)
  per_token = fn(zs_padded, zt, where=pad, temperature=2.0, axis=())
  chex.assert_shape(per_token, (3, 5))
  seq_means = fn(zs_padded, zt, where=pad, temperature=2.0, axis=-1)
  batch_mean = fn(zs_padded, zt, where=pad, temperature=2.0)
  rows = [fn(zs[b, : lengths[b]], zt[b, : lengths[b]], temperature=2.0, axis=()) for b in range(3)]
  for b in range(3):
    np.testing.assert_allclose(per_token[b, : lengths[b]], rows[b], rtol=1e-5)
    np.testing.assert_allclose(per_token[b, lengths[b] :], 0.0)
    np.testing.assert_allclose(seq_means[b], rows[b].mean(), rtol=1e-5)
  np.testing.assert_allclose(batch_mean, np.concatenate(rows).mean(), rtol=1e-5)
  # axis=0 averages over the batch position by position; jit and vmap agree.
  chex.assert_shape(fn(zs, zt, axis=0), (5,))
  jitted = jax.jit(lambda a, b, w: fn(a, b, where=w, temperature=2.0, axis=-1))
  np.testing.assert_allclose(jitted(zs_padded, zt, pad), seq_means, rtol=1e-6)
  vmapped = jax.vmap(lambda a, b, w: fn(a, b, where=w, temperature=2.0))(zs_padded, zt, pad)
  np.testing.assert_allclose(vmapped, seq_means, rtol=1e-6)


@pytest.mark.parametrize("name", ["kl", "js", "squared_hellinger", "total_variation", "gan"])
def test_masked_teacher_class_minus_inf(name):
  """A teacher logit of -inf (a masked class) is legal: the loss and the student's
  gradient equal those at a logit so negative its probability underflows to 0
  (f at u = 0: finite for these divergences), never NaN."""
  student = jnp.array([[1.0, 0.3, -0.2, 0.4], [0.0, 2.0, -1.0, 0.5]])
  teacher = jnp.array([[2.0, -jnp.inf, 0.5, 1.0], [-jnp.inf, 1.0, 0.0, -jnp.inf]])
  soft = jnp.where(jnp.isinf(teacher), -1e4, teacher)
  for t in (1.0, 2.0):
    fn = lambda s, z: categorical.kd_loss(s, z, divergence=name, temperature=t)
    value, grad = jax.value_and_grad(fn)(student, teacher)
    chex.assert_tree_all_finite((value, grad))
    np.testing.assert_allclose(value, fn(student, soft), rtol=1e-6)
    np.testing.assert_allclose(grad, jax.grad(fn)(student, soft), rtol=1e-5, atol=1e-7)
  # float64 reference with the 0 log 0 = 0 convention, for KL.
  if name == "kl":
    p = np.exp(log_softmax(np.asarray(teacher, np.float64), axis=-1))
    log_q = log_softmax(np.asarray(student, np.float64), axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
      want = np.where(p > 0, p * (np.log(p) - log_q), 0.0).sum(-1).mean()
    np.testing.assert_allclose(categorical.kd_loss(student, teacher), want, rtol=1e-5)
  # Reverse KL (and BD-KD, which contains it) is truly infinite here.
  assert np.isinf(categorical.balanced_kd_loss(student, teacher))


def test_mutual_kd_loss_value_gradient_and_errors():
  """Three peers: the value is the sum over peers of the mean KD term against the others,
  each peer's gradient is that of its own terms (the others under stop_gradient), a
  custom ``loss`` (BD-KD) is used as given, and fewer than two peers raise."""
  z = jax.random.normal(jax.random.PRNGKey(3), (3, 5, 4)) * 2.0

  def own(zi, i):
    return (
      sum(fd.kd_loss(zi, z[j], divergence="js", temperature=2.0) for j in range(3) if j != i) / 2
    )

  got = fd.mutual_kd_loss(z, divergence="js", temperature=2.0)
  np.testing.assert_allclose(got, sum(own(z[i], i) for i in range(3)), rtol=1e-6)
  grad = jax.grad(lambda z: fd.mutual_kd_loss(z, divergence="js", temperature=2.0))(z)
  for i in range(3):
    np.testing.assert_allclose(grad[i], jax.grad(own)(z[i], i), rtol=1e-5, atol=1e-7)
  bd = fd.mutual_kd_loss(z[:2], loss=lambda s, t: fd.balanced_kd_loss(s, t, balance=3.0))
  want = fd.balanced_kd_loss(z[0], z[1], balance=3.0) + fd.balanced_kd_loss(z[1], z[0], balance=3.0)
  np.testing.assert_allclose(bd, want, rtol=1e-6)
  np.testing.assert_allclose(jax.jit(fd.mutual_kd_loss)(z), fd.mutual_kd_loss(z), rtol=1e-6)
  with pytest.raises(ValueError, match="peer_logits"):
    fd.mutual_kd_loss(z[:1])
