"""Image config on sklearn's 8x8 digits: a teacher diffusion model trained here,
its multi-step (Heun) sampler, a digits classifier for features, and the
Fréchet distance / class-histogram metrics of one-step students."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from experiments.common import digits as common_digits
from experiments.one_step_diffusion import train as T
from fdiv_jax import diffusion as D


class Data(NamedTuple):
  x_train: np.ndarray  # [n, 64] in [-1, 1]
  x_test: np.ndarray
  split: common_digits.Split  # pixels in [0, 1], for the classifier


def load(test_fraction: float = 0.25) -> Data:
  split = common_digits.digits_split(test_fraction)
  return Data(2 * split.x_train - 1, 2 * split.x_test - 1, split)


def _teacher_denoiser(model, params, x, sigma):
  return model.apply(params, x, sigma)


def train_teacher(config, data: Data, workdir: str, verbose: bool = True):
  """DSM with EDM weighting and (truncated) log-normal noise levels (Karras et
  al., 2022, Table 1); returns ``(denoiser module, params, restored_from_checkpoint)``."""
  model = T.FakeDenoiser(tuple(config.hidden), config.sigma_data)
  x = jnp.asarray(data.x_train)
  draw = lambda k, n: x[jax.random.randint(k, (n,), 0, x.shape[0])]
  return model, *T.fit_or_restore_teacher(
    config, draw, x.shape[1], workdir, jax.random.PRNGKey(2024), verbose
  )


def frechet_distance(f1: np.ndarray, f2: np.ndarray) -> float:
  r""":math:`\|\mu_1-\mu_2\|^2 + \mathrm{tr}(S_1 + S_2 - 2 (S_1 S_2)^{1/2})` of
  feature Gaussians; the trace of the square root is the sum of the square roots
  of the (real, non-negative) eigenvalues of :math:`S_1 S_2`."""
  f1, f2 = np.asarray(f1, np.float64), np.asarray(f2, np.float64)
  mu1, mu2 = f1.mean(0), f2.mean(0)
  s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
  eig = np.linalg.eigvals(s1 @ s2)
  tr_sqrt = np.sum(np.sqrt(np.clip(eig.real, 0, None)))
  return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt)


class Evaluator(NamedTuple):
  classifier: Any
  params: Any
  test_features: np.ndarray
  accuracy: float

  def features(self, x):
    """Classifier features and predicted class of images in [-1, 1]."""
    pix = (jnp.clip(jnp.asarray(x), -1.0, 1.0) + 1.0) / 2.0
    f, logits = self.classifier.apply(self.params, pix)
    return np.asarray(f), np.asarray(jnp.argmax(logits, -1))

  def __call__(self, x, final: bool = True) -> dict:
    f, pred = self.features(x)
    hist = np.bincount(pred, minlength=10) / len(pred)
    return {
      "fd": frechet_distance(f, self.test_features),
      "class_tv": float(0.5 * np.abs(hist - 0.1).sum()),
      "classes_present": int(np.sum(hist >= 0.02)),
    }


def make_evaluator(config, data: Data) -> Evaluator:
  model, params = common_digits.train_classifier(
    data.split,
    (128, 128),
    steps=2000,
    batch_size=128,
    learning_rate=2e-3,
    key=jax.random.PRNGKey(77),
  )
  f_test, logits = model.apply(params, jnp.asarray(data.split.x_test))
  acc = float(np.mean(np.asarray(jnp.argmax(logits, -1)) == data.split.y_test))
  return Evaluator(model, params, np.asarray(f_test), acc)


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
  """[rows * cols, 64] in [-1, 1] -> one [rows * 9, cols * 9] image."""
  x = np.clip(np.asarray(x[: rows * cols]), -1, 1).reshape(rows, cols, 8, 8)
  grid = np.ones((rows, cols, 9, 9))
  grid[:, :, :8, :8] = (x + 1) / 2
  return grid.transpose(0, 2, 1, 3).reshape(rows * 9, cols * 9)
