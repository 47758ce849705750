"""Default config: 8 prompts x 6**6 responses; f-DPO, f-DPG and RLVR from one reference."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Config:
  # The problem (experiments/preference/problem.py).
  vocab: int = 6
  length: int = 6
  # The data distribution's probability of a verified-correct response, per prompt.
  solve_rates: tuple[float, ...] = (0.3, 0.1, 0.01, 0.001, 0.3, 0.03, 0.003, 0.0003)
  template_weights: tuple[float, ...] = (0.5, 0.3, 0.2)
  token_noise: float = 0.3
  reward_scale: float = 2.0
  problem_seed: int = 0
  # Policy and reference (exact maximum likelihood on the data distribution).
  hidden: tuple[int, ...] = (64, 64)
  reference_steps: int = 800
  reference_learning_rate: float = 5e-3
  seeds: int = 5
  # f-DPO: pairs from the reference, Bradley-Terry labels with the reward.
  # Every registry entry whose f' is invertible (all but total_variation).
  dpo_divergences: tuple[str, ...] = (
    "kl",
    "reverse_kl",
    "js",
    "alpha:0.3",
    "alpha:0.5",
    "alpha:0.7",
    "squared_hellinger",
    "pearson",
    "neyman",
    "jeffreys",
    "gan",
    "triangular",
  )
  dpo_betas: tuple[float, ...] = (0.03, 0.1, 0.3, 1.0)
  dpo_pairs: int = 512  # per prompt (and as many held out)
  dpo_batch: int = 128
  dpo_steps: int = 1000
  dpo_learning_rate: float = 1e-3
  ece_bins: int = 10
  # f-DPG towards p ∝ pi_ref exp(r / dpg_beta).
  dpg_divergences: tuple[str, ...] = ("kl", "js", "reverse_kl")
  dpg_beta: float = 0.25
  dpg_samples: int = 64  # per prompt and step
  dpg_steps: int = 1000
  dpg_learning_rate: float = 1e-3
  eval_divergences: tuple[str, ...] = ("kl", "reverse_kl", "js", "squared_hellinger")
  # RL with the verifier's reward, regularised towards the reference.
  rl_regularizers: tuple[str, ...] = ("none", "reverse_kl", "kl", "js")
  rl_coefs: tuple[float, ...] = (0.01, 0.03, 0.1)  # regulariser weights ("none": 0)
  rl_group: int = 32
  rl_init_samples: int = 2048
  rl_steps: int = 1200
  rl_eval_every: int = 200
  rl_learning_rate: float = 1e-3
  pass_ks: tuple[int, ...] = (1, 2, 4, 8, 16, 64, 256)


def get_config() -> Config:
  return Config()
