"""The preference jobs: the reference policy (trained once, cached by the config that made
it), one f-DPO job per divergence (seeds x betas, vmapped), one f-DPG job per divergence
(seeds, vmapped) and one RL job per regulariser (seeds x weights, vmapped). Each job
returns plain JSON: per-seed exact metrics, their mean and std, and its wall time."""

from __future__ import annotations

import dataclasses
import os

import jax
import jax.numpy as jnp
import numpy as np

from experiments.common import checkpoint, jobs
from experiments.common import results as R
from experiments.preference import policy, problem
from experiments.preference import train as T

REFERENCE_FIELDS = (
  "vocab",
  "length",
  "template_weights",
  "token_noise",
  "reward_scale",
  "problem_seed",
  "hidden",
  "reference_steps",
  "reference_learning_rate",
)
METRICS = ("reward", "entropy", "kl_to_ref", "kl_from_ref")


@dataclasses.dataclass(frozen=True)
class Setup:
  """What every job shares: the problem, the policy network and the reference."""

  problem: problem.Problem
  model: policy.Policy
  reference: dict  # the reference policy's parameters
  log_ref: jax.Array  # [P, N] its exact log-probabilities


def setup(config, workdir: str) -> tuple[Setup, dict]:
  r"""``(setup, record)``: the reference restored from ``workdir/reference`` when the fields
  in ``REFERENCE_FIELDS`` that made it are unchanged, else trained; ``record`` holds its
  exact metrics and :math:`\mathrm{KL}(p_{data}\|\pi_{ref})`."""
  prob = problem.make_problem(config)
  model = policy.Policy(tuple(config.hidden), config.vocab)
  dim = prob.num_prompts + config.length * (1 + config.vocab)

  def train(params):
    mass = policy.next_token_mass(prob.log_data, config.vocab, config.length)
    fit = lambda p, m: T.train_reference(
      p,
      m,
      model=model,
      length=config.length,
      steps=config.reference_steps,
      learning_rate=config.reference_learning_rate,
    )
    params, losses = jax.jit(fit)(params, jnp.asarray(mass, jnp.float32))
    R.check_finite(losses, what="reference training loss")
    return params

  params, restored = checkpoint.restore_or_init(
    os.path.join(workdir, "reference"),
    lambda: model.init(jax.random.PRNGKey(0), jnp.zeros((1, dim))),
    train,
    made_by={
      "num_prompts": prob.num_prompts,  # the verifier's rates do not change the data
      **{f: getattr(config, f) for f in REFERENCE_FIELDS},
    },
  )
  log_ref = T.exact_logp(model, params, prob)
  record = T.evaluate(log_ref, log_ref, prob, ks=config.pass_ks)
  record["data"] = T.evaluate(prob.log_data, log_ref, prob, ks=config.pass_ks)
  record["kl_data_to_ref"] = record["data"]["kl_to_ref"]  # KL(p_data || pi_ref)
  record["restored_from_checkpoint"] = restored
  return Setup(prob, model, params, log_ref), record


def _keys(config, salt: int) -> jax.Array:
  return jax.vmap(lambda s: jax.random.fold_in(jax.random.PRNGKey(salt), s))(
    jnp.arange(config.seeds)
  )


def _seed_grid(train, keys, values, *shared):
  """``(outputs [seed, value, ...], wall seconds)`` of ``train(key, value, *shared)`` for
  every seed key and grid value (a traced hyperparameter), as one compiled program."""
  rest = (None,) * len(shared)
  run = jax.jit(jax.vmap(jax.vmap(train, (None, 0, *rest)), (0, None, *rest)))
  return jobs.timed(lambda: run(keys, values, *shared))


def _run(i, params) -> dict:
  return jax.tree.map(lambda a: a[i], params)


def frontier(s: Setup, betas) -> list[dict]:
  r"""Exact reward and entropy of :math:`\pi_{ref} e^{r/\beta}` (the KL-constrained optimum)
  over ``betas``: the frontier that DPO's policies approach with infinite data."""
  out = []
  for beta in betas:
    log_pi = problem.kl_tilted(s.log_ref, s.problem.reward, beta)
    out.append(
      {
        "beta": float(beta),
        "reward": float(jnp.mean(policy.expectation(log_pi, s.problem.reward))),
        "entropy": float(jnp.mean(policy.entropy(log_pi))),
      }
    )
  return out


def dpo(divergence: str, *, config, s: Setup) -> dict:
  """f-DPO with ``divergence`` for every beta and seed; exact metrics and held-out ECE."""
  betas = jnp.asarray(config.dpo_betas, jnp.float32)
  train = lambda key, beta, ref, log_ref, prob: T.train_dpo(
    key,
    ref,
    beta,
    model=s.model,
    problem=prob,
    log_ref=log_ref,
    divergence=divergence,
    config=config,
  )
  keys = _keys(config, 1)
  (params, losses), wall = _seed_grid(train, keys, betas, s.reference, s.log_ref, s.problem)
  R.check_finite(losses, what=f"f-DPO ({divergence}) training loss")
  out = {"wall_s": wall, "betas": {}}
  for b, beta in enumerate(config.dpo_betas):
    per_seed = []
    for seed in range(config.seeds):
      log_pi = T.exact_logp(s.model, _run((seed, b), params), s.problem)
      held_out = T.preference_pairs(
        jax.random.fold_in(keys[seed], 7), s.log_ref, s.problem.reward, config.dpo_pairs
      )
      m = T.evaluate(log_pi, s.log_ref, s.problem, ks=config.pass_ks)
      cal = T.preference_calibration(
        log_pi, s.log_ref, held_out, divergence=divergence, beta=beta, bins=config.ece_bins
      )
      m.update({k: cal[k] for k in ("accuracy", "ece", "nll", "true_order_agreement")})
      m["final_loss"] = float(np.mean(np.asarray(losses[seed, b, -50:])))
      per_seed.append(m)
    keys_ = (*METRICS, "accuracy", "ece", "nll", "true_order_agreement")
    out["betas"][str(beta)] = {"per_seed": per_seed, **R.mean_std(per_seed, keys_)}
  return out


def dpg(divergence: str, *, config, s: Setup) -> dict:
  r"""f-DPG with ``divergence`` towards :math:`\pi_{ref} e^{r/\beta}`; exact :math:`D(p\|\pi)`."""
  log_target = problem.kl_tilted(s.log_ref, s.problem.reward, config.dpg_beta)
  train = lambda key, ref, log_ref, prob: T.train_dpg(
    key, ref, model=s.model, problem=prob, log_ref=log_ref, divergence=divergence, config=config
  )
  run = jax.jit(jax.vmap(train, (0, None, None, None)))
  (params, losses), wall = jobs.timed(
    lambda: run(_keys(config, 2), s.reference, s.log_ref, s.problem)
  )
  R.check_finite(losses, what=f"f-DPG ({divergence}) training loss")
  per_seed = []
  for seed in range(config.seeds):
    log_pi = T.exact_logp(s.model, _run(seed, params), s.problem)
    m = T.evaluate(log_pi, s.log_ref, s.problem, ks=config.pass_ks)
    m["to_target"] = T.divergences_to(log_target, log_pi, config.eval_divergences)
    m.update({f"D_{k}": v for k, v in m["to_target"].items()})
    per_seed.append(m)
  keys_ = (*METRICS, *(f"D_{k}" for k in config.eval_divergences))
  return {"wall_s": wall, "per_seed": per_seed, **R.mean_std(per_seed, keys_)}


def rl(regularizer: str, *, config, s: Setup) -> dict:
  """REINFORCE on the verifier's reward with ``regularizer`` at every weight (``"none"``:
  one run at weight 0), every seed; Pass@k and entropy along training, exactly."""
  coefs = (0.0,) if regularizer == "none" else tuple(config.rl_coefs)
  snapshots = config.rl_steps // config.rl_eval_every
  train = lambda key, coef, ref, log_ref, prob: T.train_rl(
    key,
    ref,
    coef,
    model=s.model,
    problem=prob,
    log_init=log_ref,
    regularizer=regularizer,
    steps=snapshots * config.rl_eval_every,
    snapshots=snapshots,
    config=config,
  )
  (params, losses), wall = _seed_grid(
    train, _keys(config, 3), jnp.asarray(coefs), s.reference, s.log_ref, s.problem
  )
  R.check_finite(losses, what=f"RL ({regularizer}) training loss")
  out = {"wall_s": wall, "coefs": {}}
  for c, coef in enumerate(coefs):
    per_seed = []
    for seed in range(config.seeds):
      curve = []
      for k in range(snapshots):
        log_pi = T.exact_logp(s.model, _run((seed, c, k), params), s.problem)
        m = T.evaluate(log_pi, s.log_ref, s.problem, ks=config.pass_ks)
        curve.append({"step": (k + 1) * config.rl_eval_every, **m})
      final = dict(curve[-1], curve=curve)
      final.update({f"pass@{k}": v for k, v in final["pass_at_k"].items()})
      per_seed.append(final)
    keys_ = (*METRICS, *(f"pass@{k}" for k in config.pass_ks))
    out["coefs"][str(coef)] = {"per_seed": per_seed, **R.mean_std(per_seed, keys_)}
  return out
