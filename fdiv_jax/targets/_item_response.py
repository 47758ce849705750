r"""The synthetic one-parameter item-response-theory model (Inference Gym).

.. math::
  \delta \sim N(0.75, 1),\quad \alpha_i \sim N(0, 1),\ i = 1..400,\quad
  \beta_j \sim N(0, 1),\ j = 1..100,\quad
  y_{ij} \sim \mathrm{Bernoulli}\big(\mathrm{sigmoid}(\alpha_i - \beta_j + \delta)\big),

over the 30 012 observed (student, question) pairs of a data set sampled from the prior.
The target is the posterior over :math:`x = (\alpha_1..\alpha_{400}, \delta,
\beta_1..\beta_{100})` (d = 501, Inference Gym's order); every density is normalised.

References:
  Inference Gym, ``SyntheticItemResponseTheory`` (TensorFlow Probability), data and
  ground-truth moments from its Stan runs.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from fdiv_jax.targets._target import Target, gym_moments, load_csv

__all__ = ["item_response"]

_LOG_2PI = math.log(2 * math.pi)
_MEAN_ABILITY = 0.75


def item_response() -> Target:
  r"""The synthetic one-parameter item-response posterior, d = 501.

  .. math::
    \delta \sim N(0.75, 1),\quad \alpha_i \sim N(0, 1),\quad \beta_j \sim N(0, 1),\quad
    y_{ij} \sim \mathrm{Bernoulli}\big(\mathrm{sigmoid}(\alpha_i - \beta_j + \delta)\big),

  for 400 students :math:`i`, 100 questions :math:`j` and the 30 012 observed pairs, over
  :math:`x = (\alpha_1..\alpha_{400}, \delta, \beta_1..\beta_{100})`; every density is
  normalised.

  Returns:
    A :class:`Target` named ``"item_response"`` with ``log_prob: x [..., 501] -> [...]``, no
    ``log_z``, no sampler, and Inference Gym's ground-truth :class:`PosteriorMoments` of
    :math:`x`.

  References:
    Inference Gym, ``SyntheticItemResponseTheory`` (TensorFlow Probability).
  """
  table = load_csv("synthetic_irt.csv").astype(np.int64)
  students, questions = int(table[:, 0].max()) + 1, int(table[:, 1].max()) + 1
  observed = np.zeros((students, questions), bool)
  observed[table[:, 0], table[:, 1]] = True
  # Signs s = 2y - 1 so that log p(y | logit) = log sigmoid(s * logit); 0 where unobserved.
  signs = np.zeros((students, questions))
  signs[table[:, 0], table[:, 1]] = 2.0 * table[:, 2] - 1.0
  dim = students + 1 + questions

  def log_prob(x):
    x = jnp.asarray(x)
    if x.shape[-1:] != (dim,):
      raise ValueError(f"item_response: x must have shape [..., {dim}], got {x.shape}")
    ability, delta, difficulty = x[..., :students], x[..., students], x[..., students + 1 :]
    logits = ability[..., :, None] - difficulty[..., None, :] + delta[..., None, None]
    s = jnp.asarray(signs, x.dtype)
    lp_y = jnp.sum(jnp.where(observed, jax.nn.log_sigmoid(s * logits), 0.0), (-2, -1))
    lp_prior = (
      -0.5 * (jnp.sum(ability**2, -1) + (delta - _MEAN_ABILITY) ** 2 + jnp.sum(difficulty**2, -1))
      - 0.5 * dim * _LOG_2PI
    )
    return lp_prior + lp_y

  moments = gym_moments("item_response", lambda x: x)
  return Target("item_response", dim, log_prob, None, None, moments=moments)
