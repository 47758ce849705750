"""Default config: GMM-40 (2-D, 40 modes), every method, 3 seeds (CPU, minutes)."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Config:
  target: str = "gmm40"                 # "gmm40", "many_well32", "funnel10"
  methods: tuple[str, ...] = ("reverse_kl", "alpha:2", "kl", "js", "tabg")
  seeds: int = 3
  # Flow.
  flow: str = "spline"                  # "spline" or "real_nvp"
  layers: int = 8
  hidden: tuple[int, ...] = (64, 64)
  bins: int = 12
  bound: float = 50.0                   # spline interval half-width (target units)
  base_scale: float = 15.0
  marginal_bins: int = 0                # real_nvp: a last elementwise spline layer (0: none)
  marginal_bound: float = 5.0
  # Optimisation.
  batch_size: int = 512
  learning_rate: float = 1e-3
  grad_clip: float = 10.0
  steps: int = 2000                     # per f-divergence method (at temperature 1)
  # TA-BG: reverse KL at t_high, then a geometric ladder down to 1 with
  # importance-resampled buffers and maximum likelihood.
  t_high: float = 30.0
  high_steps: int = 1000
  levels: int = 8
  buffer_size: int = 10_000
  ml_steps: int = 100                   # per level
  final_levels: int = 2                 # extra resample-and-fit rounds at T = 1
  clip_quantile: float = 0.999          # log w above this quantile is clipped
  resample: str = "gumbel"              # "gumbel" (n x n memory) or "inverse_cdf" (O(n))
  energy_clip: float = 1e4              # U = -log p clipped at this value
  # Evaluation.
  eval_samples: int = 10_000
  log_every: int = 500


def get_config() -> Config:
  return Config()
