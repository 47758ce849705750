"""Alanine dipeptide's JAX energy against OpenMM, and its internal-coordinate target.

OpenMM's Reference-platform energies, forces and per-term energies at the shipped frames
(the energy minimum, 24 frames of Langevin dynamics at 300 K and 8 at 1 000 K; written by
``python -m experiments.boltzmann.alanine_data``) are the independent implementation.
"""

import importlib.resources

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fdiv_jax import internal_coordinates as ic
from fdiv_jax import targets

ENERGY = jax.jit(targets.alanine_dipeptide_energy)
FORCES = jax.jit(jax.vmap(jax.grad(lambda x: -targets.alanine_dipeptide_energy(x))))


@pytest.fixture(autouse=True)
def x64():
  with jax.enable_x64(True):
    yield


@pytest.fixture(scope="module")
def frames():
  path = importlib.resources.files("fdiv_jax").joinpath("data/alanine_dipeptide/openmm_frames.npz")
  with path.open("rb") as f:
    return dict(np.load(f))


def test_energy_and_forces_equal_openmm(frames):
  x = jnp.asarray(frames["positions"])
  energy = ENERGY(x)
  np.testing.assert_allclose(energy, frames["energy"], rtol=0, atol=1e-8)
  forces = FORCES(x)
  np.testing.assert_allclose(forces, frames["forces"], rtol=1e-9, atol=1e-7)
  # The frames span a wide range: the 1 000 K ones sit far above the 300 K ones.
  assert frames["energy"][-8:].min() > frames["energy"][1:25].max()


def test_float32_energy_is_close_to_float64(frames):
  x = np.asarray(frames["positions"][:25])
  e32 = np.asarray(ENERGY(jnp.asarray(x, jnp.float32)), np.float64)
  np.testing.assert_allclose(e32, frames["energy"][:25], atol=1e-3)


def test_energy_terms_add_up_per_term_as_in_openmm(frames):
  """A force field with every term but one zeroed gives OpenMM's energy of that term."""
  ff = targets.alanine_dipeptide_force_field()
  zeroed = {
    "HarmonicBondForce": ("bond_k",),
    "HarmonicAngleForce": ("angle_k",),
    "PeriodicTorsionForce": ("torsion_k",),
    "NonbondedForce": ("pair_charge_product", "pair_epsilon"),
  }
  x = jnp.asarray(frames["positions"])
  for t, name in enumerate(frames["term_names"]):
    keep = zeroed[str(name)]
    only = ff._replace(
      **{f: np.zeros_like(getattr(ff, f)) for fs in zeroed.values() for f in fs if f not in keep}
    )
    energy = jax.jit(lambda x, only=only: targets.alanine_dipeptide_energy(x, force_field=only))
    np.testing.assert_allclose(energy(x), frames["term_energy"][:, t], atol=1e-8)


def test_energy_is_invariant_under_rigid_motion_and_jit_vmap_agree(frames):
  x = jnp.asarray(frames["positions"][:6])
  q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))
  moved = x @ jnp.asarray(q.T) + jnp.array([0.3, -1.0, 2.0])
  e = targets.alanine_dipeptide_energy(x)  # eager
  np.testing.assert_allclose(ENERGY(moved), e, rtol=1e-10)
  np.testing.assert_allclose(ENERGY(x), e, rtol=1e-12)
  loop = np.array([targets.alanine_dipeptide_energy(f) for f in x])
  np.testing.assert_allclose(loop, e, rtol=1e-12)


def test_internal_target_is_energy_plus_log_jacobian(frames):
  target = targets.alanine_dipeptide(300.0)
  z = targets.alanine_dipeptide_zmatrix()
  assert target.dim == z.dim == 60
  x = jnp.asarray(frames["positions"][:25])
  xi = ic.to_internal(z, x)
  _, log_j = jax.jit(lambda v: ic.to_cartesian(z, v))(xi)
  kt = 8.314462618e-3 * 300.0
  got = jax.jit(target.log_prob)(xi)
  np.testing.assert_allclose(got, -frames["energy"][:25] / kt + log_j, rtol=1e-10)
  cartesian = targets.alanine_dipeptide(300.0, coordinates="cartesian")
  np.testing.assert_allclose(
    jax.jit(cartesian.log_prob)(x.reshape(25, 66)), -frames["energy"][:25] / kt, rtol=1e-10
  )
  # The backbone torsions are Z-matrix rows 4 and 5.
  phi, psi = targets.alanine_dipeptide_dihedrals(x)
  np.testing.assert_allclose(xi[:, z.torsions][:, 3], phi, atol=1e-12)
  np.testing.assert_allclose(xi[:, z.torsions][:, 4], psi, atol=1e-12)


def test_standardized_coordinates_are_an_affine_change_with_unit_scale_at_300k(frames):
  internal = targets.alanine_dipeptide(300.0)
  standardized = targets.alanine_dipeptide(300.0, coordinates="standardized")
  shift, scale = targets.alanine_dipeptide_standardization(300.0)
  z = targets.alanine_dipeptide_zmatrix()
  xi = ic.to_internal(z, jnp.asarray(frames["positions"][1:25]))
  u = (xi - shift) / scale
  u = u.at[:, z.torsions].set(jnp.mod(u[:, z.torsions] + np.pi, 2 * np.pi) - np.pi)
  np.testing.assert_allclose(
    jax.jit(standardized.log_prob)(u), jax.jit(internal.log_prob)(xi) + np.log(scale).sum()
  )
  # The harmonic scales put the bonds and angles of 300 K frames at about unit spread.
  spread = np.std(np.asarray(u[:, : z.torsions.start]), axis=0)
  assert np.all((spread > 0.4) & (spread < 1.6)), spread
  # The energy minimum is u = 0; the stiff torsions (peptide bonds near +-pi) sit near 0.
  minimum = ic.to_internal(z, jnp.asarray(targets.alanine_dipeptide_force_field().minimum))
  np.testing.assert_allclose(shift, minimum)
  np.testing.assert_array_equal(scale[z.torsions], 1.0)
  assert np.all(np.abs(np.asarray(u[:, [46, 48, 56]])) < 1.0)  # carbonyl, omega1, omega2
  with pytest.raises(ValueError, match="temperature must be positive"):
    targets.alanine_dipeptide_standardization(-1.0)


def test_internal_target_outside_its_domain_nan_and_gradients(frames):
  target = targets.alanine_dipeptide(300.0)
  z = targets.alanine_dipeptide_zmatrix()
  xi = ic.to_internal(z, jnp.asarray(frames["positions"][3]))
  outside = jnp.stack(
    [
      xi.at[0].set(-0.1),
      xi.at[30].set(3.2),
      xi.at[-1].set(3.2),
      xi.at[1].set(0.0),
      xi.at[22].set(0.0),
    ]
  )
  log_prob = jax.jit(target.log_prob)
  grad = jax.jit(jax.vmap(jax.grad(target.log_prob)))
  np.testing.assert_array_equal(log_prob(outside), -np.inf)
  eps = 1e-6
  e = jnp.zeros(60).at[45].set(eps)
  points = jnp.stack([xi, xi + e, xi - e, xi.at[5].set(jnp.nan)])
  values, g = log_prob(points), grad(jnp.concatenate([outside, points[:1]]))
  assert np.isfinite(g).all()
  assert np.isnan(values[3])
  np.testing.assert_allclose(g[5, 45], (values[1] - values[2]) / (2 * eps), rtol=1e-6)
  # float32: finite values at the MD frames.
  xi32 = ic.to_internal(z, jnp.asarray(frames["positions"][1:9], jnp.float32))
  assert xi32.dtype == jnp.float32
  assert np.isfinite(log_prob(xi32)).all()


def test_chirality_and_dihedrals(frames):
  x = jnp.asarray(frames["positions"])
  assert np.all(targets.alanine_dipeptide_chirality(x))
  assert np.all(jax.jit(targets.alanine_dipeptide_chirality)(x))
  mirror = x * jnp.array([1.0, 1.0, -1.0])
  assert not np.any(targets.alanine_dipeptide_chirality(mirror))
  phi, psi = targets.alanine_dipeptide_dihedrals(x)
  phi_m, psi_m = targets.alanine_dipeptide_dihedrals(mirror)
  np.testing.assert_allclose(phi_m, -phi, atol=1e-12)
  np.testing.assert_allclose(psi_m, -psi, atol=1e-12)
  # The mirror image has the same energy up to the prmtop's rounding of pi (3.141594) in the
  # torsion phases: the density alone does not fix the handedness.
  np.testing.assert_allclose(ENERGY(mirror), ENERGY(x), atol=1e-3)


def test_bad_arguments_raise():
  with pytest.raises(ValueError, match=r"x must be positions \[..., 22, 3\]"):
    targets.alanine_dipeptide_energy(jnp.zeros((21, 3)))
  with pytest.raises(ValueError, match="coordinates must be 'internal', 'standardized' or"):
    targets.alanine_dipeptide(coordinates="polar")
  with pytest.raises(ValueError, match="temperature must be positive"):
    targets.alanine_dipeptide(0.0)
  with pytest.raises(ValueError, match=r"xi must have shape \[..., 60\]"):
    targets.alanine_dipeptide().log_prob(jnp.zeros(66))
