r"""Pure training steps for the preference experiment: the reference policy (exact maximum
likelihood), f-DPO on Bradley-Terry pairs, f-DPG towards :math:`\pi_{ref} e^{r/\beta}` and
REINFORCE with a verifiable reward under a reverse-KL, forward-KL or JS regulariser; and
the exact evaluation of a policy by enumeration.

Every ``train_*`` function is ``(key, params, ...) -> (params, losses)``, a ``lax.scan``
over steps, so the caller vmaps it over seeds (and f-DPO over ``beta``, a traced value)
and jits it once per divergence.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training.train_state import TrainState

import fdiv_jax as fd
from experiments.common import calibration
from experiments.preference import policy
from experiments.preference.problem import Problem


def _adam_scan(loss_fn, params, keys, learning_rate, *, snapshots: int = 0):
  """``(params, losses)`` after one Adam step on ``loss_fn(params, key)`` per key; with
  ``snapshots = S > 0``, ``params`` are stacked ``[S, ...]`` at the ends of ``S`` equal
  chunks of the steps (the last is the final state)."""

  def step(state, key):
    loss, grads = jax.value_and_grad(loss_fn)(state.params, key)
    return state.apply_gradients(grads=grads), loss

  state = TrainState.create(apply_fn=None, params=params, tx=optax.adam(learning_rate))
  if not snapshots:
    state, losses = jax.lax.scan(step, state, keys)
    return state.params, losses

  def chunk(state, chunk_keys):
    state, losses = jax.lax.scan(step, state, chunk_keys)
    return state, (state.params, losses)

  _, (params, losses) = jax.lax.scan(chunk, state, keys.reshape(snapshots, -1, *keys.shape[1:]))
  return params, losses.reshape(-1)


def exact_logp(model, params, problem: Problem) -> jax.Array:
  """``log pi(y | x)`` of every response, ``[P, N]``."""
  return policy.all_logp(model, params, num_prompts=problem.num_prompts, length=problem.length)


# ---------------------------------------------------------------------------
# Reference: maximum likelihood on the data distribution, exactly.
# ---------------------------------------------------------------------------


def train_reference(params, mass, *, model, length: int, steps: int, learning_rate: float):
  r"""Minimises the exact cross-entropy :math:`-\frac1P\sum_x\sum_y p(y|x)\log\pi(y|x)`,
  summed over the prefix table: ``mass [P, M, V]`` is the data's
  :func:`policy.next_token_mass`."""
  num_prompts = mass.shape[0]

  def loss_fn(params, _):
    table = policy.prefix_logp(model, params, num_prompts=num_prompts, length=length)
    return -jnp.sum(mass * table) / num_prompts

  keys = jax.random.split(jax.random.PRNGKey(0), steps)  # unused: the loss is exact
  return _adam_scan(loss_fn, params, keys, learning_rate)


# ---------------------------------------------------------------------------
# f-DPO on pairs drawn from the reference and labelled by Bradley-Terry.
# ---------------------------------------------------------------------------


def preference_pairs(key, log_ref: jax.Array, reward: jax.Array, num: int) -> dict:
  r"""``num`` pairs per prompt, both responses from the reference, ``y1`` preferred with
  probability :math:`\sigma(r(y_1) - r(y_2))`; flat ``[P * num]`` arrays of prompt,
  ``chosen`` and ``rejected`` response indices and ``first`` (whether ``y1`` won)."""
  k1, k2, k3 = jax.random.split(key, 3)
  y1, y2 = policy.sample(k1, log_ref, num), policy.sample(k2, log_ref, num)  # [P, num]
  r1 = jnp.take_along_axis(reward, y1, -1)
  r2 = jnp.take_along_axis(reward, y2, -1)
  first = jax.random.bernoulli(k3, jax.nn.sigmoid(r1 - r2))
  prompt = jnp.broadcast_to(jnp.arange(log_ref.shape[0])[:, None], y1.shape)
  return {
    "prompt": prompt.reshape(-1),
    "chosen": jnp.where(first, y1, y2).reshape(-1),
    "rejected": jnp.where(first, y2, y1).reshape(-1),
    "first": first.reshape(-1),
    "true_margin": jnp.where(first, r1 - r2, r2 - r1).reshape(-1),  # r(chosen) - r(rejected)
  }


def train_dpo(key, params, beta, *, model, problem: Problem, log_ref, divergence, config) -> tuple:
  """f-DPO from the reference on ``config.dpo_pairs`` pairs per prompt (drawn from
  ``key``), minibatches of ``config.dpo_batch`` pairs, Adam."""
  data_key, batch_key = jax.random.split(key)
  pairs = preference_pairs(data_key, log_ref, problem.reward, config.dpo_pairs)
  responses = jnp.asarray(problem.responses)

  def loss_fn(params, k):
    i = jax.random.randint(k, (config.dpo_batch,), 0, pairs["prompt"].shape[0])
    x, w, l = pairs["prompt"][i], pairs["chosen"][i], pairs["rejected"][i]
    logp = lambda y: policy.sequence_logp(
      model, params, x, responses[y], num_prompts=problem.num_prompts
    )
    losses = fd.f_dpo_loss(
      logp(w), logp(l), log_ref[x, w], log_ref[x, l], divergence=divergence, beta=beta
    )
    return jnp.mean(losses)

  keys = jax.random.split(batch_key, config.dpo_steps)
  return _adam_scan(loss_fn, params, keys, config.dpo_learning_rate)


def preference_calibration(log_pi, log_ref, pairs, *, divergence, beta, bins: int) -> dict:
  r"""The implicit-reward Bradley-Terry prediction :math:`\sigma(\hat r(y_w) - \hat r(y_l))`
  on held-out ``pairs``: accuracy against the sampled labels, ECE, NLL, and agreement
  with the sign of the true reward difference."""
  reward = lambda y: fd.preference.implicit_reward(
    log_pi[pairs["prompt"], y], log_ref[pairs["prompt"], y], divergence=divergence, beta=beta
  )
  margin = np.asarray(reward(pairs["chosen"]) - reward(pairs["rejected"]), np.float64)
  # Ask which response of (y1, y2) wins, so both classes occur: class 0 is "y1".
  first = np.asarray(pairs["first"])
  delta = np.where(first, margin, -margin)  # r_hat(y1) - r_hat(y2)
  logits = np.stack([delta, np.zeros_like(delta)], -1)
  out = calibration.calibration(logits, (~first).astype(np.int64), bins)
  out["true_order_agreement"] = float(np.mean(np.sign(margin) == np.sign(pairs["true_margin"])))
  return out


# ---------------------------------------------------------------------------
# f-DPG towards p ∝ pi_ref exp(r / beta), from the policy's own samples.
# ---------------------------------------------------------------------------


def _on_policy(key, params, *, model, problem: Problem, num: int):
  """``num`` samples per prompt: ``(prompt [P, num], responses [P, num, L], index)``."""
  prompts = jnp.arange(problem.num_prompts)
  y = policy.generate(
    key, model, params, prompts, num, num_prompts=problem.num_prompts, length=problem.length
  )
  x = jnp.broadcast_to(prompts[:, None], y.shape[:2])
  return x, y, policy.response_index(y, problem.vocab)


def train_dpg(key, params, *, model, problem: Problem, log_ref, divergence, config) -> tuple:
  r"""f-DPG: :func:`fdiv_jax.f_dpg_loss` on ``config.dpg_samples`` policy samples per prompt
  and step, target :math:`\log\pi_{ref} + r/\beta` (``beta = config.dpg_beta``)."""
  log_target = log_ref + problem.reward / config.dpg_beta

  def loss_fn(params, k):
    x, y, idx = _on_policy(k, params, model=model, problem=problem, num=config.dpg_samples)
    logp = policy.sequence_logp(model, params, x, y, num_prompts=problem.num_prompts)
    target = jnp.take_along_axis(log_target, idx, -1)
    return jnp.mean(fd.f_dpg_loss(logp, target, divergence=divergence))

  keys = jax.random.split(key, config.dpg_steps)
  return _adam_scan(loss_fn, params, keys, config.dpg_learning_rate)


# ---------------------------------------------------------------------------
# RL with a verifiable reward, regularised towards the initial policy.
# ---------------------------------------------------------------------------

RL_REGULARIZERS = ("none", "reverse_kl", "kl", "js")


def train_rl(
  key,
  params,
  coef,
  *,
  model,
  problem: Problem,
  log_init,
  regularizer: str,
  steps: int,
  snapshots: int,
  config,
) -> tuple:
  r"""REINFORCE on the verifier's 0/1 reward with the group-mean baseline (``config.rl_group``
  samples per prompt), plus ``coef`` (may be traced) times a regulariser to the initial policy
  :math:`\pi_0` (whose exact log-probabilities are ``log_init``):

  * ``"reverse_kl"``: :math:`\mathrm{KL}(\pi\|\pi_0)` from the policy's samples
    (:func:`fdiv_jax.f_divergence` with score-function gradients; the usual RLHF penalty);
  * ``"kl"`` / ``"js"``: DPH-RL's :math:`D_f(\pi_0\|\pi)` from a fixed set of
    ``config.rl_init_samples`` samples of :math:`\pi_0` per prompt, drawn once
    (:func:`fdiv_jax.preference.mass_covering_regularizer`): forward KL and JS.

  Returns ``(params [snapshots, ...], losses [steps])``: the policy after each
  ``steps / snapshots`` steps.
  """
  if regularizer not in RL_REGULARIZERS:
    raise ValueError(f"regularizer must be one of {RL_REGULARIZERS}, got {regularizer!r}")
  init_key, key = jax.random.split(key)
  init_samples = policy.sample(init_key, log_init, config.rl_init_samples)  # [P, M]
  responses = jnp.asarray(problem.responses)
  prompts = jnp.arange(problem.num_prompts)[:, None]
  num_prompts = problem.num_prompts

  def loss_fn(params, k):
    k_pi, k_0 = jax.random.split(k)
    x, y, idx = _on_policy(k_pi, params, model=model, problem=problem, num=config.rl_group)
    logp = policy.sequence_logp(model, params, x, y, num_prompts=num_prompts)
    solved = jnp.take_along_axis(problem.correct, idx, -1).astype(logp.dtype)
    advantage = solved - jnp.mean(solved, -1, keepdims=True)
    loss = -jnp.mean(advantage * logp)
    if regularizer == "reverse_kl":
      log0 = jnp.take_along_axis(log_init, idx, -1)
      reg = fd.f_divergence(log0, logp, divergence="reverse_kl", gradient="score_function")
      loss += coef * jnp.mean(reg)
    elif regularizer in ("kl", "js"):
      j = jax.random.randint(k_0, (num_prompts, config.rl_group), 0, config.rl_init_samples)
      idx0 = jnp.take_along_axis(init_samples, j, -1)
      x0 = jnp.broadcast_to(prompts, idx0.shape)
      logp0 = policy.sequence_logp(model, params, x0, responses[idx0], num_prompts=num_prompts)
      reg = fd.preference.mass_covering_regularizer(
        logp0, jnp.take_along_axis(log_init, idx0, -1), divergence=regularizer
      )
      loss += coef * jnp.mean(reg)
    return loss

  keys = jax.random.split(key, steps)
  return _adam_scan(loss_fn, params, keys, config.rl_learning_rate, snapshots=snapshots)


# ---------------------------------------------------------------------------
# Exact evaluation.
# ---------------------------------------------------------------------------


def evaluate(log_pi, log_ref, problem: Problem, *, ks) -> dict:
  """Exact metrics of a policy (means over prompts; per-prompt solve rates)."""
  kl = lambda p, q: divergences_to(p, q, ("kl",))["kl"]
  solve = policy.expectation(log_pi, problem.correct.astype(log_pi.dtype))
  return {
    "reward": float(jnp.mean(policy.expectation(log_pi, problem.reward))),
    "entropy": float(jnp.mean(policy.entropy(log_pi))),
    "kl_to_ref": kl(log_pi, log_ref),  # KL(pi || pi_ref)
    "kl_from_ref": kl(log_ref, log_pi),  # KL(pi_ref || pi)
    "solve_rate": [float(s) for s in solve],
    "pass_at_k": {str(k): v for k, v in policy.pass_at_k(log_pi, problem.correct, ks).items()},
  }


def divergences_to(log_target, log_pi, names) -> dict:
  r"""Exact :math:`D_f(p\|\pi)` for each registry ``name`` (mean over prompts)."""
  return {
    n: float(jnp.mean(fd.categorical.f_divergence(log_target, log_pi, divergence=n))) for n in names
  }
