"""sklearn's bundled 8x8 digits: the split, an MLP classifier and its trainer
(shared by the knowledge-distillation and one-step-diffusion experiments)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training.train_state import TrainState

from experiments.common import training


class Split(NamedTuple):
  x_train: np.ndarray
  y_train: np.ndarray
  x_test: np.ndarray
  y_test: np.ndarray


def digits_split(test_fraction: float) -> Split:
  """Digits with pixels scaled to [0, 1], stratified split (seed 0)."""
  from sklearn.datasets import load_digits
  from sklearn.model_selection import train_test_split

  x, y = load_digits(return_X_y=True)
  xtr, xte, ytr, yte = train_test_split(
    (x / 16.0).astype(np.float32),
    y.astype(np.int32),
    test_size=test_fraction,
    stratify=y,
    random_state=0,
  )
  return Split(xtr, ytr, xte, yte)


class MLP(nn.Module):
  """GELU MLP returning ``(features, logits)``; features are the last hidden
  layer, optionally mapped by a linear projection (for feature-level losses)."""

  hidden: Sequence[int]
  classes: int
  projection: int | None = None

  @nn.compact
  def __call__(self, x):
    for width in self.hidden:
      x = nn.gelu(nn.Dense(width)(x))
    logits = nn.Dense(self.classes)(x)
    if self.projection is not None:
      x = nn.Dense(self.projection, name="projection")(x)
    return x, logits


def cross_entropy(logits, labels):
  return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def make_classifier(
  split: Split,
  model: nn.Module,
  *,
  steps: int,
  batch_size: int,
  learning_rate: float,
  loss_fn: Callable,
) -> tuple[Callable, Callable]:
  """``(init(key) -> state, train_step(state, key) -> (state, metrics))``.

  ``loss_fn(params, x, y) -> (loss, metrics)``; minibatches are drawn with
  ``fold_in(key, step)`` so a step is a pure function of its inputs.
  """
  optimizer = optax.adamw(optax.cosine_decay_schedule(learning_rate, steps), weight_decay=1e-4)
  x_all, y_all = jnp.asarray(split.x_train), jnp.asarray(split.y_train)

  @jax.jit  # one compile instead of one per initialiser op when called eagerly
  def init(key):
    return TrainState.create(apply_fn=model.apply, params=model.init(key, x_all[:1]), tx=optimizer)

  def train_step(state, key):
    idx = jax.random.choice(
      jax.random.fold_in(key, state.step), x_all.shape[0], (batch_size,), replace=False
    )
    (loss, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      state.params, x_all[idx], y_all[idx]
    )
    return state.apply_gradients(grads=grads), dict(metrics, loss=loss)

  return init, train_step


def supervised_loss(model: nn.Module):
  """Cross-entropy of ``model``'s logits (for a teacher or a feature classifier)."""

  def loss_fn(params, x, y):
    return cross_entropy(model.apply(params, x)[1], y), {}

  return loss_fn


def train_classifier(
  split: Split,
  hidden: Sequence[int],
  *,
  steps: int,
  batch_size: int,
  learning_rate: float,
  key: jax.Array,
) -> tuple[MLP, Any]:
  """An MLP trained with cross-entropy; returns ``(model, params)``."""
  model = MLP(tuple(hidden), 10)
  init, step = make_classifier(
    split,
    model,
    steps=steps,
    batch_size=batch_size,
    learning_rate=learning_rate,
    loss_fn=supervised_loss(model),
  )
  state, _ = jax.jit(lambda s: training.scan_steps(step, s, key, steps))(init(key))
  return model, state.params
