r"""Adaptive tempered sequential Monte Carlo from a base to a target (blackjax).

Particles move along the geometric path
:math:`\log\pi_\beta = \log q + \beta(\log\gamma - \log q)` from a normalised base
:math:`q` (:math:`\beta = 0`) to an unnormalised target :math:`\gamma` (:math:`\beta = 1`).
Each step is blackjax's adaptive tempered SMC step: the next :math:`\beta` keeps the
effective sample size of the incremental weights at ``target_ess`` (bisection), the
particles are resampled (systematic) and moved by HMC at the current level, and
reweighted by :math:`(\beta' - \beta)(\log\gamma - \log q)`. Between steps the HMC step
size follows the acceptance rate, :math:`\epsilon \leftarrow \epsilon\,
e^{\bar a - a^*}`, and the diagonal inverse mass matrix is the particles' weighted
variance. :math:`\log Z_\gamma - \log Z_q` is estimated by the sum of the steps' log
mean incremental weights (unbiased in :math:`Z`).

References:
  Del Moral, Doucet & Jasra. Sequential Monte Carlo samplers. JRSS B 2006.
  Jasra, Stephens, Doucet & Tsagaris. Inference for Lévy-driven stochastic volatility
  models via adaptive sequential Monte Carlo. Scand. J. Stat. 2011 (ESS-adaptive tempering).
  Cabezas et al. BlackJAX: composable Bayesian inference in JAX. 2024.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from fdiv_jax import _checks, _extras
from fdiv_jax.annealing._ais import _per_point

__all__ = ["TemperedSMCResult", "tempered_smc", "tempered_smc_target_evals"]

LogDensity = Callable[[jax.Array], jax.Array]


class TemperedSMCResult(NamedTuple):
  r"""Result of :func:`tempered_smc`.

  Attributes:
    particles: ``[N, d]`` particles after the last step, weighted by ``log_weights``.
    log_weights: ``[N]`` their normalised log weights (:math:`\operatorname{logsumexp} = 0`).
    log_normalizer: Estimate of :math:`\log Z_\gamma - \log Z_q`.
    num_steps: Tempering steps taken (int32); :math:`\beta` reached 1 if it is below
      ``max_steps``, or if ``tempering[-1] == 1``.
    tempering: ``[max_steps]`` :math:`\beta` after each step (the last value repeated
      after the end).
    acceptance_rate: ``[max_steps]`` mean HMC acceptance rate of each step (0 after the end).
    step_size: ``[max_steps]`` HMC step size used in each step (0 after the end).
    num_target_evals: Evaluations of :math:`\log\gamma` (with or without its gradient),
      all particles together (:func:`tempered_smc_target_evals`).
  """

  particles: jax.Array
  log_weights: jax.Array
  log_normalizer: jax.Array
  num_steps: jax.Array
  tempering: jax.Array
  acceptance_rate: jax.Array
  step_size: jax.Array
  num_target_evals: jax.Array


def tempered_smc_target_evals(
  num_particles: int, num_steps: ArrayLike, *, num_mcmc_steps: int, num_integration_steps: int
) -> jax.Array:
  r"""Target evaluations of ``num_steps`` steps of :func:`tempered_smc`.

  Per particle and step: one for the ESS bisection, one to start HMC (value and
  gradient), ``num_mcmc_steps * num_integration_steps`` leapfrog gradients and one for
  the incremental weight: :math:`N\,S\,(M L + 3)`.

  Args:
    num_particles: ``N``, the particles.
    num_steps: ``S``, the tempering steps (an int or an integer array, e.g.
      :attr:`TemperedSMCResult.num_steps`; traced).
    num_mcmc_steps: ``M``, the HMC transitions per tempering step.
    num_integration_steps: ``L``, the leapfrog steps per HMC transition.

  Returns:
    The number of evaluations of :math:`\log\gamma`, an integer array of the shape of
    ``num_steps`` (int64 under ``jax_enable_x64``, else int32).
  """
  per_step = num_mcmc_steps * num_integration_steps + 3
  return jnp.asarray(num_steps, jnp.int64 if jax.config.jax_enable_x64 else jnp.int32) * (
    num_particles * per_step
  )


def tempered_smc(
  key: jax.Array,
  x0: ArrayLike,
  *,
  log_base: LogDensity,
  log_target: LogDensity,
  target_ess: float = 0.5,
  num_mcmc_steps: int = 5,
  num_integration_steps: int = 5,
  step_size: float = 0.5,
  target_acceptance: float = 0.65,
  max_steps: int = 500,
  mass_matrix: str = "diagonal",
) -> TemperedSMCResult:
  r"""Adaptive tempered SMC with HMC moves from ``x0 ~ q`` to ``log_target``.

  Along :math:`\log\pi_\beta = \log q + \beta(\log\gamma - \log q)`, each step picks
  the next :math:`\beta'` so that the ESS of the incremental weights
  :math:`(\beta' - \beta)(\log\gamma - \log q)` is ``target_ess`` :math:`\cdot N`,
  resamples, and moves the particles by HMC; :math:`\log Z_\gamma - \log Z_q` is the
  sum of the steps' log mean incremental weights (details in the module docstring).
  Jit-able (``log_base`` / ``log_target`` closed over) and vmappable over keys and
  ``x0``. A particle whose log density is NaN counts as :math:`-\infty` (weight 0).

  Args:
    key: PRNG key.
    x0: ``[N, d]`` samples of the base :math:`q`.
    log_base: ``x [N, d] -> [N]``, the normalised base log density :math:`\log q`.
    log_target: ``x [N, d] -> [N]``, the unnormalised target :math:`\log\gamma`.
    target_ess: Fraction of ``N`` that the incremental weights' ESS keeps, in (0, 1).
    num_mcmc_steps: HMC transitions per tempering step (static, >= 1).
    num_integration_steps: Leapfrog steps per HMC transition (static, >= 1).
    step_size: Initial HMC step size (> 0).
    target_acceptance: Acceptance rate the step size is adapted towards, in (0, 1).
    max_steps: Most tempering steps (static); the history arrays have this length.
    mass_matrix: HMC's inverse mass matrix between steps: ``"diagonal"`` (the particles'
      weighted variances) or ``"identity"``.

  Returns:
    A :class:`TemperedSMCResult` with fields ``particles`` ``[N, d]``, ``log_weights``
    ``[N]``, the scalars ``log_normalizer``, ``num_steps`` and ``num_target_evals``, and
    the per-step histories ``tempering``, ``acceptance_rate`` and ``step_size``
    ``[max_steps]``.

  References:
    Del Moral, Doucet & Jasra. Sequential Monte Carlo samplers. JRSS B 2006.
    Jasra, Stephens, Doucet & Tsagaris. Inference for Lévy-driven stochastic volatility
    models via adaptive sequential Monte Carlo. Scand. J. Stat. 2011.
  """
  _extras.require("samplers", "fdiv_jax.smc.tempered_smc")
  from blackjax.mcmc import hmc
  from blackjax.smc import adaptive_tempered, resampling
  from blackjax.smc.tempered import TemperedSMCState

  x0 = _checks.floating("x0", x0, min_ndim=2)
  if x0.ndim != 2:
    raise ValueError(f"x0 must have shape [N, d], got {x0.shape}")
  if not 0.0 < target_ess < 1.0:
    raise ValueError(f"target_ess must be in (0, 1), got {target_ess!r}")
  if not 0.0 < target_acceptance < 1.0:
    raise ValueError(f"target_acceptance must be in (0, 1), got {target_acceptance!r}")
  for name, v in (
    ("num_mcmc_steps", num_mcmc_steps),
    ("num_integration_steps", num_integration_steps),
    ("max_steps", max_steps),
  ):
    _checks.integer(name, v, 1)
  _checks.one_of("mass_matrix", mass_matrix, ("diagonal", "identity"))
  if not step_size > 0:
    raise ValueError(f"step_size must be > 0, got {step_size!r}")
  n, d = x0.shape
  dtype = x0.dtype
  base, target = _per_point(log_base), _per_point(log_target)

  def log_likelihood(x):
    out = target(x) - base(x)
    return jnp.where(jnp.isnan(out), -jnp.inf, out)

  step_fn = functools.partial(hmc.build_kernel(), num_integration_steps=num_integration_steps)
  kernel = adaptive_tempered.build_kernel(
    base, log_likelihood, step_fn, hmc.init, resampling.systematic, target_ess
  )

  def inverse_mass(state, previous):
    if mass_matrix == "identity":
      return previous
    w = state.weights[:, None]
    centred = state.particles - jnp.sum(w * state.particles, 0)
    return jnp.maximum(jnp.sum(w * centred**2, 0), jnp.finfo(dtype).tiny)

  history = jnp.zeros((max_steps,), dtype)
  init = dict(
    state=TemperedSMCState(x0, jnp.full((n,), 1.0 / n, dtype), jnp.zeros((), dtype)),
    i=jnp.zeros((), jnp.int32),
    log_z=jnp.zeros((), dtype),
    eps=jnp.asarray(step_size, dtype),
    inv_mass=jnp.ones((d,), dtype),
    tempering=history,
    acceptance=history,
    step_size=history,
  )

  def cond(c):
    return (c["state"].tempering_param < 1.0) & (c["i"] < max_steps)

  def body(c):
    params = {"step_size": c["eps"][None], "inverse_mass_matrix": c["inv_mass"][None]}
    state, info = kernel(jax.random.fold_in(key, c["i"]), c["state"], num_mcmc_steps, params)
    acc = jnp.mean(info.update_info.acceptance_rate).astype(dtype)
    i = c["i"]
    return dict(
      state=state._replace(tempering_param=state.tempering_param.astype(dtype)),
      i=i + 1,
      log_z=c["log_z"] + info.log_likelihood_increment.astype(dtype),
      eps=c["eps"] * jnp.exp(acc - target_acceptance),
      inv_mass=inverse_mass(state, c["inv_mass"]),
      tempering=c["tempering"].at[i].set(state.tempering_param),
      acceptance=c["acceptance"].at[i].set(acc),
      step_size=c["step_size"].at[i].set(c["eps"]),
    )

  out = jax.lax.while_loop(cond, body, init)
  state, steps = out["state"], out["i"]
  tempering = jnp.where(jnp.arange(max_steps) < steps, out["tempering"], state.tempering_param)
  return TemperedSMCResult(
    state.particles,
    jnp.log(state.weights),
    out["log_z"],
    steps,
    tempering,
    out["acceptance"],
    out["step_size"],
    tempered_smc_target_evals(
      n, steps, num_mcmc_steps=num_mcmc_steps, num_integration_steps=num_integration_steps
    ),
  )
