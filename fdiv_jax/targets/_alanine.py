r"""Alanine dipeptide in vacuum: the AMBER ff96 energy in JAX, in Cartesian or internal coordinates.

The potential energy (kJ/mol, positions in nm) of the 22-atom ACE-ALA-NME molecule is
OpenMM's vacuum ``System`` for ``openmmtools``' ``alanine-dipeptide.prmtop`` (no cutoff,
no constraints), term by term:

.. math::
  U(x) = \sum_{\text{bonds}} \tfrac{k}{2}(r - r_0)^2
  + \sum_{\text{angles}} \tfrac{k}{2}(\theta - \theta_0)^2
  + \sum_{\text{torsions}} k\,(1 + \cos(n\phi - \phi_0))
  + \sum_{i < j} \Big[\frac{k_e q_{ij}}{r_{ij}}
  + 4\epsilon_{ij}\Big(\big(\tfrac{\sigma_{ij}}{r_{ij}}\big)^{12}
  - \big(\tfrac{\sigma_{ij}}{r_{ij}}\big)^{6}\Big)\Big],

with Lorentz-Berthelot :math:`\sigma_{ij} = (\sigma_i + \sigma_j)/2`,
:math:`\epsilon_{ij} = \sqrt{\epsilon_i\epsilon_j}`, :math:`q_{ij} = q_i q_j`, except for
the 1-2 and 1-3 pairs (excluded) and the 1-4 pairs (AMBER's scaled values), which take
their own :math:`(q_{ij}, \sigma_{ij}, \epsilon_{ij})`. The parameters and OpenMM's frames,
energies and forces are shipped in ``fdiv_jax/data/alanine_dipeptide`` (exported by
``python -m experiments.boltzmann.alanine_data``).

The target is the Boltzmann density :math:`e^{-U/kT}` at temperature :math:`T`. In
internal coordinates (:mod:`fdiv_jax.internal_coordinates`, the Z-matrix
:func:`alanine_dipeptide_zmatrix`) it is :math:`e^{-U(x(\xi))/kT} J(\xi)` on the domain
bonds :math:`> 0`, angles in :math:`(0, \pi)`, torsions in :math:`[-\pi, \pi)`;
the backbone torsions :math:`\phi` (C-N-CA-C) and :math:`\psi` (N-CA-C-N) are among them.
The density gives the mirror image (D-alanine) the same weight, up to the prmtop's
rounding of :math:`\pi` in the torsion phases; :func:`alanine_dipeptide_chirality` tells
the two apart.

References:
  Kollman et al. The development/application of a "minimalist" organic/biochemical molecular
  mechanic force field (AMBER ff96). 1997.
  Eastman et al. OpenMM 8. J. Phys. Chem. B 2024.
  Midgley et al. Flow annealed importance sampling bootstrap. ICLR 2023 (alanine dipeptide
  in vacuum as a Boltzmann-generator target).
"""

from __future__ import annotations

import functools
import importlib.resources
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from fdiv_jax import internal_coordinates as ic
from fdiv_jax.targets._target import Target

__all__ = [
  "ForceField",
  "alanine_dipeptide",
  "alanine_dipeptide_chirality",
  "alanine_dipeptide_dihedrals",
  "alanine_dipeptide_energy",
  "alanine_dipeptide_force_field",
  "alanine_dipeptide_standardization",
  "alanine_dipeptide_zmatrix",
]

MOLAR_GAS_CONSTANT = 8.314462618e-3  # kJ / (mol K)
NUM_ATOMS = 22
PHI, PSI = (4, 6, 8, 14), (6, 8, 14, 16)  # C(ACE)-N-CA-C and N-CA-C-N(NME).
_IMPROPER = (6, 14, 8, 10)  # N, C, CA, CB: its sign is the chirality at CA.

# Seed CA, N, C; then (atom, bond, angle, torsion). phi is HA/CB/C(ACE)'s placement
# around N-CA, psi is N(NME)'s around CA-C.
_ROWS = (
  (9, 8, 6, 14),
  (10, 8, 6, 14),
  (7, 6, 8, 14),
  (4, 6, 8, 14),
  (16, 14, 8, 6),
  (15, 14, 8, 16),
  (5, 4, 6, 8),
  (1, 4, 6, 8),
  (0, 1, 4, 6),
  (2, 1, 4, 0),
  (3, 1, 4, 0),
  (11, 10, 8, 6),
  (12, 10, 8, 11),
  (13, 10, 8, 11),
  (17, 16, 14, 8),
  (18, 16, 14, 8),
  (19, 18, 16, 14),
  (20, 18, 16, 19),
  (21, 18, 16, 19),
)


class ForceField(NamedTuple):
  """The terms of a molecule's force field (OpenMM units: nm, rad, kJ/mol, e).

  Attributes:
    bond_index: ``[nb, 2]`` atom pairs.
    bond_length: ``[nb]`` :math:`r_0`.
    bond_k: ``[nb]`` force constants :math:`k`.
    angle_index: ``[na, 3]`` atom triples (vertex in the middle).
    angle_theta: ``[na]`` :math:`\\theta_0`.
    angle_k: ``[na]`` force constants.
    torsion_index: ``[nt, 4]`` atom quadruples.
    torsion_periodicity: ``[nt]`` :math:`n`.
    torsion_phase: ``[nt]`` :math:`\\phi_0`.
    torsion_k: ``[nt]`` barrier constants :math:`k`.
    pair_index: ``[np, 2]`` every non-excluded atom pair.
    pair_charge_product: ``[np]`` :math:`k_e q_{ij}`.
    pair_sigma: ``[np]`` :math:`\\sigma_{ij}`.
    pair_epsilon: ``[np]`` :math:`\\epsilon_{ij}`.
    minimum: ``[n, 3]`` the energy minimum OpenMM found.
    names: ``[n]`` atom names ``residue:atom``.
  """

  bond_index: np.ndarray
  bond_length: np.ndarray
  bond_k: np.ndarray
  angle_index: np.ndarray
  angle_theta: np.ndarray
  angle_k: np.ndarray
  torsion_index: np.ndarray
  torsion_periodicity: np.ndarray
  torsion_phase: np.ndarray
  torsion_k: np.ndarray
  pair_index: np.ndarray
  pair_charge_product: np.ndarray
  pair_sigma: np.ndarray
  pair_epsilon: np.ndarray
  minimum: np.ndarray
  names: np.ndarray


def _load(name: str):
  path = importlib.resources.files("fdiv_jax").joinpath(f"data/alanine_dipeptide/{name}")
  with path.open("rb") as f:
    return dict(np.load(f))


@functools.cache
def alanine_dipeptide_force_field() -> ForceField:
  """The shipped AMBER ff96 vacuum force field of alanine dipeptide.

  Returns:
    Its :class:`ForceField`: OpenMM's bonds, angles and torsions, and the nonbonded pair
    list built from the per-atom parameters (Lorentz-Berthelot) with the exclusions
    dropped and the 1-4 exceptions' own parameters.
  """
  d = _load("force_field.npz")
  n = d["charge"].shape[0]
  i, j = np.triu_indices(n, 1)
  pairs = {
    (a, b): (
      d["coulomb_constant"] * d["charge"][a] * d["charge"][b],
      0.5 * (d["sigma"][a] + d["sigma"][b]),
      np.sqrt(d["epsilon"][a] * d["epsilon"][b]),
    )
    for a, b in zip(i.tolist(), j.tolist())
  }
  for (a, b), q, s, e in zip(
    d["exception_index"].tolist(),
    d["exception_charge_product"],
    d["exception_sigma"],
    d["exception_epsilon"],
  ):
    key = (min(a, b), max(a, b))
    if q == 0 and e == 0:
      del pairs[key]
    else:
      pairs[key] = (d["coulomb_constant"] * q, s, e)
  keys = sorted(pairs)
  values = np.array([pairs[k] for k in keys])
  return ForceField(
    bond_index=d["bond_index"],
    bond_length=d["bond_length"],
    bond_k=d["bond_k"],
    angle_index=d["angle_index"],
    angle_theta=d["angle_theta"],
    angle_k=d["angle_k"],
    torsion_index=d["torsion_index"],
    torsion_periodicity=d["torsion_periodicity"],
    torsion_phase=d["torsion_phase"],
    torsion_k=d["torsion_k"],
    pair_index=np.array(keys, np.int32),
    pair_charge_product=values[:, 0],
    pair_sigma=values[:, 1],
    pair_epsilon=values[:, 2],
    minimum=d["minimum"],
    names=d["atom_name"],
  )


def _check_positions(x: jax.Array) -> jax.Array:
  x = jnp.asarray(x)
  if x.ndim < 2 or x.shape[-2:] != (NUM_ATOMS, 3):
    raise ValueError(f"x must be positions [..., {NUM_ATOMS}, 3] in nm, got shape {x.shape}")
  return x


def alanine_dipeptide_energy(x: jax.Array, *, force_field: ForceField | None = None) -> jax.Array:
  r"""The potential energy :math:`U(x)` of the module docstring, in kJ/mol.

  Computed in ``x``'s dtype (float64 under ``jax_enable_x64`` for the tightest agreement
  with OpenMM; float32 is well within ``kT`` at 300 K).

  Args:
    x: Positions ``[..., 22, 3]`` in nm, atoms in the prmtop's order.
    force_field: A :class:`ForceField`; default :func:`alanine_dipeptide_force_field`.

  Returns:
    The energies ``[...]``, reduced over the terms; not finite where two atoms coincide,
    NaN where ``x`` has a NaN.

  Raises:
    ValueError: If ``x`` is not ``[..., 22, 3]``.
  """
  x = _check_positions(x)
  ff = alanine_dipeptide_force_field() if force_field is None else force_field
  dtype = x.dtype

  def const(v):
    return jnp.asarray(v, dtype)

  def at(index, k):
    return x[..., index[:, k], :]

  bi, ai, ti, pi = ff.bond_index, ff.angle_index, ff.torsion_index, ff.pair_index
  r = jnp.linalg.norm(at(bi, 0) - at(bi, 1), axis=-1)
  bonds = jnp.sum(0.5 * const(ff.bond_k) * (r - const(ff.bond_length)) ** 2, -1)
  theta = ic.angle(at(ai, 0), at(ai, 1), at(ai, 2))
  angles = jnp.sum(0.5 * const(ff.angle_k) * (theta - const(ff.angle_theta)) ** 2, -1)
  phi = ic.dihedral(at(ti, 0), at(ti, 1), at(ti, 2), at(ti, 3))
  torsions = jnp.sum(
    const(ff.torsion_k)
    * (1 + jnp.cos(const(ff.torsion_periodicity) * phi - const(ff.torsion_phase))),
    -1,
  )
  r = jnp.linalg.norm(at(pi, 0) - at(pi, 1), axis=-1)
  s6 = (const(ff.pair_sigma) / r) ** 6
  nonbonded = jnp.sum(
    const(ff.pair_charge_product) / r + 4 * const(ff.pair_epsilon) * s6 * (s6 - 1), -1
  )
  return bonds + angles + torsions + nonbonded


def alanine_dipeptide_dihedrals(x: jax.Array) -> tuple[jax.Array, jax.Array]:
  r"""The backbone dihedrals :math:`(\phi, \psi)` of the Ramachandran plot.

  Args:
    x: Positions ``[..., 22, 3]``.

  Returns:
    ``(phi, psi)``, each ``[...]`` in :math:`(-\pi, \pi]`: C(ACE)-N-CA-C and N-CA-C-N(NME).
  """
  x = _check_positions(x)
  return (
    ic.dihedral(*(x[..., k, :] for k in PHI)),
    ic.dihedral(*(x[..., k, :] for k in PSI)),
  )


def alanine_dipeptide_chirality(x: jax.Array) -> jax.Array:
  """Whether each configuration is L-alanine (the shipped structure's handedness).

  The sign of the improper dihedral N-C-CA-CB: the mirror image flips it.

  Args:
    x: Positions ``[..., 22, 3]``.

  Returns:
    Booleans ``[...]``, True for L.
  """
  x = _check_positions(x)
  return _l_sign() * ic.dihedral(*(x[..., k, :] for k in _IMPROPER)) > 0


@functools.cache
def _l_sign() -> float:
  """The sign of the improper N-C-CA-CB at the shipped (L) energy minimum."""
  m = jnp.asarray(alanine_dipeptide_force_field().minimum)
  with jax.ensure_compile_time_eval():  # a constant, also when first asked for under jit
    return float(jnp.sign(ic.dihedral(*(m[k] for k in _IMPROPER))))


def alanine_dipeptide_zmatrix() -> ic.ZMatrix:
  """The Z-matrix of :func:`alanine_dipeptide` in internal coordinates.

  Returns:
    A :class:`fdiv_jax.internal_coordinates.ZMatrix` over the 22 atoms: seed CA, N, C;
    60 internal coordinates, the last 19 (indices 41 to 59) torsions; :math:`\\phi` is
    coordinate 44 and :math:`\\psi` coordinate 45.
  """
  return ic.zmatrix((8, 6, 14), _ROWS)


def alanine_dipeptide(temperature: float = 300.0, coordinates: str = "internal") -> Target:
  r"""Alanine dipeptide in vacuum at ``temperature`` (the module docstring).

  Args:
    temperature: Kelvin; :math:`kT = R T` with the molar gas constant in kJ/(mol K).
    coordinates: ``"internal"``: ``log_prob`` over the 60 internal coordinates of
      :func:`alanine_dipeptide_zmatrix`, :math:`-U(x(\xi))/kT + \log J(\xi)`, ``-inf``
      outside the domain; ``"standardized"``: the same density over
      :math:`u = (\xi - \xi_0) / s` (plus :math:`\sum\log s`), with :math:`\xi_0` the
      energy minimum's internal coordinates and, per bond and angle, :math:`s =
      \sqrt{kT / k}` from its harmonic force constant; torsions keep :math:`s = 1` and are
      rotated on the circle (:math:`\xi_0 + u` wrapped into :math:`[-\pi, \pi)`,
      :math:`u \in [-\pi, \pi]`), so that the stiff ones, such as the peptide bonds near
      :math:`\pm\pi`, sit at 0, away from the cut; a flow over a unit-scale base then
      starts near the target;
      ``"cartesian"``: over the 66 flattened Cartesian positions (nm), :math:`-U(x)/kT`
      (invariant under rotations and translations, so not normalisable).

  Returns:
    The :class:`Target` (``log_z`` unknown, no samples; in internal coordinates its
    ``circular`` lists the 19 torsions).

  Raises:
    ValueError: If ``coordinates`` is neither, or ``temperature`` is not positive.
  """
  if not temperature > 0:
    raise ValueError(f"temperature must be positive (kelvin), got {temperature}")
  kt = MOLAR_GAS_CONSTANT * temperature
  if coordinates == "cartesian":

    def log_prob(x):
      x = jnp.asarray(x)
      if x.ndim < 1 or x.shape[-1] != 3 * NUM_ATOMS:
        raise ValueError(f"x must have shape [..., {3 * NUM_ATOMS}], got {x.shape}")
      return -alanine_dipeptide_energy(x.reshape(*x.shape[:-1], NUM_ATOMS, 3)) / kt

    return Target(
      f"alanine_dipeptide_cartesian_{temperature:g}K", 3 * NUM_ATOMS, log_prob, None, None
    )
  if coordinates not in ("internal", "standardized"):
    raise ValueError(
      f"coordinates must be 'internal', 'standardized' or 'cartesian', got {coordinates!r}"
    )
  z = alanine_dipeptide_zmatrix()
  reference = ic.to_internal(z, jnp.asarray(alanine_dipeptide_force_field().minimum))

  def log_prob(xi):
    xi = jnp.asarray(xi)
    if xi.ndim < 1 or xi.shape[-1] != z.dim:
      raise ValueError(f"xi must have shape [..., {z.dim}], got {xi.shape}")
    n = NUM_ATOMS
    bonds, angles, torsions = xi[..., : n - 1], xi[..., n - 1 : 2 * n - 3], xi[..., z.torsions]
    inside = (
      jnp.all(bonds > 0, -1)
      & jnp.all((angles > 0) & (angles < jnp.pi), -1)
      & jnp.all((torsions >= -jnp.pi) & (torsions <= jnp.pi), -1)
    )
    safe = jnp.where(inside[..., None], xi, reference.astype(xi.dtype))  # finite gradients
    x, log_j = ic.to_cartesian(z, safe)
    value = jnp.where(inside, -alanine_dipeptide_energy(x) / kt + log_j, -jnp.inf)
    return jnp.where(jnp.any(jnp.isnan(xi), -1), jnp.nan, value)

  circular = tuple(range(z.torsions.start, z.dim))
  if coordinates == "internal":
    name = f"alanine_dipeptide_{temperature:g}K"
    return Target(name, z.dim, log_prob, None, None, circular=circular)
  shift, scale = alanine_dipeptide_standardization(temperature)
  is_torsion = np.zeros(z.dim, bool)
  is_torsion[z.torsions] = True

  def standardized_log_prob(u):
    u = jnp.asarray(u)
    if u.ndim < 1 or u.shape[-1] != z.dim:
      raise ValueError(f"u must have shape [..., {z.dim}], got {u.shape}")
    xi = jnp.asarray(shift, u.dtype) + jnp.asarray(scale, u.dtype) * u
    wrapped = jnp.mod(xi + jnp.pi, 2 * jnp.pi) - jnp.pi  # torsions: rotate the circle
    on_circle = jnp.all(~is_torsion | ((u >= -jnp.pi) & (u <= jnp.pi)), -1)
    value = log_prob(jnp.where(is_torsion, wrapped, xi)) + jnp.sum(jnp.log(scale))
    return jnp.where(on_circle | jnp.isnan(value), value, -jnp.inf)

  name = f"alanine_dipeptide_standardized_{temperature:g}K"
  return Target(name, z.dim, standardized_log_prob, None, None, circular=circular)


def alanine_dipeptide_standardization(temperature: float = 300.0) -> tuple[np.ndarray, np.ndarray]:
  r"""The shift :math:`\xi_0` and scale :math:`s` of the ``"standardized"`` coordinates.

  Args:
    temperature: Kelvin.

  Returns:
    ``(shift, scale)``, each ``[60]`` float64: :math:`\xi = \xi_0 + s u` (torsions then
    wrapped into :math:`[-\pi, \pi)`): the energy minimum's values, and
    :math:`\sqrt{kT / k}` of the bond or angle term joining the same atoms (1 for the
    torsions).

  Raises:
    ValueError: If ``temperature`` is not positive.
  """
  if not temperature > 0:
    raise ValueError(f"temperature must be positive (kelvin), got {temperature}")
  ff = alanine_dipeptide_force_field()
  z = alanine_dipeptide_zmatrix()
  kt = MOLAR_GAS_CONSTANT * temperature
  bond_k = {frozenset(map(int, b)): k for b, k in zip(ff.bond_index, ff.bond_k)}
  angle_k = {(int(a), int(b), int(c)): k for (a, b, c), k in zip(ff.angle_index, ff.angle_k)}
  angle_k.update({(c, b, a): k for (a, b, c), k in list(angle_k.items())})
  s0, s1, s2 = z.seed
  bonds = [(s0, s1), (s0, s2)] + [(int(r[0]), int(r[1])) for r in z.rows]
  angles = [(s1, s0, s2)] + [(int(r[0]), int(r[1]), int(r[2])) for r in z.rows]
  scale = np.concatenate(
    [
      [np.sqrt(kt / bond_k[frozenset(b)]) for b in bonds],
      [np.sqrt(kt / angle_k[a]) for a in angles],
      np.ones(z.num_atoms - 3),
    ]
  )
  shift = np.array(ic.to_internal(z, jnp.asarray(ff.minimum)), np.float64)
  return shift, scale
