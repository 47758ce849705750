r"""Data parallelism over the sample axis, with ``jax.sharding``.

One mesh axis, ``"data"``, spans the devices. Batches are sharded along their
leading (sample) axis, parameters are replicated, and XLA's SPMD partitioner
inserts the collectives (the all-reduce of a mean over samples, of a gradient
over the batch). There is no hand-written communication.

Usage: set the mesh once, around the training loop::

  mesh = fdiv_jax.parallel.data_mesh()          # all devices (all hosts)
  with jax.set_mesh(mesh):
    state, metrics = train_step(state, key)     # jitted; calls shard_batch

Inside the context, :func:`shard_batch` constrains a freshly drawn batch to be
split over ``"data"`` (so every device draws, transforms and scores only its
slice; with JAX's partitionable threefry the draws equal the single-device
ones), and the library's sample reductions follow it:

* Monte-Carlo losses (``fdiv_jax.monte_carlo``) are elementwise maps followed
  by a mean, which the partitioner splits as it stands;
* blocked kernel sums (``fdiv_jax.kernels.log_kernel_sum``, and with it the
  Cauchy-Schwarz divergences and MMD) run their rows on each device against all
  columns via :func:`map_rows` (``jax.shard_map``), so memory per device stays
  O(block^2 + n + m) and the work is split ``devices`` ways.

Outside a mesh context (or on a one-device mesh) every function here is the
identity and the code runs as written.

Multi-host (Cloud TPU pods, multi-node GPU, or several processes on one
machine): call ``jax.distributed.initialize`` first on every process, before
any JAX computation; :func:`data_mesh` then spans the devices of all hosts and
the same program runs SPMD on each (the experiments' ``experiments.common.distributed``
holds the host-side helpers: joining a job, gathering arrays, the main process).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from fdiv_jax import math as fmath

__all__ = [
  "DATA_AXIS",
  "data_axis_size",
  "data_mesh",
  "map_rows",
  "replicate",
  "shard_batch",
]

DATA_AXIS = "data"


def data_mesh(devices: Sequence[jax.Device] | None = None, *, axis_name: str = DATA_AXIS) -> Mesh:
  """A one-axis mesh over ``devices`` (default: every device of every host).

  The axis is of type ``Auto``: shardings are hints the SPMD partitioner
  propagates, so unannotated code runs unchanged.

  Args:
    devices: The devices, in mesh order (not empty); None (the default) for
      ``jax.devices()``, every device of every host.
    axis_name: The name of the mesh axis (default ``"data"``).

  Returns:
    A ``jax.sharding.Mesh`` of shape ``(len(devices),)`` with the one axis ``axis_name``.
  """
  devices = jax.devices() if devices is None else list(devices)
  if not devices:
    raise ValueError("devices must name at least one device, got an empty list")
  return Mesh(np.asarray(devices), (axis_name,), axis_types=(AxisType.Auto,))


def data_axis_size(axis_name: str = DATA_AXIS) -> int:
  """Number of devices along ``axis_name`` in the current mesh context (1 if none).

  Args:
    axis_name: The mesh axis (default ``"data"``).

  Returns:
    An ``int``: the size of ``axis_name`` in the current ``jax.set_mesh`` context; 1
    outside a mesh context or when its mesh has no axis ``axis_name``.
  """
  mesh = jax.sharding.get_abstract_mesh()
  if mesh.empty or axis_name not in mesh.axis_names:
    return 1
  return int(mesh.shape[axis_name])


def shard_batch(tree: Any, *, axis_name: str = DATA_AXIS) -> Any:
  """Constrain every array of ``tree`` to be split along its leading axis.

  Works inside ``jit`` (a sharding constraint) and outside (a transfer). The
  leading axis must divide evenly among the devices: a clear error otherwise.
  The identity outside a mesh context.

  Args:
    tree: An array or a pytree of arrays, each ``[n, ...]`` with a leading (sample) axis
      whose length ``n`` is divisible by the number of devices along ``axis_name``.
    axis_name: The mesh axis to split over (default ``"data"``).

  Returns:
    ``tree`` with the same structure, shapes and values, every array split along its
    leading axis over ``axis_name``; ``tree`` itself outside a mesh context or on one
    device.
  """
  size = data_axis_size(axis_name)
  if size == 1:
    return tree

  def one(x):
    x = jnp.asarray(x)
    if x.ndim == 0 or x.shape[0] % size:
      raise ValueError(
        f"shard_batch: the leading (sample) axis must be divisible by the {size} "
        f"devices of mesh axis {axis_name!r}, got an array of shape {x.shape}"
      )
    if isinstance(x, jax.core.Tracer):
      return jax.lax.with_sharding_constraint(x, P(axis_name))
    return jax.device_put(x, P(axis_name))

  return jax.tree.map(one, tree)


def replicate(tree: Any, mesh: Mesh | None = None) -> Any:
  """Place every array of ``tree`` on all devices (parameters, optimiser state).

  ``mesh`` defaults to the current ``jax.set_mesh`` context; the identity when
  there is none (or it has one device).

  Args:
    tree: An array or a pytree of arrays.
    mesh: The mesh to replicate over; None (the default) for the current
      ``jax.set_mesh`` context.

  Returns:
    ``tree`` with the same structure and values, every array placed whole on every device
    of the mesh (``PartitionSpec()``); ``tree`` itself when ``mesh`` is None and there is
    no mesh context or a one-device one.
  """
  if mesh is not None:
    return jax.device_put(tree, NamedSharding(mesh, P()))
  if jax.sharding.get_abstract_mesh().empty or jax.sharding.get_abstract_mesh().size == 1:
    return tree
  return jax.device_put(tree, P())


def map_rows(
  fn: Callable[..., jax.Array], rows: Any, *replicated: Any, axis_name: str = DATA_AXIS
) -> jax.Array:
  """``fn(rows, *replicated)`` with ``rows`` split over the devices.

  ``rows`` is an array or a pytree of arrays with a common leading axis, and
  ``fn`` must act row-wise: ``fn(rows)[i]`` depends on row ``i`` of ``rows``
  and on the ``replicated`` arguments only (as a kernel row sum does). Each
  device runs ``fn`` on its slice of rows (``jax.shard_map``; ``replicated``
  is gathered once per device), and the result stays split along its leading
  axis. Rows that do not divide evenly are padded with copies of the first row
  and the padding is dropped. Without a mesh context: ``fn(rows, *replicated)``.

  Args:
    fn: ``fn(rows, *replicated) -> [n, ...]``, row-wise in ``rows``.
    rows: An array ``[n, ...]``, or a pytree of arrays with a common leading axis ``n``.
    *replicated: Further arguments (arrays or pytrees), passed whole to every device.
    axis_name: The mesh axis to split the rows over (default ``"data"``).

  Returns:
    ``fn(rows, *replicated)``, an array ``[n, ...]`` split along its leading axis over
    ``axis_name``.
  """
  size = data_axis_size(axis_name)
  if size == 1:
    return fn(rows, *replicated)
  n = jax.tree.leaves(rows)[0].shape[0]
  rows = jax.tree.map(lambda r: fmath.pad_rows(r, size), rows)
  out = jax.shard_map(
    fn, in_specs=(P(axis_name),) + (P(),) * len(replicated), out_specs=P(axis_name), check_vma=False
  )(rows, *replicated)
  return out[:n]
