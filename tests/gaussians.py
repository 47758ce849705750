"""Closed forms between 1-D Gaussians P = N(mp, sp^2), Q = N(mq, sq^2) (jnp, differentiable)."""

import jax.numpy as jnp


def kl(mp, sp, mq, sq):
  """KL(P||Q)."""
  return jnp.log(sq / sp) + (sp**2 + (mp - mq) ** 2) / (2 * sq**2) - 0.5


def renyi(alpha, mp, sp, mq, sq):
  """Renyi D_alpha(P||Q) (Gil, Alajaji, Linder 2013), needs a sq^2 + (1-a) sp^2 > 0."""
  s2 = alpha * sq**2 + (1 - alpha) * sp**2
  return alpha * (mp - mq) ** 2 / (2 * s2) - jnp.log(
    s2 / (sp ** (2 * (1 - alpha)) * sq ** (2 * alpha))
  ) / (2 * (alpha - 1))


def alpha_divergence(alpha, mp, sp, mq, sq):
  """Amari alpha divergence from the Renyi divergence."""
  return jnp.expm1((alpha - 1) * renyi(alpha, mp, sp, mq, sq)) / (alpha * (alpha - 1))


def closed_form(name, mp, sp, mq, sq):
  """D_f(P||Q) for the registry entries that have one."""
  if name == "kl":
    return kl(mp, sp, mq, sq)
  if name == "reverse_kl":
    return kl(mq, sq, mp, sp)
  if name == "jeffreys":
    return kl(mp, sp, mq, sq) + kl(mq, sq, mp, sp)
  if name == "squared_hellinger":
    return 2 - 2 * jnp.exp(-0.5 * renyi(0.5, mp, sp, mq, sq))
  if name == "pearson":
    return jnp.expm1(renyi(2.0, mp, sp, mq, sq))
  if name == "neyman":
    return jnp.expm1(renyi(2.0, mq, sq, mp, sp))
  raise KeyError(name)


def log_normal(x, m, s):
  return -0.5 * ((x - m) / s) ** 2 - jnp.log(s) - 0.5 * jnp.log(2 * jnp.pi)
