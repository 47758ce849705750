"""Default 2-D config: a ring of 8 Gaussians with unequal weights, 5 seeds (CPU, minutes)."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Config:
  # Teacher: exact score of a ring mixture (fdiv_jax.diffusion.GaussianMixture).
  modes: int = 8
  radius: float = 4.0
  mode_scale: float = 0.3
  weight_ratio: float = 6.0  # heaviest / lightest mode weight (geometric)
  # Divergences trained side by side (registry names; "alpha:a" for a family).
  divergences: tuple[str, ...] = ("reverse_kl", "kl", "js", "squared_hellinger",
                                  "jeffreys")
  seeds: int = 5
  steps: int = 1000          # generator updates
  critic_updates: int = 5    # fake-score + discriminator updates per generator update
  batch_size: int = 256
  latent_dim: int = 8
  hidden: tuple[int, ...] = (128, 128)
  disc_hidden: tuple[int, ...] | None = None  # None: same as hidden
  generator: str = "mlp"     # "mlp" (G(z) = MLP) or "denoiser" (teacher's net, its weights)
  sigma_init: float = 1.0    # "denoiser" generator: G(z) = D(sigma_init z, sigma_init)
  dataset: str = "ring"      # "ring" (exact mixture teacher) or "digits" (trained teacher)
  generator_lr: float = 1e-3
  critic_lr: float = 1e-3
  sigma_min: float = 0.05
  sigma_max: float = 8.0
  sigma_data: float = 3.0
  # f-distill stabilisers (Xu et al. 2025 reference values; None disables).
  logit_clip: tuple[float, float] | None = (-10.0, 10.0)
  ratio_clip: tuple[float, float] | None = (0.1, 20.0)
  ratio_bins: int | None = 10    # normalise r by its per-noise-bin batch mean
  normalize_weight: bool = True  # h / batch mean(h)
  scale: str = "dmd"             # per-sample scale: "dmd" or "none"
  gan_weight: float = 1e-3       # non-saturating GAN term on the generator
  # Mode recovery: pretrain on these modes only (reverse KL), then switch teacher.
  init_modes: tuple[int, ...] | None = None
  init_steps: int = 0
  # Evaluation.
  log_every: int = 200
  eval_samples: int = 4000
  cover_fraction: float = 0.2  # mode k covered if it holds >= this * w_k of samples


def get_config() -> Config:
  return Config()
