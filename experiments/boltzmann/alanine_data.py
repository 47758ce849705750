"""Export alanine dipeptide's AMBER force field and OpenMM reference frames into the package.

Usage:
  make molecules  # installs openmm and openmmtools' package data
  python -m experiments.boltzmann.alanine_data [--out fdiv_jax/data/alanine_dipeptide]

Reads ``alanine-dipeptide.prmtop`` / ``.crd`` (AMBER ff96, from ``openmmtools``' package
data, MIT licence) without importing openmmtools, builds OpenMM's vacuum ``System``
(no cutoff, no constraints, no implicit solvent) and writes:

* ``force_field.npz``: the parameters of every term of that ``System`` (harmonic bonds and
  angles, periodic torsions, per-atom charges and Lennard-Jones parameters, the 1-2 / 1-3
  exclusions and scaled 1-4 exceptions), the atom names, elements and masses, the energy
  minimum OpenMM finds from the ``.crd`` coordinates, and OpenMM's Coulomb constant read
  off a two-charge system;
* ``openmm_frames.npz``: frames of Langevin dynamics at 300 K and 1 000 K (OpenMM's
  Reference platform, 1 fs steps, friction 1/ps) with OpenMM's potential energy (kJ/mol),
  forces (kJ/mol/nm) and the energy of each force-field term, against which
  ``tests/test_targets_alanine.py`` checks :func:`fdiv_jax.targets.alanine_dipeptide_energy`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os

import numpy as np

OUT = os.path.join("fdiv_jax", "data", "alanine_dipeptide")
TERMS = ("HarmonicBondForce", "HarmonicAngleForce", "PeriodicTorsionForce", "NonbondedForce")


def source_dir() -> str:
  spec = importlib.util.find_spec("openmmtools")
  if spec is None or spec.origin is None:
    raise SystemExit("openmmtools' package data is missing: run `make molecules` first")
  return os.path.join(os.path.dirname(spec.origin), "data", "alanine-dipeptide-gbsa")


def vacuum_system():
  import openmm.app as app

  d = source_dir()
  prmtop = app.AmberPrmtopFile(os.path.join(d, "alanine-dipeptide.prmtop"))
  crd = app.AmberInpcrdFile(os.path.join(d, "alanine-dipeptide.crd"))
  system = prmtop.createSystem(nonbondedMethod=app.NoCutoff, constraints=None, implicitSolvent=None)
  for i, force in enumerate(system.getForces()):
    force.setForceGroup(i)
  return prmtop.topology, system, crd.getPositions(asNumpy=True)


def coulomb_constant() -> float:
  """OpenMM's 1 / (4 pi eps0) in kJ nm / (mol e^2): the energy of two unit charges 1 nm apart."""
  import openmm

  system = openmm.System()
  nb = openmm.NonbondedForce()
  nb.setNonbondedMethod(openmm.NonbondedForce.NoCutoff)
  for _ in range(2):
    system.addParticle(1.0)
    nb.addParticle(1.0, 1.0, 0.0)
  system.addForce(nb)
  context = openmm.Context(
    system, openmm.VerletIntegrator(1e-3), openmm.Platform.getPlatformByName("Reference")
  )
  context.setPositions(np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]))
  return float(context.getState(getEnergy=True).getPotentialEnergy()._value)


def parameters(topology, system) -> dict:
  import openmm

  forces = {type(f).__name__: f for f in system.getForces()}
  out = {}
  bonds = forces["HarmonicBondForce"]
  rows = [bonds.getBondParameters(i) for i in range(bonds.getNumBonds())]
  out["bond_index"] = np.array([[r[0], r[1]] for r in rows], np.int32)
  out["bond_length"] = np.array([r[2]._value for r in rows])
  out["bond_k"] = np.array([r[3]._value for r in rows])
  angles = forces["HarmonicAngleForce"]
  rows = [angles.getAngleParameters(i) for i in range(angles.getNumAngles())]
  out["angle_index"] = np.array([[r[0], r[1], r[2]] for r in rows], np.int32)
  out["angle_theta"] = np.array([r[3]._value for r in rows])
  out["angle_k"] = np.array([r[4]._value for r in rows])
  torsions = forces["PeriodicTorsionForce"]
  rows = [torsions.getTorsionParameters(i) for i in range(torsions.getNumTorsions())]
  out["torsion_index"] = np.array([[r[0], r[1], r[2], r[3]] for r in rows], np.int32)
  out["torsion_periodicity"] = np.array([r[4] for r in rows], np.int32)
  out["torsion_phase"] = np.array([r[5]._value for r in rows])
  out["torsion_k"] = np.array([r[6]._value for r in rows])
  nb = forces["NonbondedForce"]
  assert nb.getNonbondedMethod() == openmm.NonbondedForce.NoCutoff
  rows = [nb.getParticleParameters(i) for i in range(nb.getNumParticles())]
  out["charge"] = np.array([r[0]._value for r in rows])
  out["sigma"] = np.array([r[1]._value for r in rows])
  out["epsilon"] = np.array([r[2]._value for r in rows])
  rows = [nb.getExceptionParameters(i) for i in range(nb.getNumExceptions())]
  out["exception_index"] = np.array([[r[0], r[1]] for r in rows], np.int32)
  out["exception_charge_product"] = np.array([r[2]._value for r in rows])
  out["exception_sigma"] = np.array([r[3]._value for r in rows])
  out["exception_epsilon"] = np.array([r[4]._value for r in rows])
  atoms = list(topology.atoms())
  out["atom_name"] = np.array([f"{a.residue.name}:{a.name}" for a in atoms])
  out["element"] = np.array([a.element.symbol for a in atoms])
  out["mass"] = np.array([system.getParticleMass(i)._value for i in range(len(atoms))])
  out["coulomb_constant"] = np.array(coulomb_constant())
  return out


def simulate(system, positions, temperature, frames, every, seed):
  """``frames`` Langevin frames ``every`` steps apart after ``10 * every`` steps of burn-in."""
  import openmm
  import openmm.unit as u

  integrator = openmm.LangevinMiddleIntegrator(
    temperature * u.kelvin, 1.0 / u.picosecond, 1.0 * u.femtosecond
  )
  integrator.setRandomNumberSeed(seed)
  context = openmm.Context(system, integrator, openmm.Platform.getPlatformByName("Reference"))
  context.setPositions(positions)
  context.setVelocitiesToTemperature(temperature * u.kelvin, seed)
  integrator.step(10 * every)
  out = []
  for _ in range(frames):
    integrator.step(every)
    out.append(context.getState(getPositions=True).getPositions(asNumpy=True)._value)
  return np.stack(out)


def evaluate(system, x):
  """OpenMM's potential energy, forces and per-term energies at frames ``x [n, 22, 3]``."""
  import openmm

  context = openmm.Context(
    system, openmm.VerletIntegrator(1e-3), openmm.Platform.getPlatformByName("Reference")
  )
  energy, forces, terms = [], [], []
  for frame in x:
    context.setPositions(frame)
    state = context.getState(getEnergy=True, getForces=True)
    energy.append(state.getPotentialEnergy()._value)
    forces.append(state.getForces(asNumpy=True)._value)
    terms.append(
      [
        context.getState(getEnergy=True, groups={i}).getPotentialEnergy()._value
        for i in range(len(TERMS))
      ]
    )
  return np.array(energy), np.stack(forces), np.array(terms)


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--out", default=OUT)
  parser.add_argument("--seed", type=int, default=2025)
  args = parser.parse_args(argv)
  import openmm

  topology, system, crd = vacuum_system()
  names = [type(f).__name__ for f in system.getForces()][: len(TERMS)]
  assert tuple(names) == TERMS, names
  ff = parameters(topology, system)
  context = openmm.Context(
    system, openmm.VerletIntegrator(1e-3), openmm.Platform.getPlatformByName("Reference")
  )
  context.setPositions(crd)
  openmm.LocalEnergyMinimizer.minimize(context, 1e-3)
  minimum = context.getState(getPositions=True).getPositions(asNumpy=True)._value
  ff["minimum"] = np.asarray(minimum)
  frames = np.concatenate(
    [
      simulate(system, minimum, 300.0, 24, 2_000, args.seed),
      simulate(system, minimum, 1000.0, 8, 2_000, args.seed + 1),
    ]
  )
  energy, forces, terms = evaluate(system, np.concatenate([minimum[None], frames]))
  os.makedirs(args.out, exist_ok=True)
  np.savez(os.path.join(args.out, "force_field.npz"), **ff)
  np.savez(
    os.path.join(args.out, "openmm_frames.npz"),
    positions=np.concatenate([minimum[None], frames]),
    temperature=np.array([0.0] + [300.0] * 24 + [1000.0] * 8),
    energy=energy,
    forces=forces,
    term_energy=terms,
    term_names=np.array(TERMS),
  )
  with open(os.path.join(args.out, "provenance.json"), "w") as f:
    json.dump(
      {
        "source": "openmmtools data/alanine-dipeptide-gbsa (AMBER ff96 prmtop / crd), vacuum",
        "openmm": openmm.__version__,
        "command": "python -m experiments.boltzmann.alanine_data",
        "seed": args.seed,
      },
      f,
      indent=1,
    )
  print(f"wrote {len(energy)} OpenMM frames and the force field to {args.out}")


if __name__ == "__main__":
  main()
