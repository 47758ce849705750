"""What a one-step run distils from: the teacher (an exact ring mixture or a digits
denoiser), the network the student starts from, the evaluation, and the optional
pretraining on a subset of the modes (the mode-recovery start)."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

import fdiv_jax as fd
from experiments.common import checkpoint
from experiments.common import results as R
from experiments.one_step_diffusion import images
from experiments.one_step_diffusion import train as T


class Task(NamedTuple):
  """What differs between the 2-D and the image configs."""

  dim: int
  teacher: T.Teacher
  teacher_init: Any  # teacher denoiser params to start from, or None
  evaluate: Callable  # samples [n, dim] -> dict of scalars
  summary: dict  # the teacher's own metrics (the floor)
  extra: Any = None  # ring: the mixture; digits: the Data


def make_task(config, workdir, verbose) -> Task:
  if config.dataset == "ring":
    gmm = T.ring_teacher(config)
    reference = np.asarray(gmm.sample(jax.random.PRNGKey(99), config.eval_samples)[0])
    evaluate = functools.partial(
      T.evaluate,
      teacher=gmm,
      reference=reference,
      cover_fraction=config.cover_fraction,
      bandwidth=T.reference_bandwidth(reference),
    )
    summary, init = evaluate(reference), None
    if config.generator == "denoiser":  # a teacher network to start from (FastGen)
      init, restored = T.fit_or_restore_teacher(
        config, gmm_draw(gmm), 2, workdir, jax.random.PRNGKey(2024), verbose
      )
      summary["teacher_network"] = _network_summary(config, init, evaluate, restored)
    return Task(2, T.mixture_teacher(gmm), init, evaluate, summary, gmm)
  if config.dataset in images.DATASETS:
    data = images.load(config)
    dim = data.x_train.shape[1]
    model, params, restored = images.train_teacher(config, data, workdir, verbose)
    evaluator = images.make_evaluator(config, data, workdir)
    sigmas = fd.diffusion.karras_sigmas(
      config.teacher_heun_steps, sigma_min=config.teacher_sigma_min, sigma_max=config.sigma_max
    )
    x_teacher = jax.jit(
      lambda k: fd.diffusion.heun_sample(
        lambda x, s: model.apply(params, x, s),
        jax.random.normal(k, (config.eval_samples, dim)),
        sigmas=sigmas,
      )
    )(jax.random.PRNGKey(3))
    summary = dict(
      evaluator(x_teacher),
      nfe=2 * config.teacher_heun_steps - 1,
      restored_from_checkpoint=restored,
      classifier_test_accuracy=evaluator.accuracy,
      train_vs_test=evaluator(data.x_train[: images.FLOOR_SAMPLES]),
    )
    return Task(
      dim,
      images.teacher_pytree(model, params, data),
      params,
      evaluator,
      summary,
      (data, np.asarray(x_teacher)),
    )
  raise ValueError(f"dataset must be 'ring' or one of {images.DATASETS}, got {config.dataset!r}")


def gmm_draw(gmm):
  return lambda k, n: gmm.sample(k, n)[0]


def _network_summary(config, params, evaluate, restored):
  """The teacher network's own metrics: its Heun samples (35 NFE) and its one-step
  output D(sigma_max z, sigma_max), the student's starting point."""
  model = T.denoiser_module(config, 2)
  sigmas = fd.diffusion.karras_sigmas(
    18, sigma_min=config.teacher_sigma_min, sigma_max=config.sigma_max
  )
  noise = jax.random.normal(jax.random.PRNGKey(3), (config.eval_samples, 2))
  heun = jax.jit(
    lambda z: fd.diffusion.heun_sample(lambda x, s: model.apply(params, x, s), z, sigmas=sigmas)
  )(noise)
  one_step = jax.jit(
    lambda z: model.apply(params, config.sigma_init * z, jnp.full((z.shape[0],), config.sigma_init))
  )(noise)
  pick = ("modes_covered", "mode_tv", "off_mode_fraction", "mmd")
  summarise = lambda x: {k: v for k, v in evaluate(np.asarray(x), False).items() if k in pick}
  return {
    "heun_35_nfe": summarise(heun),
    "one_step_at_init": summarise(one_step),
    "restored_from_checkpoint": restored,
  }


def initial_state(student, config, workdir, keys, task, verbose):
  state = jax.jit(jax.vmap(student.init, in_axes=(0, None)))(keys, task.teacher_init)
  if config.init_modes is None:
    return state
  path = os.path.join(workdir, "ckpt", "init")
  partial = T.mixture_teacher(T.ring_teacher(config, config.init_modes))

  def pretrain(state):
    it = tqdm(
      range(0, config.init_steps, config.log_every),
      desc=f"pretrain on modes {list(config.init_modes)}",
      disable=not verbose,
      leave=False,
    )
    for _ in it:
      state, metrics = jax.jit(T.train_chunk, static_argnums=(0, 5))(
        student, state, keys, partial, fd.get("reverse_kl"), config.log_every
      )
      R.check_finite(metrics["grad_norm"], what="pretraining gradients")
    return state

  # The pretraining depends on the whole student and teacher configuration.
  state, _ = checkpoint.restore_or_init(
    path, lambda: state, pretrain, made_by=R.to_jsonable(config)
  )
  return state
