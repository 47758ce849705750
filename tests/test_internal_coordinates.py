"""The Z-matrix bijection: round trips, its log-determinant against autodiff, the angle and
dihedral conventions against an independent NumPy formula, errors and NaN handling."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fdiv_jax import internal_coordinates as ic


@pytest.fixture(autouse=True)
def x64():
  with jax.enable_x64(True):
    yield


# A branched 7-atom chain: seed 0, 1, 2; atom 5 hangs off atom 1.
Z = ic.zmatrix((1, 0, 2), [[3, 2, 1, 0], [4, 3, 2, 1], [5, 1, 2, 3], [6, 4, 3, 5]])


def _random_molecule(key, n=7):
  """Positions with bond lengths near 0.15 and angles away from 0 and pi."""
  xi_bonds = 0.1 + 0.1 * jax.random.uniform(key, (n - 1,))
  xi_angles = jax.random.uniform(jax.random.fold_in(key, 1), (n - 2,), minval=0.6, maxval=2.6)
  xi_torsions = jax.random.uniform(jax.random.fold_in(key, 2), (n - 3,), minval=-3.1, maxval=3.1)
  return jnp.concatenate([xi_bonds, xi_angles, xi_torsions])


def _dihedral_numpy(p0, p1, p2, p3):
  b0, b1, b2 = p0 - p1, p2 - p1, p3 - p2
  b1 = b1 / np.linalg.norm(b1)
  v, w = b0 - (b0 @ b1) * b1, b2 - (b2 @ b1) * b1
  return np.arctan2(np.cross(b1, v) @ w, v @ w)


def test_angle_and_dihedral_equal_independent_formulas():
  p = np.random.default_rng(0).normal(size=(50, 4, 3))
  got = ic.dihedral(*(jnp.asarray(p[:, k]) for k in range(4)))
  want = [_dihedral_numpy(*q) for q in p]
  np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
  # The dihedral reads the same backwards.
  np.testing.assert_allclose(ic.dihedral(*(jnp.asarray(p[:, k]) for k in (3, 2, 1, 0))), want)
  u, v = p[:, 0] - p[:, 1], p[:, 2] - p[:, 1]
  cos = np.sum(u * v, -1) / np.linalg.norm(u, axis=-1) / np.linalg.norm(v, axis=-1)
  np.testing.assert_allclose(ic.angle(p[:, 0], p[:, 1], p[:, 2]), np.arccos(cos), rtol=1e-12)


def test_internal_cartesian_internal_round_trip_and_distances():
  xi = jax.vmap(_random_molecule)(jax.random.split(jax.random.PRNGKey(0), 8))
  x, log_j = ic.to_cartesian(Z, xi)
  np.testing.assert_allclose(ic.to_internal(Z, x), xi, atol=1e-12)
  assert x.shape == (8, 7, 3) and log_j.shape == (8,)
  # The seed frame: s0 at the origin, s1 on +x, s2 in the xy plane with y > 0.
  np.testing.assert_allclose(x[:, 1], 0.0, atol=1e-15)
  np.testing.assert_allclose(x[:, 0, 1:], 0.0, atol=1e-15)
  assert np.all(x[:, 0, 0] > 0) and np.all(x[:, 2, 2] == 0) and np.all(x[:, 2, 1] > 0)


def test_rigid_motion_leaves_internal_coordinates_unchanged():
  xi = _random_molecule(jax.random.PRNGKey(1))
  x, _ = ic.to_cartesian(Z, xi)
  q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))
  q = q * np.sign(np.linalg.det(q))  # a proper rotation
  np.testing.assert_allclose(ic.to_internal(Z, x @ q.T + 0.7), xi, atol=1e-12)
  # A reflection flips every torsion's sign and keeps bonds and angles.
  mirrored = ic.to_internal(Z, x * jnp.array([1.0, 1.0, -1.0]))
  np.testing.assert_allclose(mirrored[Z.torsions], -xi[Z.torsions], atol=1e-12)
  np.testing.assert_allclose(mirrored[: Z.torsions.start], xi[: Z.torsions.start], atol=1e-12)


def _euler(a, b, g):
  def rz(q):
    c, s = jnp.cos(q), jnp.sin(q)
    return jnp.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])

  c, s = jnp.cos(b), jnp.sin(b)
  ry = jnp.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
  return rz(a) @ ry @ rz(g)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_log_j_is_the_jacobian_of_the_full_cartesian_map(seed):
  """(translation, ZYZ Euler angles, internal coordinates) -> 3n Cartesian coordinates has
  |det| = sin(beta) (Haar density) times J(xi)."""
  xi = _random_molecule(jax.random.PRNGKey(seed))
  euler = jnp.array([0.3, 1.1, -0.8])

  def full(v):
    x, _ = ic.to_cartesian(Z, v[6:])
    return (x @ _euler(*v[3:6]).T + v[:3]).reshape(-1)

  v = jnp.concatenate([jnp.array([0.1, -0.2, 0.3]), euler, xi])
  _, logdet = np.linalg.slogdet(np.asarray(jax.jacfwd(full)(v)))
  _, log_j = ic.to_cartesian(Z, xi)
  np.testing.assert_allclose(logdet, log_j + np.log(np.sin(1.1)), rtol=1e-10)


def test_jit_and_vmap_equal_eager_and_loop():
  xi = jax.vmap(_random_molecule)(jax.random.split(jax.random.PRNGKey(2), 4))
  eager = ic.to_cartesian(Z, xi)
  jitted = jax.jit(lambda v: ic.to_cartesian(Z, v))(xi)
  loop = [ic.to_cartesian(Z, v) for v in xi]
  for k in range(2):
    np.testing.assert_allclose(jitted[k], eager[k], rtol=1e-12)
    np.testing.assert_allclose(np.stack([r[k] for r in loop]), eager[k], rtol=1e-12)


def test_out_of_domain_gives_nan_log_j_and_nan_in_gives_nan_out():
  xi = _random_molecule(jax.random.PRNGKey(3))
  assert np.isnan(ic.to_cartesian(Z, xi.at[0].set(-0.1))[1])
  assert np.isnan(ic.to_cartesian(Z, xi.at[7].set(3.3))[1])  # an angle above pi
  x, log_j = ic.to_cartesian(Z, xi.at[-1].set(jnp.nan))  # the last torsion places atom 6
  assert np.isnan(x[6]).all() and np.isfinite(x[:6]).all() and np.isfinite(log_j)
  assert np.isnan(ic.to_cartesian(Z, xi.at[0].set(jnp.nan))[1])


def test_bad_arguments_raise():
  with pytest.raises(ValueError, match=r"xi must have shape \[..., 15\]"):
    ic.to_cartesian(Z, jnp.zeros(14))
  with pytest.raises(ValueError, match=r"x must have shape \[..., 7, 3\]"):
    ic.to_internal(Z, jnp.zeros((6, 3)))
  with pytest.raises(ValueError, match="not yet placed"):
    ic.zmatrix((0, 1, 2), [[3, 4, 1, 0], [4, 3, 2, 1]])
  with pytest.raises(ValueError, match="placed twice"):
    ic.zmatrix((0, 1, 2), [[3, 2, 1, 0], [3, 2, 1, 0]])
  with pytest.raises(ValueError, match="seed must be three distinct"):
    ic.zmatrix((0, 0, 2), [[3, 2, 1, 0]])
