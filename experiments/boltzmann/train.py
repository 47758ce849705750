"""Boltzmann generators: normalising flows trained with f-divergences and TA-BG.

Every method is a list of *stages*, each a pure, jitted, seed-vmapped function
``state -> (state, metrics)``: ``log_every`` steps of an f-divergence
objective (``fdiv_jax.monte_carlo.f_divergence`` with the registry entry, at a
temperature), or one TA-BG level (importance-resample a buffer at the next
temperature, then maximum likelihood on it). A level ``T`` anneals along one of
two paths to the target (``T = 1``): by temperature, ``log p / T`` (TA-BG), or
geometrically from the flow's base ``N(0, s^2 I)``,
``(1 - 1/T) log N(x; 0, s^2 I) + log p / T`` (``"tabg:base"``; for targets
that tempering distorts, such as Neal's funnel). FAB (``"fab"``, ``"fab:nobuffer"``;
Midgley et al., 2023) alternates AIS from the flow towards
:math:`p^\alpha q^{1-\alpha}` (``fdiv_jax.annealing.ais``, blackjax kernels) with
weighted maximum likelihood on its samples, through a prioritised replay
buffer or directly. The runner in ``main.py``
evaluates, checkpoints and NaN-checks between stages. Under a ``jax.set_mesh``
context every batch is split over the devices (``fdiv_jax.parallel``).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training.train_state import TrainState

import fdiv_jax as fd
from experiments.common import training
from fdiv_jax import annealing, flows, parallel, targets
from fdiv_jax import metrics as M

PATHS = ("temperature", "base")


# Every target a config can name: the synthetic ones and the sampling benchmark's posteriors.
TARGETS = {
  "gmm40": targets.gmm40,
  "many_well32": lambda: targets.many_well(32),
  "funnel10": lambda: targets.funnel(10),
  "german_credit": targets.german_credit,
  "breast_cancer": targets.breast_cancer,
  "ionosphere": targets.ionosphere,
  "sonar": targets.sonar,
  "seeds": targets.seeds,
  "brownian": targets.brownian,
  "lgcp40": targets.lgcp,
  "lgcp40_whitened": lambda: targets.lgcp(parameterization="whitened"),
  "eight_schools": targets.eight_schools,
  "stochastic_volatility": targets.stochastic_volatility,
  "stochastic_volatility_whitened": lambda: targets.stochastic_volatility("whitened"),
  "synthetic_lgcp": lambda: targets.synthetic_lgcp(parameterization="whitened"),
  "item_response": targets.item_response,
  "alanine_dipeptide": lambda: targets.alanine_dipeptide(coordinates="standardized"),
}


def make_target(name: str) -> targets.Target:
  if name not in TARGETS:
    raise ValueError(f"unknown target {name!r}; valid: {', '.join(TARGETS)}")
  return TARGETS[name]()


def evaluation_samples(target: targets.Target, n: int) -> jax.Array | None:
  """``n`` exact samples (key 123), or ``n`` of the reference samples (evenly spaced),
  or None."""
  if target.sample is not None:
    return jnp.asarray(target.sample(jax.random.PRNGKey(123), n))
  if target.reference_samples is not None:
    ref = target.reference_samples()
    return jnp.asarray(ref[np.linspace(0, ref.shape[0] - 1, min(n, ref.shape[0])).astype(int)])
  return None


def make_flow(config, dim: int, circular: tuple[int, ...] = ()) -> flows.Flow:
  """The config's flow on ``dim`` coordinates, ``circular`` ones (a target's torsions) on
  the circle (spline flows only)."""
  if circular and config.flow != "spline":
    raise ValueError(f"a target with circular coordinates needs flow='spline', got {config.flow!r}")
  if config.flow == "spline":
    return flows.spline_flow(
      dim,
      num_layers=config.layers,
      hidden=config.hidden,
      num_bins=config.bins,
      bound=config.bound,
      base_scale=config.base_scale,
      masks=config.masks,
      squash_inputs=config.squash_inputs,
      circular=circular,
    )
  if config.flow == "real_nvp":
    return flows.real_nvp(
      dim,
      num_layers=config.layers,
      hidden=config.hidden,
      base_scale=config.base_scale,
      scale_max=config.scale_max,
      linear_skip=config.linear_skip,
      squash_inputs=config.squash_inputs,
      marginal_bins=config.marginal_bins,
      marginal_bound=config.marginal_bound,
      masks=config.masks,
    )
  raise ValueError(f"flow must be 'spline' or 'real_nvp', got {config.flow!r}")


def annealed_log_prob(
  log_p: jax.Array, x: jax.Array, temperature, *, path: str, base_scale: float
) -> jax.Array:
  r"""Unnormalised log density of an annealing level ``T`` (``T = 1``: the target).

  ``"temperature"``: :math:`\log p(x) / T` (TA-BG; Schopmans & Friederich,
  2025; ``fdiv_jax.annealing.temperature_path``). ``"base"``: the geometric
  path from the flow's base, :math:`(1 - 1/T)\log N(x; 0, s^2 I) + \log p(x) / T`,
  i.e. :math:`\beta = 1/T` of the way from the base to the target
  (``fdiv_jax.annealing.geometric_path``).
  """
  if path == "temperature":
    return annealing.temperature_path(log_p, temperature)
  if path == "base":
    base = jax.scipy.stats.norm.logpdf(x, scale=base_scale).sum(-1)
    return annealing.geometric_path(base, log_p, 1.0 / temperature)
  raise ValueError(f"path must be one of {PATHS}, got {path!r}")


class State(TrainState):
  """flax's ``TrainState`` of the flow (``apply_fn`` its log density, ``tx`` the method's
  optimiser) plus FAB's fields."""

  fab: Any = ()  # FAB: {"step_size": [levels], "buffer": ReplayBuffer}; else empty


class Stage(NamedTuple):
  label: str
  run: Callable  # (state [seeds], keys [seeds]) -> (state, metrics)
  target_evals: int  # energy evaluations per seed in this stage


class Trainer(NamedTuple):
  init: Callable  # (key, method) -> State (one seed)
  f_stage: Callable  # (divergence, temperature, steps, path) -> Stage
  tabg_level: Callable  # (temperature, label, path) -> Stage
  fab_stage: Callable  # (kind, iterations, label) -> Stage; kind "fill", "buffer", "nobuffer"
  evaluate: Callable  # (params, key) -> dict (one seed)


class Setup(NamedTuple):
  """What every stage of a run shares (closed over by the jitted stages, not traced)."""

  config: Any
  target: targets.Target
  flow: flows.Flow
  exact: jax.Array | None  # exact target samples for the forward metrics, or None
  optimizer: optax.GradientTransformation  # the tx of the reverse KL, f-divergence and TA-BG states
  betas: jax.Array  # FAB's AIS levels, 0 to 1 (a concrete array, made once)
  wide: flows.Flow | None = None  # the flow over a base widened by fab_defensive_scale


def make_setup(config, target: targets.Target, flow: flows.Flow, exact=None) -> Setup:
  """The :class:`Setup` of a run: FAB's AIS levels and, with a defensive start, the flow
  over the widened base."""
  wide = None
  if config.fab_defensive_fraction:
    widened = dataclasses.replace(config, base_scale=config.base_scale * config.fab_defensive_scale)
    wide = make_flow(widened, target.dim, target.circular)
  betas = jnp.linspace(0.0, 1.0, config.ais_levels + 2)
  return Setup(config, target, flow, exact, make_optimizer(config), betas, wide)


def make_optimizer(config) -> optax.GradientTransformation:
  return optax.chain(optax.clip_by_global_norm(config.grad_clip), optax.adam(config.learning_rate))


def fab_optimizer(config, method: str) -> optax.GradientTransformation:
  """FAB's own schedule: cosine from fab_learning_rate to fab_learning_rate_final."""
  updates = config.fab_iterations * (1 if method == "fab:nobuffer" else config.fab_updates_per_ais)
  schedule = optax.cosine_decay_schedule(
    config.fab_learning_rate,
    updates,
    alpha=config.fab_learning_rate_final / config.fab_learning_rate,
  )
  return optax.chain(optax.clip_by_global_norm(config.grad_clip), optax.adam(schedule))


def init_state(setup: Setup, key, method: str = "") -> State:
  """A fresh flow (one seed) and the optimiser state of ``method``; FAB adds its AIS step
  sizes and, with the buffer, an empty replay buffer."""
  config = setup.config
  params = setup.flow.init(key)
  if method.partition(":")[0] != "fab":
    return State.create(apply_fn=setup.flow.log_prob, params=params, tx=setup.optimizer)
  fab = {"step_size": jnp.full((config.ais_levels,), config.ais_step_size, jnp.float32)}
  if method == "fab":
    capacity = config.fab_buffer_batches * config.fab_batch_size
    fab["buffer"] = annealing.buffer_init(capacity, setup.target.dim)
  return State.create(
    apply_fn=setup.flow.log_prob, params=params, tx=fab_optimizer(config, method), fab=fab
  )


def log_p(setup: Setup, x, temperature, path):
  """Annealed log density at level ``temperature``, the energy clipped at ``energy_clip``."""
  return annealed_log_prob(
    jnp.maximum(setup.target.log_prob(x), -setup.config.energy_clip),
    x,
    temperature,
    path=path,
    base_scale=setup.config.base_scale,
  )


def _apply_update(state: State, loss_fn, *args):
  """One step of ``state.tx`` on ``loss_fn(params, *args) -> (loss, aux)``."""
  (value, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params, *args)
  return state.apply_gradients(grads=grads), (value, aux)


def f_divergence_step(setup: Setup, state: State, key, divergence, temperature, *, path):
  """One update of D_f(p_T || q) (one seed); returns (state, (loss, batch ESS)).

  Entries whose gradient needs the target's normaliser (all but reverse KL) are estimated
  with self-normalised importance weights."""
  config, flow = setup.config, setup.flow
  self_normalize = divergence.gradient_needs_normalizer

  def loss_fn(params, key):
    x, log_q = parallel.shard_batch(flow.sample_and_log_prob(params, key, config.batch_size))
    lp = log_p(setup, x, temperature, path)
    # The batch's importance-weight ESS: near 1 / batch the self-normalised
    # weights sit on one sample and the objective has collapsed.
    ess = jax.lax.stop_gradient(fd.importance_weights(lp, log_q).ess_fraction)
    return fd.f_divergence(lp, log_q, divergence=divergence, self_normalize=self_normalize), ess

  return _apply_update(state, loss_fn, jax.random.fold_in(key, state.step))


def tabg_step(setup: Setup, state: State, key, temperature, *, path):
  """One TA-BG level (one seed): :func:`fdiv_jax.annealing.tabg_level` at ``temperature``."""
  config, flow = setup.config, setup.flow
  params, opt_state, info = annealing.tabg_level(
    jax.random.fold_in(key, state.step),
    state.params,
    state.opt_state,
    sample_and_log_prob=lambda p, k, m: parallel.shard_batch(flow.sample_and_log_prob(p, k, m)),
    log_prob=lambda p, x: flow.log_prob(p, parallel.shard_batch(x)),
    log_target=lambda x: log_p(setup, x, temperature, path),
    optimizer=state.tx,
    buffer_size=config.buffer_size,
    batch_size=config.batch_size,
    num_steps=config.ml_steps,
    clip_quantile=config.clip_quantile,
  )
  return state.replace(params=params, opt_state=opt_state, step=state.step + config.ml_steps), info


def fab_sampler(setup: Setup, method: str) -> fd.fab.FABSampler:
  """The library's FAB sampler for ``method`` (its optimiser is the method's schedule),
  towards the target with the energy clipped; with ``fab_defensive_fraction`` its AIS
  starts defensively (:func:`defensive_ais`)."""
  config = setup.config
  return fd.fab.fab(
    setup.flow,
    lambda x: log_p(setup, x, 1.0, "temperature"),
    fab_optimizer(config, method),
    alpha=config.fab_alpha,
    batch_size=config.fab_batch_size,
    buffer_batches=config.fab_buffer_batches,
    fill_batches=config.fab_fill_batches,
    updates_per_ais=config.fab_updates_per_ais,
    num_levels=config.ais_levels,
    kernel=config.ais_kernel,
    step_size=config.ais_step_size,
    num_integration_steps=config.ais_integration_steps,
    num_mcmc_steps=config.ais_mcmc_steps,
    max_weight=config.fab_max_weight,
    ais_fn=(lambda k, p, eps: defensive_ais(setup, p, eps, k))
    if config.fab_defensive_fraction
    else None,
  )


def defensive_ais(setup: Setup, params, step_size, key):
  """AIS from a defensive mixture towards p^alpha q^(1 - alpha), the flow held constant.

  A fraction ``eps = fab_defensive_fraction`` of the particles starts from the flow over
  a base widened ``fab_defensive_scale`` times (``q_wide``, same parameters) and AIS
  starts from the mixture ``m = (1 - eps) q + eps q_wide`` (defensive importance
  sampling, Hesterberg 1995; counts fixed, weights against the mixture: still unbiased),
  ending at the same ``p^alpha q^(1 - alpha)``: particles reach the tails that ``q``
  under-covers, where that target puts its mass."""
  config, flow = setup.config, setup.flow
  params = jax.lax.stop_gradient(params)
  k_s, k_a, k_w = jax.random.split(key, 3)
  n = config.fab_batch_size
  n_wide = int(round(config.fab_defensive_fraction * n))
  log_q = lambda x: flow.log_prob(params, x)  # noqa: E731
  log_gamma = lambda x: log_p(setup, x, 1.0, "temperature")  # noqa: E731
  x0, _ = flow.sample_and_log_prob(params, k_s, n - n_wide)
  x_wide, _ = setup.wide.sample_and_log_prob(params, k_w, n_wide)
  eps = n_wide / n

  def log_mixture(x):
    return jnp.logaddexp(jnp.log1p(-eps) + log_q(x), jnp.log(eps) + setup.wide.log_prob(params, x))

  alpha = config.fab_alpha
  res = annealing.ais(
    k_a,
    parallel.shard_batch(jnp.concatenate([x0, x_wide])),
    log_base=log_mixture,
    log_target=lambda x: alpha * log_gamma(x) + (1 - alpha) * log_q(x),
    alpha=1.0,
    betas=setup.betas,
    kernel=config.ais_kernel,
    step_size=step_size,
    num_integration_steps=config.ais_integration_steps,
    num_mcmc_steps=config.ais_mcmc_steps,
  )
  # What the buffer and the metrics read: log q and log p at the final samples.
  return res._replace(log_base=log_q(res.samples), log_target=log_gamma(res.samples))


def _fab_state(state: State) -> fd.fab.FABState:
  fab = state.fab
  return fd.fab.FABState(state.params, state.opt_state, fab["buffer"], fab["step_size"], state.step)


def _info(info: fd.fab.FABInfo) -> dict:
  return {"loss": info.loss, "ais_ess": info.ais_ess, "acceptance": jnp.mean(info.acceptance_rate)}


def fab_fill(setup: Setup, state: State, key, *, sampler):
  """Add one AIS batch to the buffer (no gradient step): FAB's warm start."""
  new, info = sampler.fill(key, _fab_state(state))
  return state.replace(fab={"step_size": new.step_size, "buffer": new.buffer}), _info(info)


def fab_with_buffer(setup: Setup, state: State, key, *, sampler):
  """fab-jax's step (``fdiv_jax.fab``): updates on buffer samples, re-weighting, then one
  AIS batch with the flow before the updates."""
  new, info = sampler.step(key, _fab_state(state))
  return state.replace(
    params=new.params,
    opt_state=new.opt_state,
    step=state.step + setup.config.fab_updates_per_ais,
    fab={"step_size": new.step_size, "buffer": new.buffer},
  ), _info(info)


def fab_without_buffer(setup: Setup, state: State, key, *, sampler):
  """One gradient step of FAB's loss on one fresh AIS batch."""
  res = sampler.ais(key, state.params, state.fab["step_size"])

  def loss_fn(params):
    return annealing.fab_loss(
      setup.flow.log_prob(params, parallel.shard_batch(res.samples)), res.log_weights
    )

  loss, grads = jax.value_and_grad(loss_fn)(state.params)
  step_size = annealing.adapt_step_size(state.fab["step_size"], res.acceptance_rate)
  info = {"loss": loss, "ais_ess": res.ess_fraction, "acceptance": jnp.mean(res.acceptance_rate)}
  return state.apply_gradients(grads=grads, fab={**state.fab, "step_size": step_size}), info


# A per-kind salt keeps the fill's keys apart from the training stages'.
FAB_STEPS = {
  "fill": (fab_fill, 1),
  "buffer": (fab_with_buffer, 2),
  "nobuffer": (fab_without_buffer, 3),
}


def fab_iterations(setup: Setup, state: State, key, *, kind: str, iterations: int):
  """``iterations`` FAB steps of ``kind`` (one seed)."""
  step, salt = FAB_STEPS[kind]
  key = jax.random.fold_in(key, salt)
  sampler = fab_sampler(setup, "fab:nobuffer" if kind == "nobuffer" else "fab")

  def body(state, i):
    k = jax.random.fold_in(jax.random.fold_in(key, state.step), i)
    return step(setup, state, k, sampler=sampler)

  return jax.lax.scan(body, state, jnp.arange(iterations))


def ais_target_evals(config) -> int:
  """Target evaluations per AIS batch (:func:`fdiv_jax.fab.fab_target_evals`)."""
  return fd.fab.fab_target_evals(
    config.fab_batch_size,
    num_levels=config.ais_levels,
    kernel=config.ais_kernel,
    num_integration_steps=config.ais_integration_steps,
    num_mcmc_steps=config.ais_mcmc_steps,
  )


def evaluate(setup: Setup, params, key) -> dict:
  """Metrics of one seed's flow on ``eval_samples`` fresh samples (and the exact ones)."""
  config, target, flow, exact = setup.config, setup.target, setup.flow, setup.exact
  k1, _ = jax.random.split(key)
  x, log_q = flow.sample_and_log_prob(params, k1, config.eval_samples)
  lp = target.log_prob(x)
  out = {
    "elbo": M.elbo(lp, log_q),
    "reverse_ess": M.reverse_ess(lp, log_q),
    "log_z": M.log_z_estimate(lp, log_q),
    "energy_clipped_fraction": jnp.mean(lp < -config.energy_clip),
  }
  if target.log_z is not None:
    out["log_z_error"] = out["log_z"] - target.log_z
  if exact is not None:
    lq_y = flow.log_prob(params, exact)
    lp_y = target.log_prob(exact)
    out.update(
      forward_ess=M.forward_ess(lp_y, lq_y),
      eubo=M.eubo(lp_y, lq_y),
      nll_exact=-jnp.mean(lq_y),
      energy_distance=M.energy_distance(x[:2000], exact[:2000]),
    )
  if target.moments is not None:
    out.update(moment_metrics(target.moments, x, lp - log_q))
  if target.means is not None:
    radius = 4.0 * float(np.logaddexp(0.0, 1.0))  # 4 sigma, sigma = softplus(1)
    cov = M.mode_coverage(
      x,
      target.means,
      radius=radius,
      min_count=max(1, int(0.2 * config.eval_samples / target.means.shape[0])),
    )
    out.update(modes_covered=cov.modes_covered, mode_entropy=cov.mode_entropy)
  out["_samples"] = x[:2000]
  return out


def moment_metrics(moments: targets.PosteriorMoments, x, log_weights) -> dict:
  """Root-mean-square over coordinates of the standardised errors of the importance-weighted
  posterior means and standard deviations against the ground truth (``mean_error``,
  ``std_error``), and their largest absolute values (``*_max``)."""
  err = M.moment_errors(moments.transform(x), moments.mean, moments.std, log_weights=log_weights)
  return {
    "mean_error": jnp.sqrt(jnp.mean(err.mean**2)),
    "std_error": jnp.sqrt(jnp.mean(err.std**2)),
    "mean_error_max": jnp.max(jnp.abs(err.mean)),
    "std_error_max": jnp.max(jnp.abs(err.std)),
  }


def sinkhorn_distance(x, y, epsilon: float) -> jax.Array:
  """Debiased Sinkhorn divergence (squared Euclidean cost, OTT) between two sample sets, as
  the sampling benchmark reports it against reference samples."""
  from fdiv_jax import transport

  return transport.sinkhorn_divergence(x, y, epsilon=epsilon, max_iterations=500)[0]


@functools.partial(jax.jit, static_argnums=2)
def sinkhorn_seeds(samples: jax.Array, reference: jax.Array, epsilon: float) -> jax.Array:
  """:func:`sinkhorn_distance` of each seed's ``samples [S, n, d]`` to ``reference [m, d]``:
  ``[S]``; the experiment computes it on each method's last stage, where the tables
  report it."""
  return jax.vmap(lambda x: sinkhorn_distance(x, reference, epsilon))(samples)


def make_trainer(
  config, target: targets.Target, flow: flows.Flow, exact: jax.Array | None
) -> Trainer:
  """The stage builders of a run: each stage jits its step over all seeds (vmapped)."""
  setup = make_setup(config, target, flow, exact)

  @functools.partial(jax.jit, static_argnames=("steps", "path"))
  def f_run(states, keys, divergence, temperature, *, steps, path):
    step = lambda s, k: f_divergence_step(setup, s, k, divergence, temperature, path=path)
    states, (losses, ess) = training.scan_seeds(step, states, keys, steps)
    return states, {"loss": losses, "batch_ess": ess}

  def f_stage(divergence, temperature: float, steps: int, path: str = "temperature") -> Stage:
    run = functools.partial(
      f_run, divergence=divergence, temperature=jnp.float32(temperature), steps=steps, path=path
    )
    label = f"{divergence.name} {level_label(temperature, path)} x{steps}"
    return Stage(label, run, steps * config.batch_size)

  @functools.partial(jax.jit, static_argnames=("path",))
  def tabg_run(states, keys, temperature, *, path):
    return jax.vmap(lambda s, k: tabg_step(setup, s, k, temperature, path=path))(states, keys)

  def tabg_level(temperature: float, label: str, path: str = "temperature") -> Stage:
    run = functools.partial(tabg_run, temperature=jnp.float32(temperature), path=path)
    return Stage(label, run, config.buffer_size)

  @functools.partial(jax.jit, static_argnames=("kind", "iterations"))
  def fab_run(states, keys, *, kind, iterations):
    one = lambda s, k: fab_iterations(setup, s, k, kind=kind, iterations=iterations)
    return jax.vmap(one)(states, keys)

  def fab_stage(kind: str, iterations: int, label: str) -> Stage:
    run = functools.partial(fab_run, kind=kind, iterations=iterations)
    return Stage(label, run, iterations * ais_target_evals(config))

  return Trainer(
    functools.partial(init_state, setup),
    f_stage,
    tabg_level,
    fab_stage,
    functools.partial(evaluate, setup),
  )


def level_label(temperature: float, path: str) -> str:
  return f"T={temperature:.3g}" if path == "temperature" else f"beta={1 / temperature:.3g}"


def stages_for(method: str, config, trainer: Trainer) -> list[Stage]:
  """The stage list of a method: ``"tabg"`` (by temperature), ``"tabg:base"``
  (the geometric path from the base), ``"fab"`` / ``"fab:nobuffer"`` or a
  registry spec (``"alpha:2"``)."""
  from experiments.common import cli

  name, _, path = method.partition(":")
  if name == "fab":
    if path not in ("", "nobuffer"):
      raise ValueError(f"method {method!r}: FAB is 'fab' or 'fab:nobuffer'")
    chunk = config.fab_log_every
    if path == "nobuffer":
      return [
        trainer.fab_stage("nobuffer", chunk, f"FAB (no buffer) x{chunk}")
        for _ in range(config.fab_iterations // chunk)
      ]
    stages = [
      trainer.fab_stage(
        "fill", config.fab_fill_batches, f"FAB buffer fill x{config.fab_fill_batches}"
      )
    ]
    return stages + [
      trainer.fab_stage("buffer", chunk, f"FAB x{chunk}")
      for _ in range(config.fab_iterations // chunk)
    ]
  if name == "tabg":
    path = path or "temperature"
    if path not in PATHS:
      raise ValueError(f"method {method!r}: the TA-BG path must be one of {PATHS}")
    rkl = fd.get("reverse_kl")
    chunk = config.log_every
    stages = [
      trainer.f_stage(rkl, config.t_high, chunk, path) for _ in range(config.high_steps // chunk)
    ]
    temps = np.geomspace(config.t_high, 1.0, config.levels + 1)[1:]
    stages += [
      trainer.tabg_level(float(t), f"TA-BG level {level_label(t, path)}", path) for t in temps
    ]
    stages += [
      trainer.tabg_level(1.0, f"TA-BG refit {i + 1} at {level_label(1.0, path)}", path)
      for i in range(config.final_levels)
    ]
    return stages
  div = cli.parse_divergence(method)
  return [
    trainer.f_stage(div, 1.0, config.log_every) for _ in range(config.steps // config.log_every)
  ]
