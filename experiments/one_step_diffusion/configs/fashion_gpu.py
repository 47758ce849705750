"""Fashion-MNIST at 28 x 28 with U-Nets (the GPU config).

The teacher, the fake denoiser and the generator are EDM-preconditioned U-Nets
(``network="unet"``, 64 / 128 / 128 channels at 28 / 14 / 7 pixels), the discriminator a
convolutional encoder; EDM's sigma_max = 80, FastGen's f-distill setup as in ``fashion``.
Sized for one GPU; on 2 CPU cores the teacher alone would take days.
"""

import dataclasses

from experiments.one_step_diffusion.configs import fashion


def get_config():
  return dataclasses.replace(
    fashion.get_config(),
    pool=1,
    network="unet",
    channels=(64, 128, 128),
    disc_channels=(64, 128, 128),
    teacher_steps=100_000,
    teacher_batch=256,
    teacher_lr=2e-4,
    batch_size=128,
    steps=4000,
    generator_lr=5e-5,
    generator_lr_final=5e-6,
    critic_lr=1e-4,
    log_every=500,
  )
