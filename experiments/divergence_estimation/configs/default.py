"""Default config: every registered divergence on four problems, 3 seeds (CPU, minutes)."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Config:
  problems: tuple[str, ...] = ("gauss_d1", "gauss_d5", "gauss_d20", "gmm_1d")
  divergences: tuple[str, ...] = (
    "kl",
    "reverse_kl",
    "js",
    "gan",
    "squared_hellinger",
    "pearson",
    "neyman",
    "total_variation",
    "jeffreys",
    "triangular",
    "alpha:0.25",
    "alpha:1.5",
  )
  seeds: int = 3
  steps: int = 1500
  batch_size: int = 256
  hidden: tuple[int, ...] = (64, 64)
  learning_rate: float = 1e-3
  grad_clip: float = 10.0
  critic_max: float = 15.0  # soft clamp |V| <= critic_max (see train.Critic)
  eval_samples: int = 50_000
  log_every: int = 25
  truth_samples: int = 2_000_000


def get_config() -> Config:
  return Config()
