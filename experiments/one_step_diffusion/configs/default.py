"""Default 2-D config: a ring of 8 Gaussians with unequal weights, 5 seeds (CPU, minutes).

The generator and the fake denoiser start from a teacher network fitted by DSM to
exact samples (FastGen's initialisation); the generator step is FastGen's x0-space
MSE (weighting="dmd"); the teacher score in that step is the exact mixture's.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Config:
  # Teacher: exact score of a ring mixture (fdiv_jax.diffusion.GaussianMixture).
  modes: int = 8
  radius: float = 4.0
  mode_scale: float = 0.3
  weight_ratio: float = 6.0  # heaviest / lightest mode weight (geometric)
  # Divergences trained side by side (registry names; "alpha:a" for a family).
  divergences: tuple[str, ...] = ("reverse_kl", "kl", "js")
  seeds: int = 5
  steps: int = 1000  # generator updates (ring_full: 6 000)
  critic_updates: int = 2  # fake-score + discriminator updates per generator update
  batch_size: int = 256
  latent_dim: int = 8  # "mlp" generator only ("denoiser": z has the data's dim)
  network: str = "mlp"  # "mlp" or "unet" (square images): teacher, fake denoiser, generator
  hidden: tuple[int, ...] = (256, 256, 256)  # "mlp": teacher, fake denoiser and generator
  channels: tuple[int, ...] = (32, 64, 64)  # "unet": channels per resolution
  disc_channels: tuple[int, ...] = (32, 64)  # "unet": the convolutional discriminator
  disc_hidden: tuple[int, ...] | None = (128, 128)  # None: same as hidden
  generator: str = "denoiser"  # "denoiser" (teacher's net, its weights) or "mlp" (random MLP)
  sigma_init: float = 8.0  # "denoiser" generator: G(z) = D(sigma_init z, sigma_init)
  # "ring" (exact mixture teacher), "digits" or "fashion" (teachers trained here).
  dataset: str = "ring"
  data_dir: str | None = None  # Fashion-MNIST IDX files; None: searched (make fashion-mnist)
  pool: int = 2  # Fashion-MNIST average pooling, 28 / pool pixels a side
  generator_lr: float = 3e-3
  generator_lr_final: float | None = 1e-4  # cosine decay to it over `steps`; None: constant
  critic_lr: float = 1e-3
  ema_decay: float | None = None  # evaluate an EMA of the generator (FastGen keeps several)
  sigma_min: float = 0.05
  sigma_max: float = 8.0
  sigma_data: float = 3.0
  sigma_distribution: str = "log_uniform"  # or "polynomial" (FastGen), "lognormal"
  # Generator step: "dmd" = FastGen's x0-space MSE, h c (D_fake - D_teacher), i.e.
  # w(sigma) = c sigma^2 / dim on the score difference; "score_dmd" = c on the score
  # difference (an extra 1 / sigma^2 against "dmd"); "none" = 1.
  weighting: str = "dmd"
  fake_loss: str = "edm"  # fake-score DSM: "edm" (EDM weighting) or "fastgen" (x0 MSE)
  # Teacher network (the ring's score stays exact; the network initialises the
  # generator and the fake denoiser, as in FastGen). Trained by DSM on teacher samples.
  teacher_steps: int = 3000
  teacher_batch: int = 512
  teacher_lr: float = 1e-3
  teacher_sigma_min: float = 0.01
  teacher_sigma_distribution: str = "log_uniform"
  # f-distill stabilisers (Xu et al. 2025 reference values; None disables).
  logit_clip: tuple[float, float] | None = (-10.0, 10.0)
  ratio_clip: tuple[float, float] | None = (0.1, 20.0)
  ratio_bins: int | None = 10  # normalise r by its per-noise-bin batch mean
  normalize_weight: bool = True  # h / batch mean(h)
  gan_weight: float = 1e-3  # non-saturating GAN term on the generator
  # Mode recovery: pretrain on these modes only (reverse KL), then switch teacher.
  init_modes: tuple[int, ...] | None = None
  init_steps: int = 0
  # Evaluation (image configs: an MLP classifier's last hidden layer gives the features).
  classifier_hidden: tuple[int, ...] = (128, 128)
  classifier_steps: int = 2000
  classifier_batch: int = 128
  classifier_lr: float = 2e-3
  log_every: int = 250
  eval_samples: int = 4000
  cover_fraction: float = 0.2  # mode k covered if it holds >= this * w_k of samples
  gradient_noise_batches: int = 32  # batches for the gradient-noise statistics (0: skip)


def get_config() -> Config:
  return Config()
