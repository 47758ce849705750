"""Default config: GMM-40 (2-D, 40 modes) by TA-BG, 3 seeds (under 4 min on 2 CPU cores).

Reverse KL at T = 30 for 500 steps, then 8 geometric temperatures down to 1
and 1 refit at T = 1, each importance-resampling 20 000 flow samples into a
buffer and fitting 200 maximum-likelihood steps. Every other config derives
from this one; ``gmm40_methods`` runs every method on the same flow.
"""

import dataclasses

# Every method the experiment compares: the registry's reverse KL (mode-seeking),
# the mass-covering alpha = 2, forward KL and JS (self-normalised), the TA-BG
# ladder, and FAB (AIS to p^2 / q with and without its replay buffer).
ALL_METHODS = ("reverse_kl", "alpha:2", "kl", "js", "tabg", "fab", "fab:nobuffer")


@dataclasses.dataclass(frozen=True)
class Config:
  target: str = "gmm40"  # a name in train.TARGETS
  methods: tuple[str, ...] = ("tabg",)  # ALL_METHODS, "tabg:base", "smc" or a registry spec
  suite: tuple[str, ...] = ()  # if set: one run per target, <workdir>/<target>, and suite.md
  seeds: int = 3
  seed: int = 0  # the seeds are split(PRNGKey(seed), seeds)
  # Flow.
  flow: str = "spline"  # "spline" or "real_nvp"
  layers: int = 8
  hidden: tuple[int, ...] = (64, 64)
  bins: int = 12
  bound: float = 50.0  # spline interval half-width (target units)
  base_scale: float = 15.0
  marginal_bins: int = 0  # real_nvp: a last elementwise spline layer (0: none)
  marginal_bound: float = 5.0
  scale_max: float = 3.0  # real_nvp: bound on each coupling's log-scale
  linear_skip: bool = False  # real_nvp: a linear path in every conditioner (fd.flows)
  squash_inputs: bool = False  # conditioners see arcsinh(x_kept) (fd.flows)
  masks: str = "parity"  # coupling masks: "parity" or "binary" (fd.flows)
  # Optimisation.
  batch_size: int = 512
  learning_rate: float = 1e-3
  grad_clip: float = 10.0
  steps: int = 2000  # per f-divergence method (at temperature 1)
  # TA-BG: reverse KL at t_high, then a geometric ladder down to 1 with
  # importance-resampled buffers and maximum likelihood ("tabg:base": the same
  # ladder read as beta = 1/T on the geometric path from the base).
  t_high: float = 30.0
  high_steps: int = 500
  levels: int = 8
  buffer_size: int = 20_000
  ml_steps: int = 200  # per level
  final_levels: int = 1  # extra resample-and-fit rounds at T = 1
  clip_quantile: float = 0.999  # log w above this quantile is clipped
  # FAB (Midgley et al. 2023; fab-jax's defaults where not said): AIS from the
  # flow to p^alpha q^(1-alpha) over ais_levels intermediate levels (linear in
  # beta), blackjax random-walk Metropolis ("rwm", as fab-jax on GMM) or HMC,
  # per-level step sizes adapted towards acceptance 0.65; its own batch size and
  # a cosine learning-rate decay over its updates (fab-jax: warmup + cosine).
  fab_alpha: float = 2.0
  fab_iterations: int = 400  # AIS batches after the buffer fill
  fab_log_every: int = 100  # iterations per stage (evaluation, checkpoint)
  fab_batch_size: int = 256
  fab_learning_rate: float = 3e-3
  fab_learning_rate_final: float = 1e-4
  fab_buffer_batches: int = 400  # capacity, in batches of fab_batch_size
  fab_fill_batches: int = 40  # AIS batches before the first update
  fab_updates_per_ais: int = 4
  fab_max_weight: float = 10.0  # clip of the buffer re-weighting
  # Defensive AIS start: this fraction of each AIS batch starts from the flow over a base
  # widened fab_defensive_scale times (train.defensive_ais); 0: plain FAB.
  fab_defensive_fraction: float = 0.0
  fab_defensive_scale: float = 1.5
  ais_levels: int = 3
  ais_kernel: str = "rwm"  # "rwm", "hmc" or "mala"
  ais_step_size: float = 1.0  # initial, per level
  ais_integration_steps: int = 5  # HMC leapfrog steps
  ais_mcmc_steps: int = 1
  # SMC baseline ("smc"; fdiv_jax.smc on blackjax): adaptive tempering from the flows'
  # base with HMC moves, one stage per particle count (baseline.py).
  smc_particles: tuple[int, ...] = (256, 1024, 4096)
  smc_target_ess: float = 0.5
  smc_mcmc_steps: int = 5
  smc_integration_steps: int = 5
  smc_step_size: float = 0.5
  smc_max_steps: int = 500
  energy_clip: float = 1e4  # U = -log p clipped at this value
  collapse_ess: float = 1.5  # warn when a batch's weight ESS falls below (samples)
  # Evaluation.
  eval_samples: int = 10_000
  sinkhorn_epsilon: float = 0.0  # > 0: Sinkhorn divergence to exact / reference samples
  log_every: int = 500


def get_config() -> Config:
  return Config()
