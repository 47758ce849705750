"""Restore-or-initialise checkpoints of parameter pytrees (orbax)."""

from __future__ import annotations

import os
from typing import Any, Callable

import jax
import orbax.checkpoint as ocp


def _checkpointer() -> ocp.StandardCheckpointer:
  return ocp.StandardCheckpointer()


def save(path: str, tree: Any) -> None:
  """Writes ``tree`` to ``path`` (a directory), replacing an older checkpoint."""
  path = os.path.abspath(path)
  ckpt = _checkpointer()
  ckpt.save(path, tree, force=True)
  ckpt.wait_until_finished()


def restore(path: str, like: Any) -> Any | None:
  """The checkpoint at ``path`` with the structure of ``like``, or None if absent."""
  path = os.path.abspath(path)
  if not os.path.isdir(path):
    return None
  abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
  return _checkpointer().restore(path, abstract)


def restore_or_init(path: str, init: Callable[[], Any],
                    train: Callable[[Any], Any]) -> tuple[Any, bool]:
  """``(tree, restored)``: the saved tree, or ``train(init())`` saved to ``path``."""
  start = init()
  saved = restore(path, start)
  if saved is not None:
    return saved, True
  tree = train(start)
  save(path, tree)
  return tree, False
