"""Image configs (sklearn's 8x8 digits, Fashion-MNIST): the data, a teacher diffusion model
trained here, a classifier for features, and the Fréchet distance, precision / recall and
class-histogram metrics of one-step students against held-out images."""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import fdiv_jax as fd
from experiments.common import checkpoint, fashion_mnist
from experiments.common import digits as common_digits
from experiments.one_step_diffusion import train as T
from fdiv_jax import diffusion as D

DATASETS = ("digits", "fashion")
# The floor: the first this many training images against the test set (all for digits).
FLOOR_SAMPLES = 10_000


class Data(NamedTuple):
  x_train: np.ndarray  # [n, side * side] in [-1, 1]
  x_test: np.ndarray
  split: common_digits.Split  # pixels in [0, 1], for the classifier
  side: int  # images are side x side


def load(config) -> Data:
  """Digits (1 347 / 450, stratified split) or Fashion-MNIST (60 000 / 10 000, pooled by
  ``config.pool``), pixels mapped to [-1, 1]."""
  if config.dataset == "digits":
    split, side = common_digits.digits_split(0.25), 8
  elif config.dataset == "fashion":
    split, side = fashion_mnist.load(config.data_dir, pool=config.pool), 28 // config.pool
  else:
    raise ValueError(f"dataset must be one of {DATASETS}, got {config.dataset!r}")
  return Data(2 * split.x_train - 1, 2 * split.x_test - 1, split, side)


def _teacher_denoiser(model, params, x, sigma):
  return model.apply(params, x, sigma)


def train_teacher(config, data: Data, workdir: str, verbose: bool = True):
  """DSM with EDM weighting and (truncated) log-normal noise levels (Karras et
  al., 2022, Table 1); returns ``(denoiser module, params, restored_from_checkpoint)``."""
  x = jnp.asarray(data.x_train)
  model = T.denoiser_module(config, x.shape[1])
  draw = lambda k, n: x[jax.random.randint(k, (n,), 0, x.shape[0])]
  return model, *T.fit_or_restore_teacher(
    config, draw, x.shape[1], workdir, jax.random.PRNGKey(2024), verbose
  )


class Evaluator(NamedTuple):
  classifier: Any
  params: Any
  test_features: np.ndarray
  accuracy: float
  precision_recall: bool  # compute precision / recall (Kynkäänniemi et al., k = 3)

  def features(self, x):
    """Classifier features and predicted class of images in [-1, 1]."""
    pix = (jnp.clip(jnp.asarray(x), -1.0, 1.0) + 1.0) / 2.0
    f, logits = self.classifier.apply(self.params, pix)
    return np.asarray(f), np.asarray(jnp.argmax(logits, -1))

  def __call__(self, x, final: bool = True) -> dict:
    f, pred = self.features(x)
    hist = np.bincount(pred, minlength=10) / len(pred)
    out = {
      "fd": frechet_distance(f, self.test_features),
      "class_tv": float(0.5 * np.abs(hist - 0.1).sum()),
      "classes_present": int(np.sum(hist >= 0.02)),
    }
    if self.precision_recall:
      pr = _precision_recall(jnp.asarray(self.test_features), jnp.asarray(f))
      out.update(precision=float(pr.precision), recall=float(pr.recall))
    if final:
      out["class_histogram"] = hist.round(4).tolist()
    return out


_precision_recall = jax.jit(fd.metrics.precision_recall)


def frechet_distance(f1: np.ndarray, f2: np.ndarray) -> float:
  """:func:`fdiv_jax.metrics.frechet_distance` in float64 (numpy), for features on the host."""
  return float(_frechet64(np.asarray(f1, np.float64), np.asarray(f2, np.float64)))


def _frechet64(f1, f2):
  with jax.enable_x64(True):
    return fd.metrics.frechet_distance(jnp.asarray(f1), jnp.asarray(f2))


def make_evaluator(config, data: Data, workdir: str) -> Evaluator:
  """The feature classifier (an MLP on the pixels), trained once and checkpointed under
  ``workdir/ckpt/classifier``; its test accuracy is reported."""
  model = common_digits.MLP(tuple(config.classifier_hidden), 10)
  key = jax.random.PRNGKey(77)

  def init():
    return jax.jit(model.init)(key, jnp.zeros((1, data.x_train.shape[1])))

  def train(_):
    return common_digits.train_classifier(
      data.split,
      tuple(config.classifier_hidden),
      steps=config.classifier_steps,
      batch_size=config.classifier_batch,
      learning_rate=config.classifier_lr,
      key=key,
    )[1]

  made_by = {k: getattr(config, k) for k in CLASSIFIER_FIELDS}
  params, _ = checkpoint.restore_or_init(
    os.path.join(workdir, "ckpt", "classifier"), init, train, made_by=made_by
  )
  f_test, logits = jax.jit(model.apply)(params, jnp.asarray(data.split.x_test))
  acc = float(np.mean(np.asarray(jnp.argmax(logits, -1)) == data.split.y_test))
  return Evaluator(model, params, np.asarray(f_test), acc, config.dataset != "digits")


CLASSIFIER_FIELDS = (
  "dataset",
  "data_dir",
  "pool",
  "classifier_hidden",
  "classifier_steps",
  "classifier_batch",
  "classifier_lr",
)


def teacher_pytree(model, params, data: Data) -> T.Teacher:
  """Score and denoiser from the trained network; samples are training images
  (the discriminator's 'teacher side', as in the reference implementation)."""
  return T.Teacher(
    (params, jnp.asarray(data.x_train)), _net_score_fn(model), _net_denoiser_fn(model), _data_sample
  )


def _net_denoiser_fn(model):
  return _Bound(model, "denoiser")


def _net_score_fn(model):
  return _Bound(model, "score")


class _Bound:
  """Hashable (by module) teacher function, so jit sees the same metadata."""

  def __init__(self, model, kind):
    self.model, self.kind = model, kind

  def __call__(self, params, x, sigma):
    den = self.model.apply(params[0], x, sigma)
    if self.kind == "denoiser":
      return den
    return D.score_from_denoiser(x, den, sigma=sigma)

  def __eq__(self, other):
    return isinstance(other, _Bound) and (self.model, self.kind) == (other.model, other.kind)

  def __hash__(self):
    return hash((self.model, self.kind))


def _data_sample(params, key, n):
  data = params[1]
  return data[jax.random.randint(key, (n,), 0, data.shape[0])]


def image_grid(x: np.ndarray, rows: int, cols: int) -> np.ndarray:
  """``[rows * cols, side * side]`` in [-1, 1] -> one ``[rows (side + 1), cols (side + 1)]``
  image in [0, 1] with a one-pixel white border."""
  side = int(round(np.sqrt(np.shape(x)[1])))
  x = np.clip(np.asarray(x[: rows * cols]), -1, 1).reshape(rows, cols, side, side)
  grid = np.ones((rows, cols, side + 1, side + 1))
  grid[:, :, :side, :side] = (x + 1) / 2
  return grid.transpose(0, 2, 1, 3).reshape(rows * (side + 1), cols * (side + 1))
