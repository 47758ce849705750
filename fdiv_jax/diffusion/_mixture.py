"""The Gaussian mixture with its noised marginals, score and denoiser in closed form."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from fdiv_jax import _checks
from fdiv_jax.diffusion._edm import _col


class GaussianMixture(NamedTuple):
  r"""Mixture :math:`\sum_k w_k N(\mu_k, \mathrm{diag}(s_k^2))` and its noised marginals.

  Under :math:`x_t = \alpha x_0 + \sigma\varepsilon` the marginal is the mixture
  :math:`\sum_k w_k N(\alpha\mu_k, \mathrm{diag}(\alpha^2 s_k^2 + \sigma^2))`;
  its score and denoiser (posterior mean of :math:`x_0`) are closed forms in
  the responsibilities :math:`\gamma_k(x_t)`:

  .. math::
    \nabla\log p_t = \sum_k \gamma_k \frac{\alpha\mu_k - x_t}{v_k},\quad
    \mathbb E[x_0\mid x_t] = \sum_k \gamma_k\Big(\mu_k + \frac{\alpha s_k^2}{v_k}
      (x_t - \alpha\mu_k)\Big),\quad v_k = \alpha^2 s_k^2 + \sigma^2.

  Attributes:
    log_weights: ``[K]`` (normalised by :meth:`create`).
    means: ``[K, dim]``.
    scales: ``[K, dim]`` standard deviations.
  """

  log_weights: jax.Array
  means: jax.Array
  scales: jax.Array

  @classmethod
  def create(
    cls, means: ArrayLike, scales: ArrayLike, weights: ArrayLike | None = None
  ) -> GaussianMixture:
    """From means ``[K, dim]``, scales (broadcast to ``[K, dim]``), weights ``[K]``."""
    means = _checks.floating("means", means)
    if means.ndim != 2:
      raise ValueError(f"means must have shape [K, dim], got {means.shape}")
    k = means.shape[0]
    scales = jnp.broadcast_to(_checks.positive("scales", scales), means.shape)
    if weights is None:
      log_w = jnp.full((k,), -jnp.log(float(k)))
    else:
      w = _checks.positive("weights", weights)
      if w.shape != (k,):
        raise ValueError(f"weights must have shape [{k}], got {w.shape}")
      log_w = jnp.log(w) - jnp.log(jnp.sum(w))
    return cls(log_w, means, scales.astype(means.dtype))

  def _components(self, x_t, sigma, alpha):
    x_t = jnp.asarray(x_t)
    per_component = lambda v: v if v.ndim == 0 else v[..., None, :]
    a, s = per_component(_col(alpha, x_t)), per_component(_col(sigma, x_t))
    mean = a * self.means  # [..., K, dim]
    var = (a * self.scales) ** 2 + s**2  # [..., K, dim]
    diff = x_t[..., None, :] - mean
    log_comp = self.log_weights - 0.5 * jnp.sum(diff**2 / var + jnp.log(2 * jnp.pi * var), axis=-1)
    return log_comp, diff, var, a

  def log_prob(
    self, x_t: ArrayLike, *, sigma: ArrayLike = 0.0, alpha: ArrayLike = 1.0
  ) -> jax.Array:
    """``log p_t(x_t)``, ``[...]`` for ``x_t`` ``[..., dim]``."""
    log_comp, *_ = self._components(x_t, sigma, alpha)
    return jax.nn.logsumexp(log_comp, axis=-1)

  def responsibilities(
    self, x_t: ArrayLike, *, sigma: ArrayLike = 0.0, alpha: ArrayLike = 1.0
  ) -> jax.Array:
    """Posterior component probabilities ``[..., K]``."""
    log_comp, *_ = self._components(x_t, sigma, alpha)
    return jax.nn.softmax(log_comp, axis=-1)

  def score(self, x_t: ArrayLike, *, sigma: ArrayLike = 0.0, alpha: ArrayLike = 1.0) -> jax.Array:
    r""":math:`\nabla_{x_t}\log p_t(x_t)`, ``[..., dim]``."""
    log_comp, diff, var, _ = self._components(x_t, sigma, alpha)
    gamma = jax.nn.softmax(log_comp, axis=-1)[..., None]
    return jnp.sum(gamma * (-diff / var), axis=-2)

  def denoiser(self, x_t: ArrayLike, *, sigma: ArrayLike, alpha: ArrayLike = 1.0) -> jax.Array:
    r""":math:`\mathbb E[x_0 \mid x_t]`, ``[..., dim]``."""
    log_comp, diff, var, a = self._components(x_t, sigma, alpha)
    gamma = jax.nn.softmax(log_comp, axis=-1)[..., None]
    post = self.means + a * self.scales**2 / var * diff
    return jnp.sum(gamma * post, axis=-2)

  def sample(self, key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
    """``(x [n, dim], component [n])`` drawn from the clean mixture."""
    k_c, k_x = jax.random.split(key)
    comp = jax.random.categorical(k_c, self.log_weights, shape=(n,))
    eps = jax.random.normal(k_x, (n, self.means.shape[1]), self.means.dtype)
    return self.means[comp] + self.scales[comp] * eps, comp
