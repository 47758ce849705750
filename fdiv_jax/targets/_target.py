"""The :class:`Target` record and the data files shipped with the package."""

from __future__ import annotations

import importlib.resources
import io
import json
from collections.abc import Callable
from typing import NamedTuple

import jax
import numpy as np

_BENCHMARK = "data/sampling_benchmark"


class Target(NamedTuple):
  r"""An unnormalised target density.

  Attributes:
    name: Short name.
    dim: Event dimension ``d``.
    log_prob: ``x [..., d] -> [...]``, the (unnormalised) log density
      :math:`\log\gamma = -U`.
    log_z: :math:`\log\int\gamma`: exact, or a stored reference estimate
      (then ``log_z_se`` is its standard error), or None if unknown.
    sample: ``(key, n) -> [n, d]`` exact samples, or None.
    means: Mode centres ``[K, d]`` (for mode coverage), or None.
    log_z_se: Standard error of a reference ``log_z`` (0 when exact), or None.
    reference_samples: ``() -> [M, d]`` approximate posterior samples from a long
      MCMC run (for EUBO, forward ESS and transport distances), or None.
    moments: Ground-truth posterior moments (:class:`PosteriorMoments`), or None.
    circular: Indices of the coordinates that live on the circle :math:`[-\pi, \pi)`
      (a molecule's torsions; a flow for the target treats them as angles), or ``()``.
  """

  name: str
  dim: int
  log_prob: Callable[[jax.Array], jax.Array]
  log_z: float | None
  sample: Callable[[jax.Array, int], jax.Array] | None
  means: jax.Array | None = None
  log_z_se: float | None = None
  reference_samples: Callable[[], np.ndarray] | None = None
  moments: PosteriorMoments | None = None
  circular: tuple[int, ...] = ()


def data_text(name: str) -> str:
  """The text of ``fdiv_jax/data/sampling_benchmark/<name>``."""
  return importlib.resources.files("fdiv_jax").joinpath(f"{_BENCHMARK}/{name}").read_text()


def load_csv(name: str) -> np.ndarray:
  """A shipped comma-separated table (``#`` lines are comments) as float64 ``[rows, cols]``."""
  return np.loadtxt(io.StringIO(data_text(name)), delimiter=",", comments="#", ndmin=2)


def load_npy(name: str) -> np.ndarray:
  """A shipped ``.npy`` array."""
  path = importlib.resources.files("fdiv_jax").joinpath(f"{_BENCHMARK}/{name}")
  with path.open("rb") as f:
    return np.load(f)


def reference_log_z(name: str) -> tuple[float | None, float | None]:
  """``(log Z, standard error)`` stored for target ``name`` in ``reference_log_z.json``
  (written by ``python -m experiments.boltzmann.reference``), or ``(None, None)``."""
  try:
    table = json.loads(data_text("reference_log_z.json"))
  except FileNotFoundError:
    return None, None
  entry = table.get("targets", {}).get(name)
  if entry is None:
    return None, None
  return float(entry["log_z"]), float(entry["standard_error"])


class PosteriorMoments(NamedTuple):
  r"""Ground-truth posterior moments of a target's constrained coordinates.

  Attributes:
    mean: Posterior means ``[m]``.
    std: Posterior standard deviations ``[m]``.
    mean_standard_error: Monte-Carlo standard error of ``mean`` ``[m]``.
    transform: ``x [..., d] -> [..., m]``, the parameter vector in the coordinates the
      moments are of (e.g. a scale instead of its unconstrained value).
    source: Where the moments come from.
  """

  mean: np.ndarray
  std: np.ndarray
  mean_standard_error: np.ndarray
  transform: Callable[[jax.Array], jax.Array]
  source: str


def gym_moments(name: str, transform: Callable[[jax.Array], jax.Array]) -> PosteriorMoments:
  """Inference Gym's ground-truth moments of target ``name`` from
  ``inference_gym_ground_truth.json`` (written by ``python -m experiments.boltzmann.gym_data``)."""
  entry = json.loads(data_text("inference_gym_ground_truth.json"))[name]
  return PosteriorMoments(
    np.asarray(entry["mean"]),
    np.asarray(entry["std"]),
    np.asarray(entry["mean_standard_error"]),
    transform,
    f"{entry['source']} ({entry['command']})",
  )
