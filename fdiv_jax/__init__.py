"""fdiv_jax: learning with f-divergences between continuous densities, in JAX.

Modules (one concept each):

* :mod:`fdiv_jax.divergences` -- the f-divergence registry (``get``, ``available``).
* :mod:`fdiv_jax.monte_carlo` -- divergences from log densities (incl. unnormalised).
* :mod:`fdiv_jax.variational` -- critic-based bounds (f-GAN, DV, NWJ, MINE, Renyi).
* :mod:`fdiv_jax.diffusion` -- noise schedules, denoising score matching, exact mixture scores.
* :mod:`fdiv_jax.annealing` -- paths, resampling, AIS (blackjax HMC / MALA), replay
  buffer, FAB, TA-BG.
* :mod:`fdiv_jax.fab` -- FAB as a sampler object (``init`` / ``fill`` / ``step``).
* :mod:`fdiv_jax.smc` -- adaptive tempered SMC from a base to a target (blackjax).
* :mod:`fdiv_jax.distill` -- f-distill weights, generator surrogate and discriminator losses.
* :mod:`fdiv_jax.categorical` -- divergences between categoricals given logits (KD losses).
* :mod:`fdiv_jax.transport` -- Sinkhorn divergence, SinKD loss, Monge gap (via OTT).
* :mod:`fdiv_jax.kernels` -- kernels, bandwidths, blocked log-domain kernel sums.
* :mod:`fdiv_jax.cauchy_schwarz` -- (conditional) Cauchy-Schwarz divergence and MMD.
* :mod:`fdiv_jax.flows` -- RealNVP and spline coupling flows (distrax, lax.scan over layers).
* :mod:`fdiv_jax.targets` -- Boltzmann targets (GMM-40, Many-Well, funnel), the sampling
  benchmark's real-data posteriors and alanine dipeptide.
* :mod:`fdiv_jax.internal_coordinates` -- a molecule's Z-matrix bijection and its log-det.
* :mod:`fdiv_jax.gaussians` -- closed-form divergences between Gaussians (ground truth).
* :mod:`fdiv_jax.metrics` -- log Z, ESS, ELBO/EUBO, mode coverage, energy distance.
* :mod:`fdiv_jax.parallel` -- data parallelism over the sample axis (jax.sharding mesh).
* :mod:`fdiv_jax.math` -- shared numerically stable helpers.
"""

from fdiv_jax import _xla_workarounds

_xla_workarounds.apply()  # before anything starts the CPU backend

from fdiv_jax import (
  annealing,  # noqa: E402
  categorical,
  cauchy_schwarz,
  diffusion,
  distill,
  divergences,
  fab,
  gaussians,
  internal_coordinates,
  kernels,
  math,
  metrics,
  monte_carlo,
  parallel,
  preference,
  smc,
  targets,
  variational,
)
from fdiv_jax.categorical import balanced_kd_loss, kd_loss, mutual_kd_loss
from fdiv_jax.cauchy_schwarz import (
  cauchy_schwarz_divergence,
  cauchy_schwarz_mutual_information,
  conditional_cauchy_schwarz_divergence,
  mmd,
)
from fdiv_jax.divergences import Divergence, available, from_generator, get
from fdiv_jax.monte_carlo import (
  ImportanceWeights,
  f_divergence,
  importance_weights,
  renyi_divergence,
)
from fdiv_jax.preference import f_dpg_loss, f_dpo_loss
from fdiv_jax.variational import (
  cumulant_gan_bound,
  donsker_varadhan_bound,
  f_gan_bound,
  f_gan_critic_loss,
  f_gan_generator_loss,
  nwj_bound,
  renyi_bound,
)

__version__ = "0.1.0"

# Modules whose dependencies a registry-only user may not want to load (flax and distrax
# for the flows, OTT for the transport losses) are imported on first use (PEP 562).
_LAZY_MODULES = ("flows", "transport")
_LAZY_NAMES = {
  name: "transport" for name in ("monge_gap", "sinkhorn_divergence", "sinkhorn_kd_loss")
}


def __getattr__(name: str):
  import importlib

  if name in _LAZY_MODULES:
    return importlib.import_module(f"fdiv_jax.{name}")
  if name in _LAZY_NAMES:
    return getattr(importlib.import_module(f"fdiv_jax.{_LAZY_NAMES[name]}"), name)
  raise AttributeError(f"module 'fdiv_jax' has no attribute {name!r}")


def __dir__():
  return sorted(set(globals()) | set(__all__))


__all__ = [
  "Divergence",
  "ImportanceWeights",
  "annealing",
  "available",
  "categorical",
  "cauchy_schwarz",
  "cauchy_schwarz_divergence",
  "cauchy_schwarz_mutual_information",
  "conditional_cauchy_schwarz_divergence",
  "balanced_kd_loss",
  "mutual_kd_loss",
  "kd_loss",
  "kernels",
  "mmd",
  "monge_gap",
  "sinkhorn_divergence",
  "sinkhorn_kd_loss",
  "targets",
  "transport",
  "cumulant_gan_bound",
  "diffusion",
  "distill",
  "divergences",
  "flows",
  "gaussians",
  "donsker_varadhan_bound",
  "f_divergence",
  "f_gan_bound",
  "f_gan_critic_loss",
  "f_gan_generator_loss",
  "from_generator",
  "get",
  "importance_weights",
  "internal_coordinates",
  "math",
  "metrics",
  "monte_carlo",
  "nwj_bound",
  "parallel",
  "preference",
  "f_dpg_loss",
  "f_dpo_loss",
  "fab",
  "renyi_bound",
  "renyi_divergence",
  "smc",
  "variational",
]
