"""Restore-or-initialise checkpoints of parameter pytrees (orbax)."""

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
    raise CheckpointError(
      f"cannot read the checkpoint in {path} ({type(e).__name__}: "
      f"{str(e).splitlines()[0][:200] if str(e) else ''}): it is empty, truncated or "
      f"was written for another model shape. Delete that directory, or rerun with "
      f"--fresh to start the whole run over."
    ) from e


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
