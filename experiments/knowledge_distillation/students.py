"""The KD jobs: the teacher (trained once, cached by the config that made it), one job
per distillation loss (``seeds`` students, vmapped) and one per CS-IB regressor."""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np

from experiments.common import calibration, checkpoint, jobs, training
from experiments.common import digits as common_digits
from experiments.common import results as R
from experiments.knowledge_distillation import train as T

TEACHER_FIELDS = ("teacher_hidden", "teacher_steps", "batch_size", "learning_rate", "test_fraction")


def teacher(config, split, workdir):
  """``(model, params, restored)``: the digits teacher, restored from ``workdir/teacher``
  when the fields in ``TEACHER_FIELDS`` that made it are unchanged, else trained."""
  model = common_digits.MLP(tuple(config.teacher_hidden), 10)
  init, step = common_digits.make_classifier(
    split,
    model,
    steps=config.teacher_steps,
    batch_size=config.batch_size,
    learning_rate=config.learning_rate,
    loss_fn=common_digits.supervised_loss(model),
  )
  key = jax.random.PRNGKey(1234)

  def train(state):
    state, metrics = jax.jit(lambda s: training.scan_steps(step, s, key, config.teacher_steps))(
      state
    )
    R.check_finite(metrics["loss"], what="teacher training loss")
    return state.params

  params, restored = checkpoint.restore_or_init(
    os.path.join(workdir, "teacher"),
    lambda: init(key).params,
    lambda params: train(init(key).replace(params=params)),
    made_by={"data": "sklearn digits", **{f: getattr(config, f) for f in TEACHER_FIELDS}},
  )
  return model, params, restored


def experts(config, split, workdir):
  """``(model, params, accuracy)``: :func:`train.mean_of_experts` over experts of the
  teacher's shape, expert ``k`` trained on the classes in ``config.expert_classes[k]`` only
  (cached under ``workdir/experts`` by the config that made it)."""
  model = T.mean_of_experts(tuple(config.teacher_hidden), 10, len(config.expert_classes))
  key = jax.random.PRNGKey(4321)

  def train(_):
    params = {}
    for k, classes in enumerate(config.expert_classes):
      keep = np.isin(split.y_train, classes)
      sub = split._replace(x_train=split.x_train[keep], y_train=split.y_train[keep])
      _, p = common_digits.train_classifier(
        sub,
        config.teacher_hidden,
        steps=config.teacher_steps,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        key=jax.random.fold_in(key, k),
      )
      params[f"experts_{k}"] = p["params"]
    return {"params": params}

  made_by = {
    "data": "sklearn digits",
    "expert_classes": config.expert_classes,
    **{f: getattr(config, f) for f in TEACHER_FIELDS},
  }
  params, _ = checkpoint.restore_or_init(
    os.path.join(workdir, "experts"),
    lambda: model.init(key, split.x_train[:1]),
    train,
    made_by=made_by,
  )
  logits = np.asarray(model.apply(params, split.x_test)[1])
  return model, params, calibration.calibration(logits, split.y_test, config.ece_bins)


def _train_students(model, loss_fn, *, config, split, grid=None):
  """``((params [seeds, ...], metrics [seeds, steps]), wall s)``: ``config.seeds`` copies of
  ``model`` trained on ``loss_fn`` for ``config.student_steps`` (vmapped). With ``grid``
  ``[G, 2]`` rows of (temperature, weight scale), ``loss_fn(temperature, scale)`` makes
  the loss and every output gains a leading settings axis (vmapped too: one compile)."""
  keys = jax.random.split(jax.random.PRNGKey(0), config.seeds)

  def train(loss):
    init, step = common_digits.make_classifier(
      split,
      model,
      steps=config.student_steps,
      batch_size=config.batch_size,
      learning_rate=config.learning_rate,
      loss_fn=loss,
    )
    return T.train_seeds(init, step, keys, config.student_steps)

  if grid is None:
    return jobs.timed(lambda: train(loss_fn))
  return jobs.timed(lambda: jax.jit(jax.vmap(lambda h: train(loss_fn(h[0], h[1]))))(grid))


def distill(
  method: str,
  *,
  config,
  split,
  teacher_model,
  teacher_params,
  ce_fn=T.cross_entropy,
  hidden=None,
) -> dict:
  """Students of ``hidden`` (default ``config.student_hidden``) trained with cross-entropy
  + loss ``method``; per-seed test accuracy, ECE and NLL, their mean and std, curves, wall
  time and the seed-mean probability of the true label on every test image."""
  projection = config.teacher_hidden[-1] if method == "cs_features" else None
  hidden = tuple(config.student_hidden if hidden is None else hidden)
  model = common_digits.MLP(hidden, 10, projection)
  loss_fn = T.student_loss(model, teacher_model, teacher_params, method, config, ce_fn=ce_fn)
  (params, metrics), wall = _train_students(model, loss_fn, config=config, split=split)
  loss = np.asarray(metrics["loss"])
  R.check_finite(loss, what=f"student loss ({method})")
  logits = [
    np.asarray(model.apply(jax.tree.map(lambda a: a[i], params), split.x_test)[1])
    for i in range(config.seeds)
  ]
  per_seed = [calibration.calibration(z, split.y_test, config.ece_bins) for z in logits]
  every = max(1, config.student_steps // 100)
  return {
    "per_seed": per_seed,
    **R.mean_std(per_seed, ("accuracy", "ece", "nll")),
    "wall_s": wall,
    "loss_curve": loss.mean(0)[::every].tolist(),
    "kd_curve": np.asarray(metrics["kd"]).mean(0)[::every].tolist(),
    "label_confidence": np.mean(
      [calibration.label_probability(z, split.y_test) for z in logits], 0
    ).tolist(),
  }


def distill_swept(
  method: str,
  *,
  config,
  split,
  validation,
  teacher_model,
  teacher_params,
  ce_fn=T.cross_entropy,
  hidden=None,
) -> dict:
  """:func:`distill` over the grid :func:`train.sweep_grid` (temperature x weight scale,
  every setting ``config.seeds`` students, vmapped), the setting chosen by mean accuracy
  on ``validation = (x, y)`` (ties: lower NLL), which no student trains on. The job's
  metrics are the chosen setting's on the test split; ``grid``, ``val_accuracy`` and
  ``test_accuracy`` (seed means per setting) and ``default`` (the config's own setting)
  are kept."""
  grid = T.sweep_grid(method, config)
  projection = config.teacher_hidden[-1] if method == "cs_features" else None
  model = common_digits.MLP(
    tuple(config.student_hidden if hidden is None else hidden), 10, projection
  )

  def make_loss(temperature, scale):
    return T.student_loss(
      model,
      teacher_model,
      teacher_params,
      method,
      config,
      ce_fn=ce_fn,
      temperature=temperature,
      weight_scale=scale,
    )

  (params, metrics), wall = _train_students(
    model, make_loss, config=config, split=split, grid=jnp.asarray(grid)
  )
  R.check_finite(np.asarray(metrics["loss"]), what=f"student loss ({method}, sweep)")
  logits = jax.jit(jax.vmap(jax.vmap(lambda p, x: model.apply(p, x)[1], (0, None)), (0, None)))

  def scores(x, y):
    return [
      [calibration.calibration(z, y, config.ece_bins) for z in row] for row in logits(params, x)
    ]

  val, test = scores(*validation), scores(split.x_test, split.y_test)
  val_accuracy = [float(np.mean([r["accuracy"] for r in row])) for row in val]
  val_nll = [float(np.mean([r["nll"] for r in row])) for row in val]
  best = max(range(len(grid)), key=lambda g: (val_accuracy[g], -val_nll[g]))
  at_default = np.flatnonzero(np.all(grid == np.float32([config.temperature, 1.0]), axis=1))
  return {
    "per_seed": test[best],
    **R.mean_std(test[best], ("accuracy", "ece", "nll")),
    "chosen": best,
    "temperature": float(grid[best, 0]),
    "weight": float(grid[best, 1]) * T.kd_weight(method, config),
    "grid": grid.tolist(),
    "val_accuracy": val_accuracy,
    "test_accuracy": [float(np.mean([r["accuracy"] for r in row])) for row in test],
    # The config's own setting, when the grid has it (the control's T and kd_weight).
    "default": (
      R.mean_std(test[at_default[0]], ("accuracy", "ece", "nll")) if at_default.size else None
    ),
    "wall_s": wall,
  }


def distill_mutual(method: str, *, config, split) -> dict:
  """Two width-``student_hidden`` peers trained together with ``method``
  (:func:`train.mutual_loss`); each peer is evaluated, ``per_seed`` holds both peers of
  every seed (``2 * seeds`` records)."""
  model = T.peers(tuple(config.student_hidden), 10)
  loss_fn = T.mutual_loss(model, method, config)
  (params, metrics), wall = _train_students(model, loss_fn, config=config, split=split)
  R.check_finite(np.asarray(metrics["loss"]), what=f"mutual loss ({method})")
  per_seed = []
  for i in range(config.seeds):
    logits = np.asarray(model.apply(jax.tree.map(lambda a: a[i], params), split.x_test)[1])
    per_seed += [calibration.calibration(z, split.y_test, config.ece_bins) for z in logits]
  return {"per_seed": per_seed, **R.mean_std(per_seed, ("accuracy", "ece", "nll")), "wall_s": wall}


def distill_in_regime(
  name: str, *, config, split, teacher_model, teacher_params, experts=None
) -> dict:
  """``name = "<regime>/<method>"``: :func:`distill` on the labels of the regime
  (:func:`train.student_labels`; cross-entropy on the labelled examples only), with the
  clean-label teacher, or for ``"multipeak"`` the mean of ``experts = (model, params)``;
  ``"self"`` students have the teacher's width (self-distillation). With
  ``config.sweep_temperatures``, :func:`distill_swept` on the training images less a
  ``config.validation_fraction`` validation split (:func:`train.validation_split`)."""
  regime, method = name.split("/", 1)
  if regime == "mutual":
    job = distill_mutual(method, config=config, split=split)
    job["labels_seen"], job["labels_correct"] = len(split.y_train), 1.0
    return job
  if regime == "multipeak":
    teacher_model, teacher_params = experts
  swept = bool(config.sweep_temperatures)
  if swept:
    split, validation = T.validation_split(split, config.validation_fraction)
  labels = T.student_labels(
    split.y_train,
    regime,
    fraction=config.label_fraction,
    noise=config.label_noise,
    seed=config.regime_seed,
  )
  kw = dict(
    config=config,
    split=split._replace(y_train=labels),
    teacher_model=teacher_model,
    teacher_params=teacher_params,
    ce_fn=T.labelled_cross_entropy,
    hidden=config.teacher_hidden if regime == "self" else None,
  )
  if swept:
    job = distill_swept(method, validation=validation, **kw)
  else:
    job = distill(method, **kw)
  t_logits = np.asarray(teacher_model.apply(teacher_params, split.x_test)[1])
  job["teacher_label_confidence"] = calibration.label_probability(t_logits, split.y_test).tolist()
  seen = labels >= 0
  job["labels_seen"] = int(seen.sum())
  job["labels_correct"] = float(np.mean(labels[seen] == split.y_train[seen]))
  return job


def information_bottleneck(method: str, *, config, split, y_std: float) -> dict:
  """The CS-IB (or MSE) regressor ``method`` on diabetes: test RMSE and I_CS(x; z)."""
  init, step, evaluate = T.make_ib(split, method, config)
  keys = jax.random.split(jax.random.PRNGKey(0), config.seeds)
  (params, metrics), wall = jobs.timed(lambda: T.train_seeds(init, step, keys, config.ib_steps))
  R.check_finite(np.asarray(metrics["loss"]), what=f"IB training loss ({method})")
  rmse, mi = jax.jit(jax.vmap(evaluate, in_axes=(0, 0, None, None)))(
    params, keys, split.x_test, split.y_test
  )
  rmse, mi = np.asarray(rmse) * y_std, np.asarray(mi)
  return {
    "rmse": rmse.tolist(),
    "compression": mi.tolist(),
    "rmse_mean": float(rmse.mean()),
    "rmse_std": float(rmse.std(ddof=1)),
    "compression_mean": float(mi.mean()),
    "compression_std": float(mi.std(ddof=1)),
    "wall_s": wall,
  }


def linear_reference_rmse(split, y_std: float) -> float:
  """Test RMSE of least squares with an intercept (the regression floor to beat)."""
  design = lambda x: np.concatenate([x, np.ones((len(x), 1), x.dtype)], 1)
  coef = np.linalg.lstsq(design(split.x_train), split.y_train, rcond=None)[0]
  return float(np.sqrt(np.mean((design(split.x_test) @ coef - split.y_test) ** 2)) * y_std)
