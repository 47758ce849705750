r"""Internal coordinates of a molecule: a Z-matrix bijection with its log-determinant.

A Z-matrix places three seed atoms :math:`(s_0, s_1, s_2)` in a fixed frame (:math:`s_0`
at the origin, :math:`s_1` on the :math:`+x` axis, :math:`s_2` in the :math:`xy` plane,
:math:`y > 0`) and then every other atom :math:`a` from three atoms already placed, its
row :math:`(a, b, c, e)`: bond length :math:`r = |x_a - x_b|`, angle
:math:`\theta = \angle(a, b, c)` and torsion :math:`\phi = \mathrm{dihedral}(a, b, c, e)`
(natural extension reference frame placement). For ``n`` atoms the internal coordinates
are a vector of ``3 n - 6`` numbers, grouped by kind:

.. math::
  \xi = (\underbrace{r_{s_0 s_1}, r_{s_0 s_2}, r_1..r_m}_{n - 1\ \text{bonds}},\;
  \underbrace{\theta_{s_1 s_0 s_2}, \theta_1..\theta_m}_{n - 2\ \text{angles}},\;
  \underbrace{\phi_1..\phi_m}_{n - 3\ \text{torsions}}),\qquad m = n - 3.

A Cartesian configuration is the placed one moved by a rotation :math:`R` and a
translation :math:`t`, and the volume element factorises as

.. math::
  d^{3n}x = d^3t\; dR\; J(\xi)\, d\xi,\qquad
  J(\xi) = r_{s_0 s_1}^2\, r_{s_0 s_2}^2 \sin\theta_{s_1 s_0 s_2}
  \prod_{i=1}^{m} r_i^2 \sin\theta_i

with :math:`dR` the Haar measure (total mass :math:`8\pi^2`). A density
:math:`\propto e^{-U(x)/kT}` that is invariant under rotations and translations is
therefore, on :math:`\xi`, :math:`\propto e^{-U(x(\xi))/kT} J(\xi)`;
:func:`to_cartesian` returns :math:`\log J`.

References:
  Parsons, Holmes, Rojas, Tsai & Strauss. Practical conversion from torsion space to
  Cartesian space for in silico protein synthesis. J. Comput. Chem. 2005 (NeRF).
  Noe, Olsson, Koehler & Wu. Boltzmann generators. Science 2019 (internal coordinates
  for flows).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["ZMatrix", "angle", "dihedral", "to_cartesian", "to_internal", "zmatrix"]


class ZMatrix(NamedTuple):
  """A Z-matrix over ``n`` atoms.

  Attributes:
    seed: The three seed atoms ``(s0, s1, s2)``.
    rows: ``[n - 3, 4]`` integer rows ``(atom, bond atom, angle atom, torsion atom)``, in
      placement order; each row's three reference atoms are seed atoms or earlier rows.
    num_atoms: ``n``.
  """

  seed: tuple[int, int, int]
  rows: np.ndarray
  num_atoms: int

  @property
  def dim(self) -> int:
    """The number of internal coordinates, ``3 n - 6``."""
    return 3 * self.num_atoms - 6

  @property
  def torsions(self) -> slice:
    """Where the torsions sit in the internal-coordinate vector."""
    return slice(2 * self.num_atoms - 3, self.dim)


def zmatrix(seed, rows) -> ZMatrix:
  """Checks and builds a :class:`ZMatrix`.

  Args:
    seed: The three seed atoms ``(s0, s1, s2)``: ``s0`` at the origin, ``s1`` on the
      ``+x`` axis, ``s2`` in the ``xy`` plane.
    rows: ``[n - 3, 4]`` integers ``(atom, bond atom, angle atom, torsion atom)``.

  Returns:
    The :class:`ZMatrix`.

  Raises:
    ValueError: If an atom is placed twice or missing, or a row refers to an atom not
      yet placed, or repeats an atom.
  """
  seed = tuple(int(s) for s in seed)
  rows = np.asarray(rows, np.int32)
  if len(set(seed)) != 3:
    raise ValueError(f"seed must be three distinct atoms, got {seed}")
  if rows.ndim != 2 or rows.shape[1] != 4:
    raise ValueError(f"rows must have shape [n - 3, 4], got {rows.shape}")
  n = rows.shape[0] + 3
  placed = set(seed)
  for row in rows.tolist():
    if len(set(row)) != 4:
      raise ValueError(f"rows: row {row} repeats an atom")
    if row[0] in placed:
      raise ValueError(f"rows: atom {row[0]} is placed twice")
    if not set(row[1:]) <= placed:
      raise ValueError(f"rows: row {row} refers to an atom not yet placed")
    placed.add(row[0])
  if placed != set(range(n)):
    raise ValueError(f"seed and rows must place atoms 0..{n - 1} once each, got {sorted(placed)}")
  return ZMatrix(seed, rows, n)


def _unit(v):
  return v / jnp.linalg.norm(v, axis=-1, keepdims=True)


def angle(a: jax.Array, b: jax.Array, c: jax.Array) -> jax.Array:
  r"""The angle :math:`\angle(a, b, c)` at ``b``, in :math:`[0, \pi]`.

  Computed as :math:`\operatorname{atan2}(|u \times v|, u \cdot v)`, whose gradient stays
  accurate close to 0 and :math:`\pi` (where ``arccos`` loses it); at exactly 0 or
  :math:`\pi` it is not finite.

  Args:
    a: Positions ``[..., 3]``.
    b: Positions ``[..., 3]``, the vertex.
    c: Positions ``[..., 3]``.

  Returns:
    The angles ``[...]``.
  """
  u, v = a - b, c - b
  return jnp.arctan2(jnp.linalg.norm(jnp.cross(u, v), axis=-1), jnp.sum(u * v, -1))


def dihedral(a: jax.Array, b: jax.Array, c: jax.Array, d: jax.Array) -> jax.Array:
  r"""The dihedral angle of ``a-b-c-d`` (IUPAC sign convention), in :math:`(-\pi, \pi]`.

  The angle between the planes ``(a, b, c)`` and ``(b, c, d)``, positive when looking
  along ``b -> c`` the bond ``c-d`` is rotated clockwise from ``b-a``; it equals the
  dihedral of ``d-c-b-a``.

  Args:
    a: Positions ``[..., 3]``.
    b: Positions ``[..., 3]``.
    c: Positions ``[..., 3]``.
    d: Positions ``[..., 3]``.

  Returns:
    The dihedral angles ``[...]``.
  """
  b0, b2 = a - b, d - c
  b1 = _unit(c - b)
  v = b0 - jnp.sum(b0 * b1, -1, keepdims=True) * b1
  w = b2 - jnp.sum(b2 * b1, -1, keepdims=True) * b1
  return jnp.arctan2(jnp.sum(jnp.cross(b1, v) * w, -1), jnp.sum(v * w, -1))


def _place(b, c, e, r, theta, phi):
  """The position at distance ``r`` from ``b``, angle ``theta`` at ``b`` towards ``c``
  and dihedral ``phi`` with ``c`` and ``e``."""
  bc = _unit(c - b)
  n = _unit(jnp.cross(e - c, bc))
  m = jnp.cross(bc, n)
  local = jnp.stack(
    [jnp.cos(theta), jnp.sin(theta) * jnp.cos(phi), jnp.sin(theta) * jnp.sin(phi)], -1
  )
  return b + r[..., None] * (local[..., :1] * bc + local[..., 1:2] * m + local[..., 2:] * n)


def to_cartesian(z: ZMatrix, xi: jax.Array) -> tuple[jax.Array, jax.Array]:
  r"""Cartesian positions from internal coordinates, and :math:`\log J(\xi)`.

  Args:
    z: The :class:`ZMatrix`.
    xi: Internal coordinates ``[..., 3 n - 6]`` (bonds, then angles, then torsions, as in
      the module docstring).

  Returns:
    ``(x, log_j)``: positions ``[..., n, 3]`` in the seed frame and the log volume factor
    :math:`\log J(\xi)` ``[...]``, reduced over the internal coordinates. Non-positive
    bond lengths or angles outside :math:`(0, \pi)` give ``log_j = nan``.

  Raises:
    ValueError: If ``xi``'s last axis is not ``3 n - 6``.
  """
  n = z.num_atoms
  xi = jnp.asarray(xi)
  if xi.ndim < 1 or xi.shape[-1] != z.dim:
    raise ValueError(f"xi must have shape [..., {z.dim}] for {n} atoms, got {xi.shape}")
  bonds, angles, torsions = xi[..., : n - 1], xi[..., n - 1 : 2 * n - 3], xi[..., 2 * n - 3 :]
  zero = jnp.zeros(xi.shape[:-1], xi.dtype)
  s0, s1, s2 = z.seed
  # Placement order: the seed, then the rows; positions are kept in that order (so each
  # row's references are earlier slots) and permuted to atom order at the end.
  order = np.array([s0, s1, s2, *z.rows[:, 0].tolist()])
  slot = np.argsort(order)
  seed = jnp.stack(
    [
      jnp.zeros((*xi.shape[:-1], 3), xi.dtype),
      jnp.stack([bonds[..., 0], zero, zero], -1),
      jnp.stack(
        [bonds[..., 1] * jnp.cos(angles[..., 0]), bonds[..., 1] * jnp.sin(angles[..., 0]), zero], -1
      ),
    ],
    0,
  )
  refs = jnp.asarray(slot[z.rows[:, 1:]])  # [m, 3] slots of (bond, angle, torsion) atoms
  placed = jnp.concatenate([seed, jnp.zeros((n - 3, *seed.shape[1:]), xi.dtype)], 0)

  def step(placed, row):
    i, ref = row
    new = _place(
      placed[ref[0]],
      placed[ref[1]],
      placed[ref[2]],
      bonds[..., 2 + i],
      angles[..., 1 + i],
      torsions[..., i],
    )
    return placed.at[3 + i].set(new), None

  rows = (jnp.arange(n - 3), refs)
  placed, _ = jax.lax.scan(step, placed, rows)
  x = jnp.moveaxis(placed[slot], 0, -2)
  valid = jnp.all(bonds > 0, -1) & jnp.all((angles > 0) & (angles < jnp.pi), -1)
  log_j = 2 * jnp.sum(jnp.log(jnp.abs(bonds)), -1) + jnp.sum(jnp.log(jnp.abs(jnp.sin(angles))), -1)
  return x, jnp.where(valid, log_j, jnp.nan)


def to_internal(z: ZMatrix, x: jax.Array) -> jax.Array:
  """Internal coordinates of Cartesian positions (the inverse of :func:`to_cartesian` up
  to a rotation and translation of ``x``).

  Args:
    z: The :class:`ZMatrix`.
    x: Positions ``[..., n, 3]``.

  Returns:
    Internal coordinates ``[..., 3 n - 6]``: bonds, angles, torsions.

  Raises:
    ValueError: If ``x`` is not ``[..., n, 3]``.
  """
  x = jnp.asarray(x)
  if x.ndim < 2 or x.shape[-2:] != (z.num_atoms, 3):
    raise ValueError(f"x must have shape [..., {z.num_atoms}, 3], got {x.shape}")
  s0, s1, s2 = z.seed
  a, b, c, e = (z.rows[:, k] for k in range(4))
  bonds = jnp.concatenate(
    [
      jnp.linalg.norm(x[..., [s1, s2], :] - x[..., [s0, s0], :], axis=-1),
      jnp.linalg.norm(x[..., a, :] - x[..., b, :], axis=-1),
    ],
    -1,
  )
  angles = jnp.concatenate(
    [
      angle(x[..., s1, :], x[..., s0, :], x[..., s2, :])[..., None],
      angle(x[..., a, :], x[..., b, :], x[..., c, :]),
    ],
    -1,
  )
  torsions = dihedral(x[..., a, :], x[..., b, :], x[..., c, :], x[..., e, :])
  return jnp.concatenate([bonds, angles, torsions], -1)
