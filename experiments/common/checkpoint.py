"""Checkpoints of parameter pytrees (orbax): restore-or-initialise caches, and the
per-stage checkpoints of a staged job through an orbax ``CheckpointManager``."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from typing import Any

import jax
import orbax.checkpoint as ocp

from experiments.common import results


def _checkpointer() -> ocp.StandardCheckpointer:
  return ocp.StandardCheckpointer()


def save(path: str, tree: Any) -> None:
  """Writes ``tree`` to ``path`` (a directory), replacing an older checkpoint."""
  path = os.path.abspath(path)
  ckpt = _checkpointer()
  ckpt.save(path, tree, force=True)
  ckpt.wait_until_finished()


class CheckpointError(RuntimeError):
  """A checkpoint exists but cannot be read as the expected tree."""


def restore(path: str, like: Any) -> Any | None:
  """The checkpoint at ``path`` with the structure of ``like``, or None if absent.

  Raises:
    CheckpointError: naming the directory (and ``--fresh``) when it exists but
      is empty, truncated or of another shape.
  """
  path = os.path.abspath(path)
  if not os.path.isdir(path):
    return None
  abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
  try:
    return _checkpointer().restore(path, abstract)
  except Exception as e:  # orbax raises many types (ValueError, FileNotFoundError, ...)
    raise _unreadable(path, e) from e


def _unreadable(path: str, e: Exception) -> CheckpointError:
  return CheckpointError(
    f"cannot read the checkpoint in {path} ({type(e).__name__}: "
    f"{str(e).splitlines()[0][:200] if str(e) else ''}): it is empty, truncated or "
    f"was written for another model shape. Delete that directory, or rerun with "
    f"--fresh to start the whole run over."
  )


class Stages:
  """The checkpoints of one staged job: an orbax ``CheckpointManager`` over
  ``ckpt_dir`` whose step is the stage index (``<ckpt_dir>/stage_<i>``), saving
  synchronously so that a save has finished when it returns. The directory is made on
  the first save."""

  def __init__(self, ckpt_dir: str):
    self.directory = os.path.abspath(ckpt_dir)
    self._manager = ocp.CheckpointManager(
      self.directory,
      options=ocp.CheckpointManagerOptions(
        step_prefix="stage", create=False, enable_async_checkpointing=False
      ),
    )

  def path(self, stage: int) -> str:
    """Where the state after ``stage`` is (or would be) saved."""
    return os.path.join(self.directory, f"stage_{stage}")

  def saved(self) -> list[int]:
    """The stages with a checkpoint on disk, oldest first."""
    if not os.path.isdir(self.directory):
      return []
    self._manager.reload()
    return sorted(self._manager.all_steps())

  def save(self, stage: int, tree: Any) -> None:
    self._manager.save(stage, args=ocp.args.StandardSave(tree), force=True)
    self._manager.wait_until_finished()

  def restore(self, stage: int, like: Any) -> Any | None:
    """The state after ``stage`` with the structure of ``like``, or None if absent.

    Raises:
      CheckpointError: naming the directory (and ``--fresh``) when it exists but is
        empty, truncated or of another shape.
    """
    if stage not in self.saved():
      return None
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
    try:
      return self._manager.restore(stage, args=ocp.args.StandardRestore(abstract))
    except Exception as e:  # orbax raises many types (ValueError, FileNotFoundError, ...)
      raise _unreadable(self.path(stage), e) from e

  def restore_latest(self, like: Any) -> Any | None:
    """The newest saved state (None if there is none)."""
    saved = self.saved()
    return self.restore(saved[-1], like) if saved else None

  def delete(self, keep: Callable[[int], bool]) -> None:
    """Deletes the checkpoint of every stage ``i`` with ``not keep(i)``."""
    for stage in self.saved():
      if not keep(stage):
        self._manager.delete(stage)


def _made_by_path(path: str) -> str:
  return os.path.abspath(path).rstrip(os.sep) + ".made_by.json"


def restore_or_init(
  path: str, init: Callable[[], Any], train: Callable[[Any], Any], *, made_by: dict
) -> tuple[Any, bool]:
  """``(tree, restored)``: the saved tree, or ``train(init())`` saved to ``path``.

  ``made_by`` is what the cached tree depends on (the config fields that
  ``train`` reads, the data); it is written beside the checkpoint, and a
  checkpoint made by anything else is retrained and replaced (with a log line),
  never silently reused under a new config.
  """
  start = init()
  made_by = json.loads(json.dumps(made_by, default=str))  # the form it is saved in
  record = _made_by_path(path)
  saved_by = None
  if os.path.exists(record):
    with open(record) as f:
      saved_by = json.load(f)
  saved = None
  if os.path.isdir(path):
    if saved_by == made_by:
      saved = restore(path, start)
    else:
      changed = sorted(
        k for k in set(made_by) | set(saved_by or {}) if (saved_by or {}).get(k) != made_by.get(k)
      )
      logging.getLogger(__name__).warning(
        "the checkpoint in %s was made by another config (%s differ); retraining it",
        path,
        ", ".join(changed) if saved_by is not None else "no record of it",
      )
  if saved is not None:
    return saved, True
  tree = train(start)
  save(path, tree)
  results.write_text(record, json.dumps(made_by, indent=2, sort_keys=True))
  return tree, False
