"""Pairs of densities (P, Q) with ground-truth divergences.

* ``gauss_d{d}``: P = N(m 1/sqrt(d), s^2 I), Q = N(0, I) in d dimensions. Closed
  forms (Gil, Alajaji & Linder 2013) for KL, reverse KL, Jeffreys, the alpha
  family (via Renyi), Pearson = expm1(D_2(P||Q)), Neyman = expm1(D_2(Q||P)),
  squared Hellinger = 2 - 2 exp(-D_{1/2}/2) (Bhattacharyya); a large Monte-Carlo
  estimate with the true densities (reported with its standard error) for
  JS, GAN, total variation and triangular.
* ``gmm_1d``: P = a two-component 1-D Gaussian mixture, Q = a wide Gaussian;
  every divergence by quadrature on a fine grid.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import distrax
import jax
import jax.numpy as jnp
import numpy as np
from scipy import special, stats

import fdiv_jax as fd


@dataclasses.dataclass(frozen=True)
class Problem:
  name: str
  dim: int
  p: distrax.Distribution
  q: distrax.Distribution
  truth: Callable[[fd.Divergence], tuple[float, float, str]]


def _mc_truth(p, q, div, *, samples, seed=123, chunk=500_000):
  """E_Q[f(p/q)] with the true densities; returns (mean, standard error)."""
  f = jax.jit(lambda x: div.f(p.log_prob(x) - q.log_prob(x)))
  vals = []
  key = jax.random.PRNGKey(seed)
  for i in range(max(1, samples // chunk)):
    x = q.sample(seed=jax.random.fold_in(key, i), sample_shape=(chunk,))
    vals.append(np.asarray(f(x), np.float64))
  vals = np.concatenate(vals)
  return float(vals.mean()), float(vals.std() / math.sqrt(len(vals)))


def gaussian_problem(
  dim: int, *, mean: float = 1.0, scale: float = 0.9, truth_samples: int = 2_000_000
) -> Problem:
  mp, sp = np.full(dim, mean / math.sqrt(dim)), np.full(dim, scale)
  mq, sq = np.zeros(dim), np.ones(dim)
  p = distrax.MultivariateNormalDiag(jnp.asarray(mp), jnp.asarray(sp))
  q = distrax.MultivariateNormalDiag(jnp.asarray(mq), jnp.asarray(sq))

  def truth(div):
    if div.name in fd.gaussians.CLOSED_FORMS:
      alpha = float(div.params["alpha"]) if div.name == "alpha" else None
      name = {0.0: "reverse_kl", 1.0: "kl"}.get(alpha, div.name)  # the alpha family's limits
      with jax.enable_x64(True):  # the truth in float64
        value = fd.gaussians.f_divergence(name, mp, sp, mq, sq, alpha=alpha, event_ndims=1)
        return float(value), 0.0, "closed form"
    mean, se = _mc_truth(p, q, div, samples=truth_samples)
    return mean, se, f"Monte Carlo ({truth_samples:.0e} samples)"

  return Problem(f"gauss_d{dim}", dim, p, q, truth)


def mixture_problem() -> Problem:
  weights, means, scales = [0.3, 0.7], [-2.0, 1.5], [0.5, 0.7]
  p = distrax.MixtureSameFamily(
    distrax.Categorical(probs=jnp.asarray(weights)),
    distrax.Normal(jnp.asarray(means), jnp.asarray(scales)),
  )
  q = distrax.Normal(0.0, 2.0)
  grid = np.linspace(-14.0, 14.0, 280_001)

  # In float64 (SciPy) for the quadrature; the same densities as p and q.
  log_p = special.logsumexp(stats.norm.logpdf(grid[:, None], means, scales), -1, b=weights)
  log_q = stats.norm.logpdf(grid, 0.0, 2.0)

  def truth(div):
    f = np.asarray(div.f(jnp.asarray(log_p - log_q, jnp.float32)), np.float64)
    return float(np.trapezoid(np.exp(log_q) * f, grid)), 0.0, "quadrature"

  # distrax's Normal is univariate: wrap to [n, 1] samples for the critic.
  return Problem("gmm_1d", 1, _AddDim(p), _AddDim(q), truth)


class _AddDim:
  """A univariate distrax distribution seen as one with event shape [1]."""

  def __init__(self, dist):
    self.dist = dist

  def sample(self, *, seed, sample_shape):
    return self.dist.sample(seed=seed, sample_shape=sample_shape)[..., None]

  def log_prob(self, x):
    return self.dist.log_prob(x[..., 0])


def make(name: str, *, truth_samples: int) -> Problem:
  if name.startswith("gauss_d"):
    return gaussian_problem(int(name[len("gauss_d") :]), truth_samples=truth_samples)
  if name == "gmm_1d":
    return mixture_problem()
  raise ValueError(f"unknown problem {name!r}; expected gauss_d<dim> or gmm_1d")
