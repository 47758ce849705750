"""Knowledge distillation on digits and the CS information bottleneck on diabetes.

Pure, importable pieces: data splits, models, the student loss for every
distillation method, a jitted ``train_step(state, key) -> (state, metrics)``
per method, and the regression metrics (RMSE, the compression term I_CS(x; z));
classification metrics are :func:`experiments.common.calibration.calibration`.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training.train_state import TrainState

import fdiv_jax as fd
from experiments.common import training
from experiments.common.digits import MLP, Split, cross_entropy

LOGIT_LOSSES = ("kl", "reverse_kl", "js")
# Losses with their own estimator; every other method is a registry spec ("alpha:2",
# "total_variation", ...) distilled on tempered logits by ``fd.kd_loss``.
SPECIAL_LOSSES = ("ce", "bd_kd", "sinkd", "cs_features")
REGIMES = ("scarce", "noisy", "multipeak", "self", "mutual")


def student_labels(labels: np.ndarray, regime: str, *, fraction: float, noise: float, seed: int):
  """The training labels a student sees in ``regime`` (one draw, shared by every seed):

  * ``"scarce"``: a class-stratified ``fraction`` of the labels kept, the rest ``-1``
    (unlabelled; the student still gets the teacher's outputs on them);
  * ``"noisy"``: a ``noise`` fraction flipped to a uniformly drawn *other* class
    (symmetric noise; the teacher was trained on the clean labels);
  * ``"multipeak"``: the labels of ``"scarce"`` (the teacher is then a mean of experts,
    :func:`mean_of_experts`, and the few labels say which of its peaks is right);
  * ``"self"``: the clean labels (self-distillation: the student has the teacher's width);
  * ``"mutual"``: the clean labels (two peers distil each other; no teacher).
  """
  rng = np.random.default_rng(seed)
  labels = np.asarray(labels)
  if regime in ("scarce", "multipeak"):
    out = np.full_like(labels, -1)
    for c in np.unique(labels):
      idx = np.flatnonzero(labels == c)
      keep = rng.choice(idx, max(1, int(round(fraction * len(idx)))), replace=False)
      out[keep] = c
    return out
  if regime in ("self", "mutual"):
    return labels.copy()
  if regime == "noisy":
    out = labels.copy()
    flip = rng.choice(len(labels), int(round(noise * len(labels))), replace=False)
    out[flip] = (labels[flip] + rng.integers(1, 10, len(flip))) % 10
    return out
  raise ValueError(f"regime must be one of {REGIMES}, got {regime!r}")


def validation_split(split: Split, fraction: float) -> tuple[Split, tuple[np.ndarray, np.ndarray]]:
  """``(split less validation, (x_val, y_val))``: a class-stratified ``fraction`` of the
  training images (seed 0, clean labels) held out for choosing hyperparameters."""
  from sklearn.model_selection import train_test_split

  if not 0 < fraction < 1:
    raise ValueError(f"validation_fraction must be in (0, 1), got {fraction}")
  x_fit, x_val, y_fit, y_val = train_test_split(
    split.x_train, split.y_train, test_size=fraction, stratify=split.y_train, random_state=0
  )
  return split._replace(x_train=x_fit, y_train=y_fit), (x_val, y_val)


def sweep_grid(method: str, config) -> np.ndarray:
  """``[G, 2]`` (temperature, weight scale) settings ``method`` is swept over, the same
  for every loss: ``config.sweep_temperatures x config.sweep_weight_scales``; the scales
  alone at ``config.temperature`` for ``cs_features`` (no temperature); one row for
  ``ce`` (nothing to sweep)."""
  if method == "ce":
    return np.array([[config.temperature, 1.0]], np.float32)
  temps = (config.temperature,) if method == "cs_features" else config.sweep_temperatures
  return np.array([(t, s) for t in temps for s in config.sweep_weight_scales], np.float32)


class Ensemble(nn.Module):
  r"""``size`` MLPs of one shape on the same input (parameters ``{prefix}_k``).

  ``mixture=False``: their ``(features, logits)`` stacked on a leading axis of ``size``
  (peers trained together, online / mutual distillation). ``mixture=True``: one predictor,
  the mean of their predictive distributions,
  :math:`p(y|x) = \frac1K\sum_k \mathrm{softmax}(z_k(x))`, returned as logits
  :math:`\log p` with the mean of their features: DKDR's multi-peaked teacher, since
  experts trained on disjoint sets of classes are each confident on every input, in their
  own classes, so on most inputs the mean has one peak per expert.
  """

  hidden: tuple[int, ...]
  classes: int
  size: int
  prefix: str = "members"
  mixture: bool = False

  @nn.compact
  def __call__(self, x):
    outs = [MLP(self.hidden, self.classes, name=f"{self.prefix}_{k}")(x) for k in range(self.size)]
    feats = jnp.stack([f for f, _ in outs])
    if not self.mixture:
      return feats, jnp.stack([z for _, z in outs])
    log_p = jnp.stack([jax.nn.log_softmax(z, -1) for _, z in outs])
    return jnp.mean(feats, 0), jax.nn.logsumexp(log_p, 0) - jnp.log(self.size)


def mean_of_experts(hidden: tuple[int, ...], classes: int, num_experts: int) -> Ensemble:
  """The multi-peaked teacher: :class:`Ensemble` with ``mixture=True`` (``experts_k``)."""
  return Ensemble(hidden, classes, num_experts, prefix="experts", mixture=True)


def peers(hidden: tuple[int, ...], classes: int) -> Ensemble:
  """Two students trained together: :class:`Ensemble` of 2 (``peers_0``, ``peers_1``)."""
  return Ensemble(hidden, classes, 2, prefix="peers")


def mutual_loss(model: Ensemble, method: str, config):
  r"""Deep mutual learning (Zhang et al., CVPR 2018; :func:`fdiv_jax.mutual_kd_loss`) with
  any KD logit loss: each peer minimises
  :math:`\mathrm{CE}(y, s_i) + w\,\ell(s_i; \mathrm{sg}(s_j))`, ``\ell`` the loss ``method``
  with the other peer as its teacher (``bd_kd``: BD-KD's online setting, Amara et al.
  2022); the sum over both peers, so one gradient step updates both. ``ce``: two peers
  trained independently."""
  if method in ("sinkd", "cs_features"):
    raise ValueError(f"mutual distillation takes logit losses, got {method!r}")
  weight = kd_weight(method, config)

  def kd(student, teacher):
    return distillation_term(method, student, None, teacher, None, config)

  def loss_fn(params, x, y):
    _, logits = model.apply(params, x)
    ce = sum(labelled_cross_entropy(logits[i], y) for i in range(2))
    kd_sum = fd.mutual_kd_loss(logits, loss=kd)
    return ce + weight * kd_sum, {"ce": ce, "kd": kd_sum}

  return loss_fn


def labelled_cross_entropy(logits, labels):
  """Mean cross-entropy over the examples with a label (``labels >= 0``); 0 if none."""
  mask = labels >= 0
  ce = optax.softmax_cross_entropy_with_integer_labels(logits, jnp.maximum(labels, 0))
  return jnp.sum(jnp.where(mask, ce, 0.0)) / jnp.maximum(jnp.sum(mask), 1)


def diabetes_split(test_fraction: float) -> tuple[Split, float]:
  """sklearn's bundled diabetes, inputs and target standardised on the train
  split; returns the split and the target's std (to report RMSE in its units)."""
  from sklearn.datasets import load_diabetes
  from sklearn.model_selection import train_test_split

  x, y = load_diabetes(return_X_y=True)
  xtr, xte, ytr, yte = train_test_split(x, y, test_size=test_fraction, random_state=0)
  mx, sx, my, sy = xtr.mean(0), xtr.std(0), ytr.mean(), ytr.std()
  f = lambda a: a.astype(np.float32)
  split = Split(
    f((xtr - mx) / sx), f((ytr - my) / sy)[:, None], f((xte - mx) / sx), f((yte - my) / sy)[:, None]
  )
  return split, float(sy)


def distillation_term(
  method: str,
  student_logits,
  student_features,
  teacher_logits,
  teacher_features,
  config,
  *,
  temperature=None,
) -> jax.Array:
  """The distillation part of the student loss (0 for plain cross-entropy), at
  ``temperature`` (default ``config.temperature``; may be traced)."""
  t = config.temperature if temperature is None else temperature
  if method == "ce":
    return jnp.zeros(())
  if method not in SPECIAL_LOSSES:  # a registry entry on tempered logits
    return fd.kd_loss(student_logits, teacher_logits, divergence=method, temperature=t)
  if method == "bd_kd":
    return fd.balanced_kd_loss(
      student_logits, teacher_logits, temperature=t, balance=config.bd_kd_balance
    )
  if method == "sinkd":
    return fd.sinkhorn_kd_loss(
      student_logits,
      teacher_logits,
      temperature=t,
      epsilon=config.sinkd_epsilon,
      max_iterations=config.sinkd_max_iterations,
    )[0]
  if method == "cs_features":
    bandwidth = jax.lax.stop_gradient(fd.kernels.median_bandwidth(teacher_features))
    return fd.cauchy_schwarz_divergence(student_features, teacher_features, bandwidth=bandwidth)
  raise AssertionError(method)  # unreachable: every name is special or a registry spec


def kd_weight(method: str, config) -> float:
  """The weight of ``method``'s distillation term: ``config.kd_weight[method]``, 1 for a
  method missing there, 0 for ``ce``."""
  return 0.0 if method == "ce" else dict(config.kd_weight).get(method, 1.0)


def student_loss(
  model: MLP,
  teacher: MLP,
  teacher_params,
  method: str,
  config,
  *,
  ce_fn=cross_entropy,
  temperature=None,
  weight_scale=1.0,
):
  """``ce_fn(logits, labels) + weight_scale * kd_weight(method) * distillation term`` at
  ``temperature`` (default ``config.temperature``); both may be traced (a sweep vmaps
  over them)."""
  if method not in SPECIAL_LOSSES:
    fd.get(method)  # a clear error for a typo, before tracing
  weight = weight_scale * kd_weight(method, config)

  def loss_fn(params, x, y):
    feats, logits = model.apply(params, x)
    t_feats, t_logits = jax.lax.stop_gradient(teacher.apply(teacher_params, x))
    ce = ce_fn(logits, y)
    kd = distillation_term(
      method, logits, feats, t_logits, t_feats, config, temperature=temperature
    )
    return ce + weight * kd, {"ce": ce, "kd": kd}

  return loss_fn


def train_seeds(init, train_step, keys: jax.Array, steps: int):
  """Trains one model per key (vmapped) with ``lax.scan``; returns
  ``(final params [seeds, ...], metrics [seeds, steps])``."""

  def one(key):
    init_key, train_key = jax.random.split(key)
    state, metrics = training.scan_steps(train_step, init(init_key), train_key, steps)
    return state.params, metrics

  return jax.jit(jax.vmap(one))(keys)


# ---------------------------------------------------------------------------
# CS information bottleneck for regression (Yu et al., ICLR 2024).
# ---------------------------------------------------------------------------


class IBRegressor(nn.Module):
  """x -> z = mu(x) + noise * eps -> y_hat (a stochastic representation)."""

  hidden: int
  latent: int

  @nn.compact
  def __call__(self, x, key=None, noise: float = 0.0):
    z = nn.Dense(self.latent)(nn.gelu(nn.Dense(self.hidden)(x)))
    if key is not None:
      z = z + noise * jax.random.normal(key, z.shape)
    y = nn.Dense(1)(nn.gelu(nn.Dense(self.hidden)(z)))
    return z, y


def make_ib(split: Split, method: str, config):
  """``(init, train_step, evaluate)`` for ``"mse"`` or ``"cs_ib"`` (full batch).

  cs_ib minimises D_CS(p(y|x) || q(y_hat|x)) + beta * I_CS(x; z) with
  median-heuristic bandwidths (fixed from the training data for x and y, per
  step for z); mse minimises the squared error of the same network without
  noise on z.
  """
  if method not in ("mse", "cs_ib"):
    raise ValueError(f"unknown IB method {method!r}; valid: mse, cs_ib")
  model = IBRegressor(config.ib_hidden, config.ib_latent)
  x, y = jnp.asarray(split.x_train), jnp.asarray(split.y_train)
  bw_x = fd.kernels.median_bandwidth(x)
  bw_y = fd.kernels.median_bandwidth(y)
  noise = config.ib_noise if method == "cs_ib" else 0.0
  optimizer = optax.adamw(config.ib_learning_rate, weight_decay=config.ib_weight_decay)

  def loss_fn(params, key):
    z, y_hat = model.apply(params, x, key, noise)
    if method == "mse":
      return jnp.mean((y_hat - y) ** 2), jnp.zeros(())
    bw_z = jax.lax.stop_gradient(fd.kernels.median_bandwidth(z))
    pred = fd.conditional_cauchy_schwarz_divergence(x, y, y_hat, bandwidth_x=bw_x, bandwidth_y=bw_y)
    mi = fd.cauchy_schwarz_mutual_information(x, z, bandwidth_x=bw_x, bandwidth_z=bw_z)
    return pred + config.ib_beta * mi, mi

  def init(key):
    return TrainState.create(apply_fn=model.apply, params=model.init(key, x[:1]), tx=optimizer)

  def train_step(state, key):
    (loss, mi), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      state.params, jax.random.fold_in(key, state.step)
    )
    return state.apply_gradients(grads=grads), {"loss": loss, "compression": mi}

  def evaluate(params, key, x_eval, y_eval):
    """(RMSE of the noise-free prediction, I_CS(x; z) of the stochastic z)."""
    _, y_hat = model.apply(params, x_eval)
    z, _ = model.apply(params, x_eval, key, noise)
    rmse = jnp.sqrt(jnp.mean((y_hat - y_eval) ** 2))
    bw = fd.kernels.median_bandwidth(x_eval)
    mi = fd.cauchy_schwarz_mutual_information(
      x_eval, z, bandwidth_x=bw, bandwidth_z=fd.kernels.median_bandwidth(z)
    )
    return rmse, mi

  return init, train_step, evaluate
