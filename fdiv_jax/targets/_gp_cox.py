r"""The synthetic log-Gaussian Cox process with a Matérn-3/2 prior (Inference Gym).

.. math::
  a \sim \mathrm{LogNormal}(-1, 0.5^2),\quad \ell \sim \mathrm{LogNormal}(-1, 1),\quad
  f \sim N\big(m\mathbf 1, K_{a,\ell} + 10^{-6} I\big),\quad
  n_i \sim \mathrm{Poisson}\big(e_i\, e^{f_i}\big),\quad i = 1..100,

on a 10 × 10 grid of unit spacing with counts :math:`n` sampled from the prior,
:math:`K_{a,\ell}(r) = (a + 10^{-3})^2 (1 + \sqrt3 r / \ell')\, e^{-\sqrt3 r / \ell'}`,
:math:`\ell' = \ell + 10^{-3}`, and :math:`m` the mean of :math:`\log(n_i / e_i)`. The target
is the posterior over :math:`x = (\log a, \log\ell, f_1..f_{100})` (d = 102, Inference
Gym's unconstrained space; ``parameterization="latent"``) or over
:math:`(\log a, \log\ell, \varepsilon)` with :math:`f = m + L_{a,\ell}\varepsilon`,
:math:`LL^\top = K + 10^{-6} I` (``"whitened"``: the Jacobian :math:`|L|` cancels the
Gaussian's normaliser, no triangular solve). Every density is normalised. In float32 the
Cholesky factor of a long-length-scale kernel can fail; ``log_prob`` is then -inf (the
posterior's length scale is about 0.2, its mass at such scales negligible), and float64
is the exact choice.

References:
  Inference Gym, ``SyntheticLogGaussianCoxProcess`` (TensorFlow Probability), data and
  ground-truth moments (of the latent form) from its Stan runs.
  Diggle, Moraga, Rowlingson, Taylor. Spatial and spatio-temporal log-Gaussian Cox
  processes. Stat. Sci. 2013.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from fdiv_jax.targets._target import Target, gym_moments, load_csv

__all__ = ["synthetic_lgcp"]

_LOG_2PI = math.log(2 * math.pi)
_JITTER, _OFFSET = 1e-6, 1e-3
_PARAMETERIZATIONS = ("latent", "whitened")


def _normal_logpdf(x, loc, scale):
  return -0.5 * ((x - loc) / scale) ** 2 - math.log(scale) - 0.5 * _LOG_2PI


def synthetic_lgcp(parameterization: str = "latent") -> Target:
  r"""The synthetic log-Gaussian Cox-process posterior on a 10 × 10 grid, d = 102.

  .. math::
    a \sim \mathrm{LogNormal}(-1, 0.5^2),\quad \ell \sim \mathrm{LogNormal}(-1, 1),\quad
    f \sim N\big(m\mathbf 1, K_{a,\ell} + 10^{-6} I\big),\quad
    n_i \sim \mathrm{Poisson}\big(e_i\, e^{f_i}\big),\quad i = 1..100,

  on a grid of unit spacing, with cell extents :math:`e_i`, the Matérn-3/2 kernel
  :math:`K_{a,\ell}(r) = (a + 10^{-3})^2 (1 + \sqrt3 r / \ell')\, e^{-\sqrt3 r / \ell'}`,
  :math:`\ell' = \ell + 10^{-3}`, and :math:`m` the mean of :math:`\log(n_i / e_i)`; every
  density is normalised.

  Args:
    parameterization: ``"latent"`` (Inference Gym's, :math:`x = (\log a, \log\ell, f)`)
      or ``"whitened"`` (:math:`x = (\log a, \log\ell, \varepsilon)`,
      :math:`f = m + L_{a,\ell}\varepsilon`, :math:`LL^\top = K + 10^{-6} I`).

  Returns:
    A :class:`Target` named ``"synthetic_lgcp"`` with ``log_prob: x [..., 102] -> [...]``
    (-inf where the Cholesky factor fails in the input's precision), no ``log_z``, no
    sampler, and Inference Gym's ground-truth :class:`PosteriorMoments` of
    :math:`(a, \ell, f_1..f_{100})`.

  References:
    Inference Gym, ``SyntheticLogGaussianCoxProcess`` (TensorFlow Probability).
    Diggle, Moraga, Rowlingson, Taylor. Spatial and spatio-temporal log-Gaussian Cox
    processes. Stat. Sci. 2013.
  """
  if parameterization not in _PARAMETERIZATIONS:
    raise ValueError(
      f"synthetic_lgcp: parameterization must be one of {_PARAMETERIZATIONS}, "
      f"got {parameterization!r}"
    )
  table = load_csv("synthetic_lgcp.csv")
  locations, extents, counts = table[:, :2], table[:, 2], table[:, 3]
  num = counts.shape[0]
  dim = 2 + num
  mean = float(np.mean(np.log(counts) - np.log(extents)))
  distance = np.sqrt(np.sum((locations[:, None] - locations[None]) ** 2, -1))
  log_extents = np.log(extents)
  log_factorial = np.array([math.lgamma(c + 1) for c in counts])

  def cholesky(log_a, log_l):
    amplitude = jnp.exp(log_a)[..., None, None] + _OFFSET
    scaled = (
      math.sqrt(3)
      * jnp.asarray(distance, log_a.dtype)
      / (jnp.exp(log_l)[..., None, None] + _OFFSET)
    )
    kernel = amplitude**2 * (1 + scaled) * jnp.exp(-scaled)
    return jnp.linalg.cholesky(kernel + _JITTER * jnp.eye(num, dtype=log_a.dtype))

  def latent(x):
    chol = cholesky(x[..., 0], x[..., 1])
    if parameterization == "whitened":
      eps = x[..., 2:]
      return mean + jnp.einsum("...ij,...j->...i", chol, eps), -0.5 * jnp.sum(eps**2, -1) - (
        0.5 * num * _LOG_2PI
      )
    centred = x[..., 2:] - mean
    eps = jax.scipy.linalg.solve_triangular(chol, centred[..., None], lower=True)[..., 0]
    log_det = jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), -1)
    return x[..., 2:], -0.5 * jnp.sum(eps**2, -1) - log_det - 0.5 * num * _LOG_2PI

  def log_prob(x):
    x = jnp.asarray(x)
    if x.shape[-1:] != (dim,):
      raise ValueError(f"synthetic_lgcp: x must have shape [..., {dim}], got {x.shape}")
    f, lp_f = latent(x)
    log_rate = jnp.asarray(log_extents, x.dtype) + f
    n = jnp.asarray(counts, x.dtype)
    lp_counts = jnp.sum(n * log_rate - jnp.exp(log_rate) - jnp.asarray(log_factorial, x.dtype), -1)
    lp = _normal_logpdf(x[..., 0], -1.0, 0.5) + _normal_logpdf(x[..., 1], -1.0, 1.0)
    lp = lp + lp_f + lp_counts
    # A finite x whose covariance has no Cholesky factor in this precision (a long length
    # scale in float32) has density -inf rather than NaN; a NaN in x stays NaN.
    failed = jnp.isnan(lp) & jnp.all(jnp.isfinite(x), -1)
    return jnp.where(failed, -jnp.inf, lp)

  def constrain(x):
    scales = jnp.exp(x[..., :2])
    if parameterization == "latent":
      return jnp.concatenate([scales, x[..., 2:]], -1)
    f, _ = latent(x)
    return jnp.concatenate([scales, f], -1)

  moments = gym_moments("synthetic_lgcp", constrain)
  return Target("synthetic_lgcp", dim, log_prob, None, None, moments=moments)
