r"""Synthetic Boltzmann targets with known log Z and exact samplers.

* :func:`gmm40`: the 40-mode 2-D mixture of FAB / TA-BG (means frozen in
  ``fdiv_jax/data/gmm40_means.txt``, standard deviation softplus(1), equal
  weights; normalised, log Z = 0).
* :func:`many_well`: Many-Well, ``d/2`` independent copies of the 2-D
  double well :math:`\log p(x, y) = -x^4 + 6x^2 + \tfrac12 x - \tfrac12 y^2`
  (log Z per pair: :math:`\log 11784.50927 + \tfrac12\log 2\pi`); :math:`2^{d/2}`
  modes. Exact samples: the 1-D well by rejection sampling.
* :func:`funnel`: Neal's funnel, :math:`x_0 \sim N(0, 3^2)`,
  :math:`x_{1:} \mid x_0 \sim N(0, e^{x_0} I)` (normalised).

References:
  Midgley et al. Flow Annealed Importance Sampling Bootstrap (FAB). ICLR 2023.
  Schopmans & Friederich. Temperature-Annealed Boltzmann Generators. ICML 2025.
  Neal. Slice sampling. Annals of Statistics 2003 (the funnel).
"""

from __future__ import annotations

import functools
import importlib.resources
import math

import jax
import jax.numpy as jnp
import numpy as np

from fdiv_jax.targets._target import Target

__all__ = [
  "funnel",
  "gmm40",
  "gmm40_means",
  "many_well",
]

_DOUBLE_WELL_LOG_Z = math.log(11784.50927)


def gmm40_means() -> np.ndarray:
  """The frozen ``[40, 2]`` means of :func:`gmm40` (shipped inside the package).

  Returns:
    ``[40, 2]``, a float64 numpy array read from ``fdiv_jax/data/gmm40_means.txt``.

  References:
    Midgley et al. Flow Annealed Importance Sampling Bootstrap (FAB). ICLR 2023.
  """
  text = importlib.resources.files("fdiv_jax").joinpath("data/gmm40_means.txt").read_text()
  means = np.loadtxt(text.splitlines(), dtype=np.float64)
  if means.shape != (40, 2):
    raise ValueError(f"gmm40_means.txt must hold 40 rows of 2 numbers, got {means.shape}")
  return means


def gmm40() -> Target:
  r"""The 40-mode 2-D Gaussian mixture of FAB / TA-BG.

  Equal weights, standard deviation softplus(1) = 1.3133 (a
  :class:`fdiv_jax.diffusion.GaussianMixture`, whose density and sampler it uses):

  .. math::
    p(x) = \frac1{40}\sum_{k=1}^{40} N\big(x; m_k, \mathrm{softplus}(1)^2 I_2\big),

  with the means :math:`m_k` of :func:`gmm40_means`.

  Returns:
    A :class:`Target` named ``"gmm40"`` (d = 2) with ``log_prob: x [..., 2] -> [...]``
    (normalised, ``log_z = 0``), the exact sampler ``(key, n) -> [n, 2]`` and the means
    ``[40, 2]`` as ``means``.

  References:
    Midgley et al. Flow Annealed Importance Sampling Bootstrap (FAB). ICLR 2023.
    Schopmans & Friederich. Temperature-Annealed Boltzmann Generators. ICML 2025.
  """
  from fdiv_jax.diffusion import GaussianMixture

  mixture = GaussianMixture.create(jnp.asarray(gmm40_means()), float(jax.nn.softplus(1.0)))
  return Target(
    "gmm40", 2, mixture.log_prob, 0.0, lambda key, n: mixture.sample(key, n)[0], mixture.means
  )


def _double_well_x(x):
  return -(x**4) + 6 * x**2 + 0.5 * x


def _log_envelope(x, xp=jnp):
  """Log density of the proposal, an equal mixture of N(+-1.7, 0.5^2) (``xp``:
  numpy for the envelope constant in float64, jax.numpy inside the sampler)."""
  return xp.logaddexp(-0.5 * ((x - 1.7) / 0.5) ** 2, -0.5 * ((x + 1.7) / 0.5) ** 2) - math.log(
    2 * 0.5 * math.sqrt(2 * math.pi)
  )


@functools.partial(jax.jit, static_argnums=3)
def _double_well_proposals(k1, k2, k3, m: int, log_m) -> tuple[jax.Array, jax.Array]:
  """``m`` proposals from the two-Gaussian envelope and whether each is accepted."""
  sign = jnp.where(jax.random.bernoulli(k1, 0.5, (m,)), 1.7, -1.7)
  x = sign + 0.5 * jax.random.normal(k2, (m,))
  log_acc = _double_well_x(x) - _log_envelope(x) - log_m
  return x, jnp.log(jax.random.uniform(k3, (m,))) < log_acc


def _sample_double_well(key, n: int) -> jax.Array:
  """Exact samples of p(x) ∝ exp(-x^4 + 6x^2 + x/2) by rejection sampling.

  Proposal: equal mixture of N(±1.7, 0.5^2); the envelope constant is the
  maximum of p/g on a fine grid times 1.05 (the tails of p decay as
  exp(-x^4), faster than the proposal's).
  """
  grid = np.linspace(-4, 4, 20001)
  log_m = float(np.max(_double_well_x(grid) - _log_envelope(grid, np))) + math.log(1.05)
  out = []
  total = 0
  while total < n:  # usually one round: 4x as many proposals as samples still needed
    key, k1, k2, k3 = jax.random.split(key, 4)
    m = 4 * (n - total) + 64
    x, keep = (np.asarray(a) for a in _double_well_proposals(k1, k2, k3, m, log_m))
    out.append(x[keep])
    total += int(keep.sum())
  return jnp.asarray(np.concatenate(out)[:n])


def many_well(dim: int = 32) -> Target:
  r"""Many-Well of dimension ``dim`` (even): ``dim/2`` double wells, ``2^(dim/2)`` modes.

  .. math::
    \log\gamma(x) = \sum_{k=1}^{d/2} \big(-a_k^4 + 6a_k^2 + \tfrac12 a_k
      - \tfrac12 b_k^2\big),\qquad
    \log Z = \tfrac d2\big(\log 11784.50927 + \tfrac12\log 2\pi\big),

  with the pairs :math:`(a_k, b_k) = (x_{2k-1}, x_{2k})` (``x[..., 0::2]``,
  ``x[..., 1::2]``).

  Args:
    dim: Event dimension ``d``, even and at least 2 (default 32).

  Returns:
    A :class:`Target` named ``f"many_well{dim}"`` with ``log_prob: x [..., d] -> [...]``
    (unnormalised), the exact ``log_z`` and an exact sampler ``(key, n) -> [n, d]`` (the
    :math:`a_k` by rejection sampling on the host: not traceable under ``jit``).

  References:
    Midgley et al. Flow Annealed Importance Sampling Bootstrap (FAB). ICLR 2023.
  """
  if dim < 2 or dim % 2:
    raise ValueError(f"dim must be a positive even number, got {dim}")
  pairs = dim // 2

  def log_prob(x):
    x = jnp.asarray(x)
    a, b = x[..., 0::2], x[..., 1::2]
    return jnp.sum(_double_well_x(a) - 0.5 * b**2, axis=-1)

  def sample(key, n):
    ka, kb = jax.random.split(key)
    a = _sample_double_well(ka, n * pairs).reshape(n, pairs)
    b = jax.random.normal(kb, (n, pairs))
    return jnp.stack([a, b], axis=-1).reshape(n, dim)

  log_z = pairs * (_DOUBLE_WELL_LOG_Z + 0.5 * math.log(2 * math.pi))
  return Target(f"many_well{dim}", dim, log_prob, log_z, sample)


def funnel(dim: int = 10, *, scale: float = 3.0) -> Target:
  r"""Neal's funnel (normalised, log Z = 0).

  .. math::
    x_0 \sim N(0, s^2),\qquad x_{1:d-1} \mid x_0 \sim N(0, e^{x_0} I_{d-1}).

  Args:
    dim: Event dimension ``d``, at least 2 (default 10).
    scale: The standard deviation :math:`s` of :math:`x_0` (default 3).

  Returns:
    A :class:`Target` named ``f"funnel{dim}"`` with ``log_prob: x [..., d] -> [...]``
    (normalised, ``log_z = 0``) and the exact sampler ``(key, n) -> [n, d]``.

  References:
    Neal. Slice sampling. Annals of Statistics 2003.
  """
  if dim < 2:
    raise ValueError(f"dim must be >= 2, got {dim}")

  def log_prob(x):
    x = jnp.asarray(x)
    x0, rest = x[..., 0], x[..., 1:]
    lp0 = -0.5 * (x0 / scale) ** 2 - math.log(scale) - 0.5 * math.log(2 * math.pi)
    x0c = x0[..., None]
    lpr = jnp.sum(-0.5 * rest**2 * jnp.exp(-x0c) - 0.5 * x0c - 0.5 * math.log(2 * math.pi), axis=-1)
    return lp0 + lpr

  def sample(key, n):
    k0, k1 = jax.random.split(key)
    x0 = scale * jax.random.normal(k0, (n, 1))
    return jnp.concatenate([x0, jnp.exp(0.5 * x0) * jax.random.normal(k1, (n, dim - 1))], axis=-1)

  return Target(f"funnel{dim}", dim, log_prob, 0.0, sample)
