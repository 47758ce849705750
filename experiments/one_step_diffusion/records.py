"""What a one-step stage records: evaluations of every seed's student on fresh samples,
the chunk's training statistics, and the generator gradient's spread."""

from __future__ import annotations

import functools

import jax
import numpy as np

from experiments.common import distributed
from experiments.one_step_diffusion import train as T


@functools.partial(jax.jit, static_argnums=(0, 3))
def sample_seeds(student, gen_params, keys, n):
  return jax.vmap(lambda p, k: student.sample(p, k, n))(gen_params, keys)


def evaluate_seeds(student, state, task, config, key, final=False):
  xs = sample_seeds(
    student, state.generator_ema, jax.random.split(key, config.seeds), config.eval_samples
  )
  return [task.evaluate(x, final) for x in distributed.to_host(xs)]


@functools.partial(jax.jit, static_argnums=(0, 4))
def _gradient_noise_seeds(student, state, teacher, divergence, batches):
  return jax.vmap(
    lambda s: T.gradient_noise(student, s, jax.random.PRNGKey(11), teacher, divergence, batches)
  )(state)


def gradient_noise(student, state, task, divergence, config) -> dict:
  """Per seed: the generator gradient's spread over ``config.gradient_noise_batches``
  batches (T.gradient_noise)."""
  noise = jax.device_get(
    _gradient_noise_seeds(student, state, task.teacher, divergence, config.gradient_noise_batches)
  )
  return {k: [float(v) for v in np.asarray(vals)] for k, vals in noise.items()}


def record(step, evals, metrics):
  rec = {"step": step}
  for key in evals[0]:
    rec[key] = [e[key] for e in evals]
  if metrics is not None:
    for key in ("fake_loss", "disc_loss", "grad_norm"):
      rec[key] = [float(m[-1]) for m in np.asarray(metrics[key])]
    rec["h_min"] = [float(np.min(m)) for m in np.asarray(metrics["h_min"])]
    rec["h_max"] = [float(np.max(m)) for m in np.asarray(metrics["h_max"])]
    rec["h_mean"] = [float(np.mean(m)) for m in np.asarray(metrics["h_mean"])]
  return rec
