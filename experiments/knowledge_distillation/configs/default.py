"""Default config: digits teacher -> narrow students under every KD loss; diabetes CS-IB."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Config:
  # Distillation on sklearn's digits (1797 8x8 images, 10 classes).
  test_fraction: float = 0.33
  teacher_hidden: tuple[int, ...] = (256, 256)
  teacher_steps: int = 3000
  student_hidden: tuple[int, ...] = (12,)
  student_steps: int = 3000
  batch_size: int = 128
  learning_rate: float = 2e-3
  losses: tuple[str, ...] = ("ce", "kl", "reverse_kl", "js", "bd_kd", "sinkd", "cs_features")
  temperature: float = 4.0
  # Student loss: CE(labels) + kd_weight[loss] * distillation term.
  kd_weight: tuple[tuple[str, float], ...] = (
    ("kl", 1.0),
    ("reverse_kl", 1.0),
    ("js", 1.0),
    ("bd_kd", 0.5),
    ("sinkd", 5.0),
    ("cs_features", 1.0),
  )
  bd_kd_balance: float = 2.0
  sinkd_epsilon: float = 0.05
  # Unrolled gradients run every iteration; Sinkhorn converges in ~20 here.
  sinkd_max_iterations: int = 40
  seeds: int = 3
  # Regimes where the KD papers say the loss matters (experiments/knowledge_distillation/
  # README.md): each job is "<regime>/<loss>", with the same teacher and test split.
  regimes: tuple[str, ...] = ()
  regime_losses: tuple[str, ...] = ()
  label_fraction: float = 0.05  # "scarce": labels the student sees (class-stratified)
  label_noise: float = 0.4  # "noisy": labels flipped to another class
  regime_seed: int = 0  # the draw of kept / flipped labels
  # "multipeak": the teacher is the mean of experts trained on these disjoint class sets.
  expert_classes: tuple[tuple[int, ...], ...] = ((0, 1, 2, 3), (4, 5, 6), (7, 8, 9))
  # Hyperparameter sweep of the regime jobs (none by default): every loss alike over
  # temperatures x scales of its kd_weight, chosen on a validation split of the training
  # images (clean labels; no student trains on it).
  sweep_temperatures: tuple[float, ...] = ()
  sweep_weight_scales: tuple[float, ...] = (0.5, 1.0, 2.0)
  validation_fraction: float = 0.2
  ece_bins: int = 15
  # CS information bottleneck regression on sklearn's diabetes (442 x 10).
  ib_methods: tuple[str, ...] = ("mse", "cs_ib")
  ib_hidden: int = 64
  ib_latent: int = 8
  ib_noise: float = 0.5  # std of the Gaussian noise on the representation z
  ib_beta: float = 0.01  # weight of I_CS(x; z)
  ib_steps: int = 600
  ib_learning_rate: float = 1e-3
  ib_weight_decay: float = 1e-4


def get_config() -> Config:
  return Config()


def regimes_only(regimes: tuple[str, ...], losses: tuple[str, ...], *, seeds: int = 5) -> Config:
  """The default config running only ``regimes`` x ``losses`` (no control table, no IB)."""
  return dataclasses.replace(
    get_config(), losses=(), ib_methods=(), seeds=seeds, regimes=regimes, regime_losses=losses
  )
