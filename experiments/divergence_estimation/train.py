"""Train an MLP critic to maximise the f-GAN bound between two known densities."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax.training.train_state import TrainState

import fdiv_jax as fd
from experiments.common import training


class Critic(nn.Module):
  """MLP V: R^d -> R (the critic output before the f-GAN activation).

  The output is soft-clamped, ``V = v_max tanh(V_raw / v_max)``: for chi-squared
  type divergences the minibatch bound is unbounded above in the tails of Q
  (``f*(g(v)) -> -inf`` as ``v -> -inf``), and an unclamped critic runs off to
  overflow. With ``v_max`` well above ``|V*|`` the clamp does not bias the
  optimum (tanh is invertible).
  """

  hidden: Sequence[int]
  v_max: float

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    for width in self.hidden:
      x = nn.gelu(nn.Dense(width)(x))
    v = nn.Dense(1)(x)[..., 0]
    return self.v_max * jnp.tanh(v / self.v_max)


class Estimator(NamedTuple):
  """Pure functions of one (problem, divergence) run."""

  init: Any  # key -> TrainState
  train_step: Any  # (state, key, divergence) -> (state, metrics)
  evaluate: Any  # (state, key, divergence) -> bound on fresh samples


def make_estimator(problem, config) -> Estimator:
  critic = Critic(tuple(config.hidden), config.critic_max)
  optimizer = optax.chain(
    optax.clip_by_global_norm(config.grad_clip), optax.adam(config.learning_rate)
  )

  def init(key):
    params = critic.init(key, jnp.zeros((1, problem.dim)))
    return TrainState.create(apply_fn=critic.apply, params=params, tx=optimizer)

  def sample(key, n):
    kp, kq = jax.random.split(key)
    return (
      problem.p.sample(seed=kp, sample_shape=(n,)),
      problem.q.sample(seed=kq, sample_shape=(n,)),
    )

  def bound(params, xp, xq, divergence):
    return fd.f_gan_bound(critic.apply(params, xp), critic.apply(params, xq), divergence=divergence)

  def train_step(state, key, divergence):
    xp, xq = sample(jax.random.fold_in(key, state.step), config.batch_size)
    value, grads = jax.value_and_grad(lambda p: -bound(p, xp, xq, divergence))(state.params)
    return state.apply_gradients(grads=grads), {"bound": -value}

  def evaluate(state, key, divergence):
    xp, xq = sample(key, config.eval_samples)
    return bound(state.params, xp, xq, divergence)

  return Estimator(init, train_step, evaluate)


def run_seeds(estimator: Estimator, divergence: fd.Divergence, keys: jax.Array, steps: int):
  """Trains one critic per key (vmapped) with ``lax.scan``; returns
  ``(final estimates [seeds], bound per step [seeds, steps])``."""

  def one(key):
    init_key, train_key, eval_key = jax.random.split(key, 3)
    step = lambda state, key: estimator.train_step(state, key, divergence)
    state, metrics = training.scan_steps(step, estimator.init(init_key), train_key, steps)
    return estimator.evaluate(state, eval_key, divergence), metrics["bound"]

  return jax.jit(jax.vmap(one))(keys)
