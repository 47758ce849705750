"""Convolutional networks for the image configs: an EDM-preconditioned U-Net denoiser and a
convolutional ratio discriminator, both on flat images ``[B, side * side]`` (one channel), so
that the data pipeline, the samplers and the f-distill step are the MLP configs' own.

The U-Net follows the DDPM / EDM layout at a small size: residual blocks with group norm and
SiLU, the noise level's sinusoidal embedding added in every block, stride-2 convolutions down
and nearest-neighbour upsampling back, skip connections by concatenation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from fdiv_jax import diffusion as D


def noise_embedding(c_noise: jax.Array, dim: int) -> jax.Array:
  """Sinusoidal embedding ``[B, dim]`` of EDM's noise input ``c_noise = log(sigma) / 4``."""
  half = dim // 2
  freqs = jnp.exp(-math.log(10_000.0) * jnp.arange(half) / half)
  angles = 1000.0 * c_noise[:, None] * freqs[None, :]
  return jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)


def _groups(channels: int) -> int:
  """Group-norm groups: 8 where they divide the channels, fewer otherwise."""
  return math.gcd(8, channels)


class ResBlock(nn.Module):
  channels: int

  @nn.compact
  def __call__(self, x, emb):
    h = nn.Conv(self.channels, (3, 3))(nn.silu(nn.GroupNorm(_groups(x.shape[-1]))(x)))
    h = h + nn.Dense(self.channels)(emb)[:, None, None, :]
    h = nn.Conv(self.channels, (3, 3))(nn.silu(nn.GroupNorm(_groups(self.channels))(h)))
    if x.shape[-1] != self.channels:
      x = nn.Conv(self.channels, (1, 1))(x)
    return x + h


class _Embed(nn.Module):
  dim: int

  @nn.compact
  def __call__(self, c_noise):
    e = noise_embedding(c_noise, self.dim)
    return nn.Dense(self.dim)(nn.silu(nn.Dense(self.dim)(e)))


def _stem(module, x, sigma):
  """EDM's coefficients at ``sigma``, the noise embedding and the first convolution of the
  preconditioned image ``c_in x`` (called inside ``module``'s compact ``__call__``)."""
  c = D.edm_preconditioning(sigma, sigma_data=module.sigma_data)
  emb = _Embed(module.embed_dim)(c.c_noise)
  image = (c.c_in[:, None] * x).reshape(-1, module.side, module.side, 1)
  return c, emb, nn.Conv(module.channels[0], (3, 3))(image)


class UNetDenoiser(nn.Module):
  """``D(x, sigma) = c_skip x + c_out F(c_in x, c_noise)`` with a U-Net ``F`` (Karras et al.
  2022, Table 1); ``x`` is ``[B, side * side]``, the levels halve the side per entry of
  ``channels`` after the first (28 -> 14 -> 7 for three)."""

  side: int
  channels: Sequence[int]
  sigma_data: float
  embed_dim: int = 128

  @nn.compact
  def __call__(self, x, sigma):
    c, emb, h = _stem(self, x, sigma)
    skips = []
    for level, ch in enumerate(self.channels):
      h = ResBlock(ch)(h, emb)
      skips.append(h)
      if level < len(self.channels) - 1:
        h = nn.Conv(ch, (3, 3), strides=(2, 2))(h)
    h = ResBlock(self.channels[-1])(h, emb)
    for level in reversed(range(len(self.channels))):
      h = ResBlock(self.channels[level])(jnp.concatenate([h, skips[level]], -1), emb)
      if level > 0:
        size = skips[level - 1].shape[1]
        h = jax.image.resize(h, (h.shape[0], size, size, h.shape[-1]), "nearest")
    out = nn.Conv(1, (3, 3))(nn.silu(nn.GroupNorm(_groups(h.shape[-1]))(h)))
    return c.c_skip[:, None] * x + c.c_out[:, None] * out.reshape(x.shape)


class ConvDiscriminator(nn.Module):
  """Logit ``d(x_t, sigma)`` from a convolutional encoder of the preconditioned noisy image
  (the U-Net's down path) and a linear head on its mean-pooled features."""

  side: int
  channels: Sequence[int]
  sigma_data: float
  embed_dim: int = 128

  @nn.compact
  def __call__(self, x, sigma):
    _, emb, h = _stem(self, x, sigma)
    for ch in self.channels:
      h = nn.Conv(ch, (3, 3), strides=(2, 2))(ResBlock(ch)(h, emb))
    return nn.Dense(1)(nn.silu(jnp.mean(h, axis=(1, 2))))[:, 0]
