"""The SMC baseline of a Boltzmann run: adaptive tempered SMC at growing particle counts.

Each stage of the ``"smc"`` job runs ``fdiv_jax.smc.tempered_smc`` afresh for every
seed (vmapped) from the flows' base ``N(0, base_scale^2 I)`` to the target with
``smc_particles[i]`` particles, so its history holds log Z error, target evaluations
and wall time at growing budgets, on the same axes as the flows' stages.
"""

from __future__ import annotations

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np

from experiments.boltzmann import train as T
from experiments.common import jobs
from experiments.common import results as R
from fdiv_jax import annealing, smc
from fdiv_jax import metrics as M


@functools.partial(jax.jit, static_argnames=("config", "log_target", "dim", "particles"))
def _smc_seeds(keys, *, config, log_target, dim: int, particles: int):
  def log_base(x):
    return jnp.sum(jax.scipy.stats.norm.logpdf(x, 0.0, config.base_scale), -1)

  def one(key):
    k0, k1, k2 = jax.random.split(key, 3)
    x0 = config.base_scale * jax.random.normal(k0, (particles, dim))
    res = smc.tempered_smc(
      k1,
      x0,
      log_base=log_base,
      log_target=log_target,
      target_ess=config.smc_target_ess,
      num_mcmc_steps=config.smc_mcmc_steps,
      num_integration_steps=config.smc_integration_steps,
      step_size=config.smc_step_size,
      max_steps=config.smc_max_steps,
    )
    # Equally weighted particles for the sample metrics (systematic resampling).
    idx = annealing.resample(k2, res.log_weights, particles, method="systematic").indices
    return res, res.particles[idx]

  return jax.vmap(one)(keys)


def run_smc(job: dict, config, target, exact, keys, workdir: str, commit, verbose: bool = True):
  """Runs (or resumes) the ``"smc"`` job: one stage per entry of ``config.smc_particles``."""

  def stage(i, state, last_good):
    particles = config.smc_particles[i]
    (res, samples), wall = jobs.timed(
      lambda: _smc_seeds(
        keys, config=config, log_target=target.log_prob, dim=target.dim, particles=particles
      )
    )
    R.check_finite(res.log_normalizer, what=f"SMC log Z with {particles} particles; {last_good}")
    evals = np.asarray(res.num_target_evals, np.float64)
    job["target_evals"] = float(evals.mean())
    job["wall_s"] += wall
    record = {
      "stage": f"SMC {particles} particles",
      "target_evals": float(evals.mean()),
      "wall_s": wall,
      "log_z": np.asarray(res.log_normalizer).tolist(),
      "smc_steps": np.asarray(res.num_steps).tolist(),
      "reached_target": (np.asarray(res.tempering)[:, -1] >= 1.0).tolist(),
      # Mean over the steps each run took (the history is zero-padded to max_steps).
      "acceptance": (
        np.asarray(jnp.sum(res.acceptance_rate, -1)) / np.maximum(np.asarray(res.num_steps), 1)
      ).tolist(),
    }
    if target.log_z is not None:
      record["log_z_error"] = (np.asarray(res.log_normalizer) - target.log_z).tolist()
    if target.moments is not None:
      per_seed = [
        T.moment_metrics(target.moments, x, lw) for x, lw in zip(res.particles, res.log_weights)
      ]
      for k in per_seed[0]:
        record[k] = [float(m[k]) for m in per_seed]
    if exact is not None:
      record["energy_distance"] = [
        float(M.energy_distance(s[:2000], exact[:2000])) for s in samples
      ]
      if config.sinkhorn_epsilon and i == len(config.smc_particles) - 1:
        eps = config.sinkhorn_epsilon
        record["sinkhorn"] = np.asarray(
          T.sinkhorn_seeds(jnp.asarray(samples[:, :2000]), exact[:2000], eps)
        ).tolist()
    np.save(os.path.join(workdir, "samples_smc.npy"), np.asarray(samples[:, :2000]))
    return {"stages_done": state["stages_done"] + 1}, record

  jobs.run_stages(
    job,
    init_state={"stages_done": jnp.zeros((1,), jnp.int32)},  # a pytree for orbax
    num_stages=len(config.smc_particles),
    stage=stage,
    ckpt_dir=os.path.join(workdir, "ckpt", "smc"),
    commit=commit,
    desc=f"{config.target} smc",
    verbose=verbose,
    postfix=lambda r: f"log_z_error {np.mean(r.get('log_z_error', [np.nan])):.3g}",
  )
