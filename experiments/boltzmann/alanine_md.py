"""The MD reference for alanine dipeptide in vacuum: OpenMM Langevin dynamics at 300 K.

Usage:
  make molecules
  python -m experiments.boltzmann.alanine_md --workdir runs/alanine_md --nanoseconds 20

The same vacuum ``System`` as :func:`fdiv_jax.targets.alanine_dipeptide` (AMBER ff96, no
cutoff, no constraints; ``alanine_data.vacuum_system``), Langevin middle integrator at
300 K, friction 1/ps, 1 fs steps, OpenMM's CPU platform, one frame per picosecond after a
100 ps burn-in from the energy minimum. The run is cut into chunks of one nanosecond: each
chunk writes its frames (``frames_<k>.npy``, float32 nm), then ``progress.json`` (the
number of finished chunks and the simulation state), each by an atomic rename; a killed
run resumes from the state after its last finished chunk (frames of an unfinished chunk
are overwritten), the integrator's noise reseeded with ``seed + chunk``.

Writes ``md.json``: frames, nanoseconds, wall time, the Ramachandran basin populations and
free energies (kT) of the whole run and of each half (the convergence check), the KL
divergence between the two halves' Ramachandran histograms; and ``ramachandran.png``.
Basins: ``c7ax`` (0 <= phi < 2.2 rad, psi < 0), ``alpha_l`` (0 <= phi < 2.2 rad,
psi >= 0) and ``left`` (the rest: C7eq, C5 / beta, which wraps past phi = -pi, and
alphaR); free energies relative to ``left``.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from experiments.boltzmann import alanine_data

TEMPERATURE = 300.0
BINS = 60
PHI_BARRIER = 2.2  # rad: the C5 / beta basin wraps past phi = -pi into phi > this
BASINS = ("left", "c7ax", "alpha_l")


def basins(phi: np.ndarray, psi: np.ndarray) -> dict[str, np.ndarray]:
  """Membership of each frame in the three basins (the module docstring)."""
  right = (phi >= 0) & (phi < PHI_BARRIER)
  return {"left": ~right, "c7ax": right & (psi < 0), "alpha_l": right & (psi >= 0)}


def basin_free_energies(phi, psi, weights=None) -> dict:
  """Populations and free energies ``-log(P_basin / P_left)`` in kT, optionally weighted."""
  w = np.ones_like(phi) if weights is None else weights
  pops = {k: float(np.sum(w[m]) / np.sum(w)) for k, m in basins(phi, psi).items()}
  free = {k: float(-np.log(pops[k] / pops["left"])) if pops[k] > 0 else float("inf") for k in pops}
  return {"population": pops, "free_energy_kt": free}


def histogram(phi, psi, weights=None, bins=BINS) -> np.ndarray:
  """The normalised Ramachandran histogram ``[bins, bins]`` on ``[-pi, pi)^2``."""
  edges = np.linspace(-np.pi, np.pi, bins + 1)
  h, _, _ = np.histogram2d(phi, psi, bins=[edges, edges], weights=weights)
  return h / h.sum()


def histogram_kl(p: np.ndarray, q: np.ndarray, floor: float = 1e-6) -> float:
  """KL(p || q) between two histograms, each floored at ``floor`` and renormalised."""
  p, q = np.maximum(p, floor), np.maximum(q, floor)
  p, q = p / p.sum(), q / q.sum()
  return float(np.sum(p * np.log(p / q)))


def dihedrals(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  from fdiv_jax import targets

  phi, psi = targets.alanine_dipeptide_dihedrals(x)
  return np.asarray(phi, np.float64), np.asarray(psi, np.float64)


def simulate(workdir: str, nanoseconds: int, seed: int, threads: int) -> float:
  """Runs (or resumes) the chunks; returns the wall seconds of this call."""
  import openmm
  import openmm.unit as u

  _, system, crd = alanine_data.vacuum_system()
  progress_path = os.path.join(workdir, "progress.json")
  progress = {"done": 0, "state": None}
  if os.path.exists(progress_path):
    with open(progress_path) as f:
      progress = json.load(f)
  done = progress["done"]
  integrator = openmm.LangevinMiddleIntegrator(
    TEMPERATURE * u.kelvin, 1.0 / u.picosecond, 1.0 * u.femtosecond
  )
  integrator.setRandomNumberSeed(seed + done)
  platform = openmm.Platform.getPlatformByName("CPU")
  context = openmm.Context(system, integrator, platform, {"Threads": str(threads)})
  if progress["state"] is not None:
    context.setState(openmm.XmlSerializer.deserialize(progress["state"]))
  else:
    context.setPositions(crd)
    openmm.LocalEnergyMinimizer.minimize(context, 1e-3)
    context.setVelocitiesToTemperature(TEMPERATURE * u.kelvin, seed)
    integrator.step(100_000)  # 100 ps burn-in
  start = time.time()
  try:
    from tqdm import tqdm

    chunks = tqdm(range(done, nanoseconds), initial=done, total=nanoseconds, unit="ns")
  except ImportError:
    chunks = range(done, nanoseconds)
  for k in chunks:
    frames = np.empty((1000, 22, 3), np.float32)
    for i in range(1000):
      integrator.step(1000)
      frames[i] = context.getState(getPositions=True).getPositions(asNumpy=True)._value
    path = os.path.join(workdir, f"frames_{k:04d}.npy")
    with open(path + ".tmp", "wb") as f:
      np.save(f, frames)
    os.replace(path + ".tmp", path)
    state = context.getState(getPositions=True, getVelocities=True)
    with open(progress_path + ".tmp", "w") as f:
      json.dump({"done": k + 1, "state": openmm.XmlSerializer.serialize(state)}, f)
    os.replace(progress_path + ".tmp", progress_path)
  return time.time() - start


def analyse(workdir: str, wall_s: float) -> dict:
  with open(os.path.join(workdir, "progress.json")) as f:
    done = json.load(f)["done"]
  files = [os.path.join(workdir, f"frames_{k:04d}.npy") for k in range(done)]
  x = np.concatenate([np.load(f) for f in files]).astype(np.float64)
  phi, psi = dihedrals(x)
  half = len(phi) // 2
  out = {
    "frames": len(phi),
    "nanoseconds": len(files),
    "temperature_k": TEMPERATURE,
    "all": basin_free_energies(phi, psi),
    "first_half": basin_free_energies(phi[:half], psi[:half]),
    "second_half": basin_free_energies(phi[half:], psi[half:]),
    "halves_histogram_kl": histogram_kl(
      histogram(phi[:half], psi[:half]), histogram(phi[half:], psi[half:])
    ),
  }
  path = os.path.join(workdir, "md.json")
  if os.path.exists(path):
    with open(path) as f:
      wall_s += json.load(f).get("wall_s", 0.0)
  out["wall_s"] = wall_s
  with open(path, "w") as f:
    json.dump(out, f, indent=1)
  np.save(os.path.join(workdir, "dihedrals.npy"), np.stack([phi, psi], -1).astype(np.float32))
  plot(phi, psi, os.path.join(workdir, "ramachandran.png"), f"MD, {len(files)} ns at 300 K")
  return out


def plot(phi, psi, path, title, weights=None) -> None:
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  h = histogram(phi, psi, weights)
  fig, ax = plt.subplots(figsize=(4.2, 4))
  with np.errstate(divide="ignore"):
    ax.imshow(
      -np.log(h.T), origin="lower", extent=[-180, 180, -180, 180], cmap="viridis_r", vmax=12
    )
  ax.set(xlabel="phi (deg)", ylabel="psi (deg)", title=title)
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", default="runs/alanine_md")
  parser.add_argument("--nanoseconds", type=int, default=20)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--threads", type=int, default=2)
  args = parser.parse_args(argv)
  os.makedirs(args.workdir, exist_ok=True)
  wall = simulate(args.workdir, args.nanoseconds, args.seed, args.threads)
  out = analyse(args.workdir, wall)
  print(json.dumps(out, indent=1))


if __name__ == "__main__":
  main()
