"""Multi-process helpers the experiments need: join a job, the main process, arrays to host."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils


def initialize_distributed(**kwargs: Any) -> None:
  """Join a multi-host job (``jax.distributed.initialize``), once per process.

  On Cloud TPU and SLURM / Open MPI clusters the coordinator, process count and
  id are detected; elsewhere pass ``coordinator_address``, ``num_processes``
  and ``process_id``. Afterwards :func:`data_mesh` spans every host's devices.
  """
  jax.distributed.initialize(**kwargs)


def is_main_process() -> bool:
  """Whether this is process 0 of the job (always true in a one-process run)."""
  return jax.process_index() == 0


def to_host(tree: Any) -> Any:
  """Every array of ``tree`` as a whole NumPy array, on every process.

  Arrays whose shards all live on this process's devices (every array of a
  one-process run) and replicated arrays are copied from a local shard; an
  array split over the devices of several processes is gathered
  (``multihost_utils.process_allgather``, a collective: every process must
  call it in the same order). Non-array leaves are passed to ``np.asarray``.
  """

  def one(x):
    if not isinstance(x, jax.Array) or x.is_fully_addressable:
      return np.asarray(x)
    if x.sharding.is_fully_replicated:
      return np.asarray(x.addressable_data(0))
    return np.asarray(multihost_utils.process_allgather(x, tiled=True))

  return jax.tree.map(one, tree)
