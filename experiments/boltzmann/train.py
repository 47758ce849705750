"""Boltzmann generators: normalising flows trained with f-divergences and TA-BG.

Every method is a list of *stages*, each a pure, jitted, seed-vmapped function
``state -> (state, metrics)``: ``log_every`` steps of an f-divergence
objective (``fdiv_jax.monte_carlo.f_divergence`` with the registry entry, at a
temperature), or one TA-BG level (importance-resample a buffer at the next
temperature, then maximum likelihood on it). A level ``T`` anneals along one of
two paths to the target (``T = 1``): by temperature, ``log p / T`` (TA-BG), or
geometrically from the flow's base ``N(0, s^2 I)``,
``(1 - 1/T) log N(x; 0, s^2 I) + log p / T`` (``"tabg:base"``; for targets
that tempering distorts, such as Neal's funnel). The runner in ``main.py``
evaluates, checkpoints and NaN-checks between stages. Under a ``jax.set_mesh``
context every batch is split over the devices (``fdiv_jax.parallel``).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

import fdiv_jax as fd
from fdiv_jax import flows
from fdiv_jax import metrics as M
from fdiv_jax import parallel
from fdiv_jax import targets


PATHS = ("temperature", "base")


def make_target(name: str) -> targets.Target:
  if name == "gmm40":
    return targets.gmm40()
  if name == "many_well32":
    return targets.many_well(32)
  if name == "funnel10":
    return targets.funnel(10)
  raise ValueError(f"unknown target {name!r}; valid: gmm40, many_well32, funnel10")


def make_flow(config, dim: int) -> flows.Flow:
  if config.flow == "spline":
    return flows.spline_flow(dim, num_layers=config.layers, hidden=config.hidden,
                             num_bins=config.bins, bound=config.bound,
                             base_scale=config.base_scale, masks=config.masks)
  if config.flow == "real_nvp":
    return flows.real_nvp(dim, num_layers=config.layers, hidden=config.hidden,
                          base_scale=config.base_scale, marginal_bins=config.marginal_bins,
                          marginal_bound=config.marginal_bound, masks=config.masks)
  raise ValueError(f"flow must be 'spline' or 'real_nvp', got {config.flow!r}")


def annealed_log_prob(log_p: jax.Array, x: jax.Array, temperature, *, path: str,
                      base_scale: float) -> jax.Array:
  r"""Unnormalised log density of an annealing level ``T`` (``T = 1``: the target).

  ``"temperature"``: :math:`\log p(x) / T` (TA-BG; Schopmans & Friederich,
  2025). ``"base"``: the geometric path from the flow's base,
  :math:`(1 - 1/T)\log N(x; 0, s^2 I) + \log p(x) / T`, i.e.
  :math:`\beta = 1/T` of the way from the base to the target.
  """
  out = log_p / temperature
  if path == "base":
    base = jax.scipy.stats.norm.logpdf(x, scale=base_scale).sum(-1)
    out = out + (1.0 - 1.0 / temperature) * base
  elif path != "temperature":
    raise ValueError(f"path must be one of {PATHS}, got {path!r}")
  return out


class State(NamedTuple):
  params: Any
  opt_state: Any
  step: jax.Array


class Stage(NamedTuple):
  label: str
  run: Callable        # (state [seeds], keys [seeds]) -> (state, metrics)
  target_evals: int    # energy evaluations per seed in this stage


class Trainer(NamedTuple):
  init: Callable
  f_stage: Callable    # (divergence, temperature, steps, path) -> Stage
  tabg_level: Callable  # (temperature, label, path) -> Stage
  evaluate: Callable   # (params, key) -> dict (one seed)


def make_trainer(config, target: targets.Target, flow: flows.Flow,
                 exact: jax.Array | None) -> Trainer:
  optimizer = optax.chain(optax.clip_by_global_norm(config.grad_clip),
                          optax.adam(config.learning_rate))

  def init(key):
    params = flow.init(key)
    return State(params, optimizer.init(params), jnp.zeros((), jnp.int32))

  def log_p(x, temperature, path):
    """Annealed log density at level ``temperature``, the energy clipped at ``energy_clip``."""
    return annealed_log_prob(jnp.maximum(target.log_prob(x), -config.energy_clip), x,
                             temperature, path=path, base_scale=config.base_scale)

  def update(state, loss_fn, key):
    value, grads = jax.value_and_grad(loss_fn)(state.params, key)
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    return State(optax.apply_updates(state.params, updates), opt_state, state.step + 1), value

  @functools.partial(jax.jit, static_argnames=("steps", "path"))
  def f_run(states, keys, divergence, temperature, *, steps, path):
    # Reverse KL needs no normaliser (its gradient is the ELBO's); every other
    # entry is estimated with self-normalised importance weights.
    self_normalize = divergence.name != "reverse_kl"

    def loss_fn(params, key):
      x, log_q = parallel.shard_batch(flow.sample_and_log_prob(params, key,
                                                               config.batch_size))
      return fd.f_divergence(log_p(x, temperature, path), log_q, divergence=divergence,
                             self_normalize=self_normalize)

    def one(state, key):
      def body(state, _):
        k = jax.random.fold_in(key, state.step)
        return update(state, loss_fn, k)
      return jax.lax.scan(body, state, length=steps)

    states, losses = jax.vmap(one)(states, keys)
    return states, {"loss": losses}

  def f_stage(divergence: fd.Divergence, temperature: float, steps: int,
              path: str = "temperature") -> Stage:
    run = functools.partial(f_run, divergence=divergence,
                            temperature=jnp.float32(temperature), steps=steps, path=path)
    label = f"{divergence.name} {level_label(temperature, path)} x{steps}"
    return Stage(label, run, steps * config.batch_size)

  n = config.buffer_size

  @functools.partial(jax.jit, static_argnames=("path",))
  def tabg_run(states, keys, temperature, *, path):

    def one(state, key):
      k_s, k_r, k_t = jax.random.split(jax.random.fold_in(key, state.step), 3)
      x, log_q = flow.sample_and_log_prob(jax.lax.stop_gradient(state.params), k_s, n)
      x, log_q = parallel.shard_batch(jax.lax.stop_gradient((x, log_q)))
      log_w = log_p(x, temperature, path) - log_q
      threshold = jnp.quantile(log_w, config.clip_quantile)
      clipped = jnp.minimum(log_w, threshold)
      # Multinomial resampling by inverse CDF: O(n log n) time, O(n) memory.
      idx = jax.random.choice(k_r, n, shape=(n,), replace=True, p=jax.nn.softmax(clipped))
      buffer = x[idx]
      ess = M.reverse_ess(clipped, jnp.zeros_like(clipped))

      def nll(params, k):
        idx = jax.random.randint(k, (config.batch_size,), 0, n)
        return -jnp.mean(flow.log_prob(params, parallel.shard_batch(buffer[idx])))

      def body(state, i):
        return update(state, nll, jax.random.fold_in(k_t, i))

      state, losses = jax.lax.scan(body, state, jnp.arange(config.ml_steps))
      return state, {"loss": losses, "buffer_ess": ess,
                     "clipped_fraction": jnp.mean(log_w > threshold)}

    return jax.vmap(one)(states, keys)

  def tabg_level(temperature: float, label: str, path: str = "temperature") -> Stage:
    return Stage(label, functools.partial(tabg_run, temperature=jnp.float32(temperature),
                                          path=path), n)

  def evaluate(params, key) -> dict:
    k1, _ = jax.random.split(key)
    x, log_q = flow.sample_and_log_prob(params, k1, config.eval_samples)
    lp = target.log_prob(x)
    out = {"elbo": M.elbo(lp, log_q), "reverse_ess": M.reverse_ess(lp, log_q),
           "log_z": M.log_z_estimate(lp, log_q),
           "energy_clipped_fraction": jnp.mean(lp < -config.energy_clip)}
    if target.log_z is not None:
      out["log_z_error"] = out["log_z"] - target.log_z
    if exact is not None:
      lq_y = flow.log_prob(params, exact)
      lp_y = target.log_prob(exact)
      out.update(forward_ess=M.forward_ess(lp_y, lq_y), eubo=M.eubo(lp_y, lq_y),
                 nll_exact=-jnp.mean(lq_y),
                 energy_distance=M.energy_distance(x[:2000], exact[:2000]))
    if target.means is not None:
      radius = 4.0 * float(np.logaddexp(0.0, 1.0))  # 4 sigma, sigma = softplus(1)
      cov = M.mode_coverage(x, target.means, radius=radius,
                            min_count=max(1, int(0.2 * config.eval_samples /
                                                 target.means.shape[0])))
      out.update(modes_covered=cov["modes_covered"], mode_entropy=cov["mode_entropy"])
    out["_samples"] = x[:2000]
    return out

  return Trainer(init, f_stage, tabg_level, evaluate)


def level_label(temperature: float, path: str) -> str:
  return f"T={temperature:.3g}" if path == "temperature" else f"beta={1 / temperature:.3g}"


def stages_for(method: str, config, trainer: Trainer) -> list[Stage]:
  """The stage list of a method: ``"tabg"`` (by temperature), ``"tabg:base"``
  (the geometric path from the base) or a registry spec (``"alpha:2"``)."""
  from experiments.common import cli
  name, _, path = method.partition(":")
  if name == "tabg":
    path = path or "temperature"
    if path not in PATHS:
      raise ValueError(f"method {method!r}: the TA-BG path must be one of {PATHS}")
    rkl = fd.get("reverse_kl")
    chunk = config.log_every
    stages = [trainer.f_stage(rkl, config.t_high, chunk, path)
              for _ in range(config.high_steps // chunk)]
    temps = np.geomspace(config.t_high, 1.0, config.levels + 1)[1:]
    stages += [trainer.tabg_level(float(t), f"TA-BG level {level_label(t, path)}", path)
               for t in temps]
    stages += [trainer.tabg_level(1.0, f"TA-BG refit {i + 1} at {level_label(1.0, path)}",
                                  path)
               for i in range(config.final_levels)]
    return stages
  div = cli.parse_divergence(method)
  return [trainer.f_stage(div, 1.0, config.log_every)
          for _ in range(config.steps // config.log_every)]
