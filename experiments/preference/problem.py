r"""The preference problem: prompts, a multi-modal data distribution, a known reward and a
verifier, all as exact tables over every response ``[P, V ** L]``.

* Data (what the reference policy is pretrained on): per prompt ``x`` a mixture of
  ``K`` templates :math:`\tau_{xk}` with weights :math:`w_k`, each token kept with
  probability :math:`1 - \epsilon` and otherwise uniform,
  :math:`p(y|x) = \sum_k w_k \prod_t [(1-\epsilon)\,1\{y_t = \tau_{xkt}\} + \epsilon/V]`.
* Reward (the Bradley-Terry labeller's): additive in positions,
  :math:`r(x, y) = s \sum_t S_{x t y_t}`, :math:`S \sim N(0, 1/L)`, so it has scale ``s``
  over uniform responses and its maximiser is one sequence per prompt.
* Verifier (RL with verifiable rewards): ``y`` is correct for ``x`` when its reward
  passes the prompt's bar, set so that the data distribution solves prompt ``x`` with
  probability ``solve_rates[x]`` (easy and hard prompts side by side).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from experiments.preference import policy


@functools.partial(
  jax.tree_util.register_dataclass,
  data_fields=["responses", "log_data", "reward", "correct"],
  meta_fields=["vocab"],
)
@dataclasses.dataclass(frozen=True)
class Problem:
  """Exact tables over every response; rows are prompts. A pytree (``vocab`` static), so
  jitted steps take it as an argument rather than folding its tables in as constants."""

  responses: jax.Array  # [N, L] int
  log_data: jax.Array  # [P, N] log p_data(y | x)
  reward: jax.Array  # [P, N] r(x, y)
  correct: jax.Array  # [P, N] bool, the verifier's verdict
  vocab: int

  @property
  def num_prompts(self) -> int:
    return self.log_data.shape[0]

  @property
  def length(self) -> int:
    return self.responses.shape[1]


def make_problem(config) -> Problem:
  """The problem of ``config`` (fields ``vocab``, ``length``, ``solve_rates`` (one per
  prompt), ``template_weights``, ``token_noise``, ``reward_scale``, ``problem_seed``)."""
  vocab, length = config.vocab, config.length
  num_prompts = len(config.solve_rates)
  rng = np.random.default_rng(config.problem_seed)
  responses = policy.space(vocab, length)["responses"]  # [N, L]
  weights = np.asarray(config.template_weights, np.float64)
  templates = rng.integers(0, vocab, size=(num_prompts, len(weights), length))
  eps = config.token_noise
  hit = responses[None, None] == templates[:, :, None]  # [P, K, N, L]
  log_token = np.where(hit, np.log(1 - eps + eps / vocab), np.log(eps / vocab))
  log_mix = np.log(weights / weights.sum())[None, :, None] + log_token.sum(-1)
  log_data = np.logaddexp.reduce(log_mix, axis=1)  # [P, N]
  scores = rng.normal(size=(num_prompts, length, vocab)) / np.sqrt(length)
  reward = config.reward_scale * scores[:, np.arange(length), responses].sum(-1)  # [P, N]
  correct = np.stack(
    [_top_mass(r, lp, rate) for r, lp, rate in zip(reward, log_data, config.solve_rates)]
  )
  return Problem(
    responses=jnp.asarray(responses),
    log_data=jnp.asarray(log_data, jnp.float32),
    reward=jnp.asarray(reward, jnp.float32),
    correct=jnp.asarray(correct),
    vocab=vocab,
  )


def _top_mass(reward: np.ndarray, log_p: np.ndarray, rate: float) -> np.ndarray:
  """The highest-reward responses holding probability ``rate`` under ``exp(log_p)``
  (the smallest such set: the bar is the reward where the mass first reaches it)."""
  order = np.argsort(-reward)
  mass = np.cumsum(np.exp(log_p[order]))
  keep = np.zeros(reward.shape, bool)
  keep[order[: int(np.searchsorted(mass, rate)) + 1]] = True
  return keep


def kl_tilted(log_ref: jax.Array, reward: jax.Array, beta) -> jax.Array:
  r""":math:`\log\pi^*(y|x)` of :math:`\pi^* \propto \pi_{ref} e^{r/\beta}`, the optimum of
  :math:`\mathbb E_\pi[r] - \beta\,\mathrm{KL}(\pi\|\pi_{ref})` (DPO's target; f-DPG's)."""
  logits = log_ref + reward / beta
  return logits - jax.nn.logsumexp(logits, -1, keepdims=True)
