"""The inner loop every experiment shares: ``steps`` calls of a pure train step in one
``lax.scan`` (the state is flax's ``TrainState`` or a subclass; each step folds its own
``state.step`` into the key, so a step is a pure function of its inputs), and the same
for every seed side by side (``vmap`` over a leading seeds axis)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax


def scan_steps(train_step: Callable, state: Any, key: jax.Array, steps: int):
  """``steps`` calls of ``train_step(state, key) -> (state, metrics)``, the same ``key``
  each time, in one ``lax.scan``; returns ``(state, metrics [steps, ...])``. Not jitted:
  call it inside the caller's ``jit`` / ``vmap`` over seeds."""
  return jax.lax.scan(lambda s, _: train_step(s, key), state, length=steps)


def scan_seeds(train_step: Callable, states: Any, keys: jax.Array, steps: int):
  """:func:`scan_steps` for every seed: ``states`` and ``keys`` carry a leading seeds
  axis ``[S, ...]``, and so do the returned ``(states, metrics [S, steps, ...])``.
  Not jitted (the caller jits the whole chunk)."""
  return jax.vmap(lambda s, k: scan_steps(train_step, s, k, steps))(states, keys)
