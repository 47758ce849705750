"""Noise schedules, parameterisations, EDM preconditioning, the Heun sampler and DSM."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from fdiv_jax import _checks

SIGMA_DISTRIBUTIONS = ("log_uniform", "polynomial", "lognormal")


def karras_sigmas(
  num: int, *, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0
) -> jax.Array:
  r"""EDM sampling grid, decreasing from ``sigma_max`` to ``sigma_min``, ``[num]``.

  .. math::
    \sigma_i = \Big(\sigma_{\max}^{1/\rho} + \tfrac{i}{N-1}
      (\sigma_{\min}^{1/\rho} - \sigma_{\max}^{1/\rho})\Big)^{\rho}

  for :math:`i = 0, \dots, N - 1`, :math:`N` = ``num`` (Karras et al., 2022, eq. 5).

  Args:
    num: Number of levels :math:`N`, >= 2.
    sigma_min: Smallest level :math:`\sigma_{\min}` (the last entry), > 0.
    sigma_max: Largest level :math:`\sigma_{\max}` (the first entry), > ``sigma_min``.
    rho: Grid exponent :math:`\rho`, > 0; larger values put more levels near ``sigma_min``.

  Returns:
    ``[num]`` noise levels, decreasing from ``sigma_max`` to ``sigma_min``.
  """
  if num < 2:
    raise ValueError(f"num must be >= 2, got {num}")
  if not 0 < sigma_min < sigma_max:
    raise ValueError(f"need 0 < sigma_min < sigma_max, got {sigma_min}, {sigma_max}")
  _checks.positive("rho", rho)
  ramp = jnp.linspace(0.0, 1.0, num)
  lo, hi = sigma_min ** (1.0 / rho), sigma_max ** (1.0 / rho)
  return (hi + ramp * (lo - hi)) ** rho


def sample_sigmas(
  key: jax.Array,
  shape: tuple[int, ...] | int,
  *,
  sigma_min: float,
  sigma_max: float,
  distribution: str = "log_uniform",
  rho: float = 7.0,
  num_steps: int = 1000,
  min_step_percent: float = 0.002,
  max_step_percent: float = 0.998,
  p_mean: float = -1.2,
  p_std: float = 1.2,
) -> jax.Array:
  r"""Training noise levels :math:`\sigma \in [\sigma_{\min}, \sigma_{\max}]`, ``shape``.

  ``distribution``:

  - ``"log_uniform"``: :math:`\log\sigma \sim U(\log\sigma_{\min}, \log\sigma_{\max})`.
  - ``"polynomial"``: FastGen's default for DMD2 / f-distill: an index drawn
    uniformly from ``[int(min_step_percent N), int(max_step_percent N)]`` into
    the increasing Karras grid of ``N = num_steps`` levels (:func:`karras_sigmas`
    with ``rho``), so the density of :math:`\sigma` is that of the EDM sampler's
    steps: heavy near :math:`\sigma_{\min}`.
  - ``"lognormal"``: EDM's training distribution,
    :math:`\log\sigma \sim N(P_\text{mean}, P_\text{std}^2)` truncated to the
    range (inverse CDF, so every draw is inside).

  Args:
    key: PRNG key.
    shape: Output shape (an int for a batch).
    sigma_min: Smallest level, > 0.
    sigma_max: Largest level, > ``sigma_min``.
    distribution: One of ``"log_uniform"``, ``"polynomial"``, ``"lognormal"``.
    rho: Karras grid exponent (``"polynomial"``).
    num_steps: Karras grid size (``"polynomial"``).
    min_step_percent: Lowest grid index as a fraction of ``num_steps``.
    max_step_percent: Highest grid index as a fraction of ``num_steps``.
    p_mean: Mean of :math:`\log\sigma` (``"lognormal"``).
    p_std: Standard deviation of :math:`\log\sigma` (``"lognormal"``).

  Returns:
    Noise levels of shape ``shape``.

  References:
    Karras et al. (2022), Table 1; NVlabs/FastGen ``EDMNoiseSchedule.sample_t``.

  Example:
    >>> s = sample_sigmas(jax.random.PRNGKey(0), 4, sigma_min=0.002, sigma_max=80.0,
    ...                   distribution="polynomial")
    >>> bool(((s >= 0.002) & (s <= 80.0)).all())
    True
  """
  _checks.one_of("distribution", distribution, SIGMA_DISTRIBUTIONS)
  if not 0 < sigma_min < sigma_max:
    raise ValueError(f"need 0 < sigma_min < sigma_max, got {sigma_min}, {sigma_max}")
  shape = (shape,) if isinstance(shape, int) else tuple(shape)
  lo, hi = jnp.log(sigma_min), jnp.log(sigma_max)
  if distribution == "log_uniform":
    return jnp.exp(lo + jax.random.uniform(key, shape) * (hi - lo))
  if distribution == "polynomial":
    if not 0 <= min_step_percent <= max_step_percent <= 1:
      raise ValueError(
        "need 0 <= min_step_percent <= max_step_percent <= 1, got "
        f"{min_step_percent}, {max_step_percent}"
      )
    grid = karras_sigmas(num_steps, sigma_min=sigma_min, sigma_max=sigma_max, rho=rho)[::-1]
    first, last = int(min_step_percent * num_steps), int(max_step_percent * num_steps)
    last = min(last, num_steps - 1)
    return grid[jax.random.randint(key, shape, first, last + 1)]
  _checks.positive("p_std", p_std)
  cdf = jax.scipy.stats.norm.cdf
  u = jax.random.uniform(key, shape, minval=cdf(lo, p_mean, p_std), maxval=cdf(hi, p_mean, p_std))
  return jnp.clip(jnp.exp(jax.scipy.stats.norm.ppf(u, p_mean, p_std)), sigma_min, sigma_max)


def vp_alpha_sigma(
  t: ArrayLike, *, beta_min: float = 0.1, beta_max: float = 20.0
) -> tuple[jax.Array, jax.Array]:
  r"""Variance-preserving (DDPM / VP-SDE) schedule at ``t`` in [0, 1].

  .. math::
    \log\alpha_t = -\tfrac14 t^2(\beta_{\max} - \beta_{\min}) - \tfrac12 t\beta_{\min},
    \qquad \sigma_t = \sqrt{1 - \alpha_t^2} = \sqrt{-\operatorname{expm1}(2\log\alpha_t)}

  (Song et al., 2021, eq. 33), computed with ``expm1`` so :math:`\sigma_t` is
  accurate as :math:`t \to 0`.

  Args:
    t: Diffusion times in [0, 1], any shape.
    beta_min: :math:`\beta_{\min}` of the linear schedule :math:`\beta(t)`.
    beta_max: :math:`\beta_{\max}` of the linear schedule :math:`\beta(t)`.

  Returns:
    ``(alpha_t, sigma_t)``, each of the shape of ``t``.
  """
  t = _checks.floating("t", t)
  log_alpha = -0.25 * t * t * (beta_max - beta_min) - 0.5 * t * beta_min
  return jnp.exp(log_alpha), jnp.sqrt(-jnp.expm1(2.0 * log_alpha))


def add_noise(
  x0: ArrayLike, noise: ArrayLike, *, sigma: ArrayLike, alpha: ArrayLike = 1.0
) -> jax.Array:
  r"""Forward process :math:`x_t = \alpha x_0 + \sigma\varepsilon`, ``[..., dim]``.

  ``alpha`` and ``sigma`` are scalars or ``[...]`` (one per example) and broadcast
  over the trailing data axis of ``x0``.

  Args:
    x0: Clean data :math:`x_0`, ``[..., dim]``.
    noise: Standard normal draws :math:`\varepsilon`, ``[..., dim]`` (the shape of ``x0``).
    sigma: Noise level :math:`\sigma`, scalar or ``[...]``.
    alpha: Signal scale :math:`\alpha`, scalar or ``[...]`` (1 for EDM / VE).

  Returns:
    Noised samples :math:`x_t`, ``[..., dim]``.
  """
  x0 = _checks.floating("x0", x0, min_ndim=1)
  noise = _checks.floating("noise", noise)
  _checks.same_shape("x0", x0, "noise", noise)
  return _col(alpha, x0) * x0 + _col(sigma, x0) * noise


def _col(v: ArrayLike, like: jax.Array) -> jax.Array:
  """``v`` with a trailing singleton axis when it is per-example (``[...]``)."""
  v = jnp.asarray(v, like.dtype)
  return v if v.ndim == 0 else v[..., None]


def score_from_denoiser(
  x_t: ArrayLike, denoised: ArrayLike, *, sigma: ArrayLike, alpha: ArrayLike = 1.0
) -> jax.Array:
  r"""Tweedie: :math:`\nabla\log p_t = (\alpha D - x_t) / \sigma^2`, ``[..., dim]``.

  Args:
    x_t: Noised samples :math:`x_t`, ``[..., dim]``.
    denoised: Denoiser output :math:`D(x_t) \approx \mathbb E[x_0 \mid x_t]`, ``[..., dim]``.
    sigma: Noise level :math:`\sigma`, scalar or ``[...]``.
    alpha: Signal scale :math:`\alpha`, scalar or ``[...]`` (1 for EDM / VE).

  Returns:
    The score :math:`\nabla_{x_t}\log p_t(x_t)`, ``[..., dim]``.
  """
  x_t = jnp.asarray(x_t)
  return (_col(alpha, x_t) * denoised - x_t) / _col(sigma, x_t) ** 2


def denoiser_from_score(
  x_t: ArrayLike, score: ArrayLike, *, sigma: ArrayLike, alpha: ArrayLike = 1.0
) -> jax.Array:
  r"""Denoiser from the score, :math:`D = (x_t + \sigma^2 \nabla\log p_t) / \alpha`, ``[..., dim]``.

  Args:
    x_t: Noised samples :math:`x_t`, ``[..., dim]``.
    score: The score :math:`\nabla_{x_t}\log p_t(x_t)`, ``[..., dim]``.
    sigma: Noise level :math:`\sigma`, scalar or ``[...]``.
    alpha: Signal scale :math:`\alpha`, scalar or ``[...]`` (1 for EDM / VE).

  Returns:
    The denoiser output :math:`D(x_t)`, ``[..., dim]``.
  """
  x_t = jnp.asarray(x_t)
  return (x_t + _col(sigma, x_t) ** 2 * score) / _col(alpha, x_t)


def eps_from_denoiser(
  x_t: ArrayLike, denoised: ArrayLike, *, sigma: ArrayLike, alpha: ArrayLike = 1.0
) -> jax.Array:
  r"""Noise prediction from the denoiser, :math:`\hat\varepsilon = (x_t - \alpha D) / \sigma`.

  Args:
    x_t: Noised samples :math:`x_t`, ``[..., dim]``.
    denoised: Denoiser output :math:`D(x_t)`, ``[..., dim]``.
    sigma: Noise level :math:`\sigma`, scalar or ``[...]``.
    alpha: Signal scale :math:`\alpha`, scalar or ``[...]`` (1 for EDM / VE).

  Returns:
    The predicted noise :math:`\hat\varepsilon(x_t)`, ``[..., dim]``.
  """
  x_t = jnp.asarray(x_t)
  return (x_t - _col(alpha, x_t) * denoised) / _col(sigma, x_t)


def denoiser_from_eps(
  x_t: ArrayLike, eps: ArrayLike, *, sigma: ArrayLike, alpha: ArrayLike = 1.0
) -> jax.Array:
  r"""Denoiser from a noise prediction, :math:`D = (x_t - \sigma\hat\varepsilon) / \alpha`.

  Args:
    x_t: Noised samples :math:`x_t`, ``[..., dim]``.
    eps: Predicted noise :math:`\hat\varepsilon(x_t)`, ``[..., dim]``.
    sigma: Noise level :math:`\sigma`, scalar or ``[...]``.
    alpha: Signal scale :math:`\alpha`, scalar or ``[...]`` (1 for EDM / VE).

  Returns:
    The denoiser output :math:`D(x_t)`, ``[..., dim]``.
  """
  x_t = jnp.asarray(x_t)
  return (x_t - _col(sigma, x_t) * eps) / _col(alpha, x_t)


def edm_loss_weight(sigma: ArrayLike, *, sigma_data: float = 0.5) -> jax.Array:
  r"""EDM weighting :math:`\lambda(\sigma) = (\sigma^2 + \sigma_d^2) / (\sigma\sigma_d)^2`.

  It equals :math:`1 / c_\text{out}^2` of :func:`edm_preconditioning` (Karras et al.,
  2022, Table 1).

  Args:
    sigma: Noise levels ``[...]``, > 0.
    sigma_data: Standard deviation of the data :math:`\sigma_d`.

  Returns:
    ``[...]``, the weight of each noise level (the shape of ``sigma``).
  """
  sigma = jnp.asarray(sigma)
  return (sigma**2 + sigma_data**2) / (sigma * sigma_data) ** 2


class EDMPreconditioning(NamedTuple):
  r"""EDM's scalings of the denoiser.

  :math:`D(x, \sigma) = c_\text{skip} x + c_\text{out} F(c_\text{in} x, c_\text{noise})`.
  """

  c_skip: jax.Array
  c_out: jax.Array
  c_in: jax.Array
  c_noise: jax.Array


def edm_preconditioning(sigma: ArrayLike, *, sigma_data: float = 0.5) -> EDMPreconditioning:
  r"""EDM preconditioning of a denoiser network (Karras et al., 2022, Table 1).

  .. math::
    c_\text{skip} = \frac{\sigma_d^2}{\sigma^2 + \sigma_d^2},\quad
    c_\text{out} = \frac{\sigma\sigma_d}{\sqrt{\sigma^2 + \sigma_d^2}},\quad
    c_\text{in} = \frac{1}{\sqrt{\sigma^2 + \sigma_d^2}},\quad
    c_\text{noise} = \tfrac14\log\sigma,

  so the network :math:`F` sees unit-variance inputs and targets at every noise
  level, and :math:`\lambda(\sigma) = 1 / c_\text{out}^2` (:func:`edm_loss_weight`)
  gives its loss unit weight.

  Args:
    sigma: Noise levels ``[...]`` (> 0).
    sigma_data: Standard deviation of the data.

  Returns:
    :class:`EDMPreconditioning` of arrays of the shape of ``sigma``.
  """
  s = _checks.positive("sigma", sigma)
  sd = _checks.positive("sigma_data", sigma_data)
  norm = jnp.sqrt(s**2 + sd**2)
  return EDMPreconditioning(sd**2 / norm**2, s * sd / norm, 1.0 / norm, jnp.log(s) / 4)


def heun_sample(denoise, noise: ArrayLike, *, sigmas: ArrayLike) -> jax.Array:
  r"""EDM's deterministic Heun sampler (Karras et al., 2022, Algorithm 1).

  Integrates the probability-flow ODE :math:`dx/d\sigma = (x - D(x, \sigma))/\sigma`
  from :math:`x = \sigma_0 \cdot` ``noise`` down the decreasing grid ``sigmas``
  (e.g. :func:`karras_sigmas`) and a last Euler step to :math:`\sigma = 0`:
  ``2 len(sigmas) - 1`` denoiser evaluations.

  Args:
    denoise: ``(x [n, dim], sigma [n]) -> D(x, sigma) [n, dim]``.
    noise: Standard normal draws ``[n, dim]``.
    sigmas: Decreasing noise levels ``[num]``, all > 0.

  Returns:
    Samples ``[n, dim]``.
  """
  noise = _checks.floating("noise", noise, min_ndim=2)
  sigmas = jnp.append(_checks.floating("sigmas", sigmas, min_ndim=1), 0.0)
  n = noise.shape[0]

  def step(x, i):
    s, s_next = sigmas[i], sigmas[i + 1]
    d = (x - denoise(x, jnp.full((n,), s))) / s
    x_euler = x + (s_next - s) * d
    s_safe = jnp.where(s_next > 0, s_next, 1.0)
    d2 = (x_euler - denoise(x_euler, jnp.full((n,), s_safe))) / s_safe
    x_heun = x + (s_next - s) * 0.5 * (d + d2)
    return jnp.where(s_next > 0, x_heun, x_euler), None

  x, _ = jax.lax.scan(step, sigmas[0] * noise, jnp.arange(sigmas.shape[0] - 1))
  return x


def denoising_score_matching_loss(
  denoised: ArrayLike, x0: ArrayLike, *, weight: ArrayLike = 1.0
) -> jax.Array:
  r"""Per-example denoising score matching :math:`\lambda\,\|D(x_t) - x_0\|^2`.

  Minimised over :math:`D` by :math:`\mathbb E[x_0 \mid x_t]` (Vincent, 2011),
  which is why the trained denoiser gives the score via Tweedie's formula.

  Args:
    denoised: :math:`D(x_t)`, ``[..., dim]``.
    x0: Clean data, ``[..., dim]``.
    weight: :math:`\lambda`, scalar or ``[...]`` (e.g. :func:`edm_loss_weight`).

  Returns:
    ``[...]``, one value per example (not reduced; the data axis summed); the caller
    reduces.
  """
  denoised = _checks.floating("denoised", denoised, min_ndim=1)
  x0 = _checks.floating("x0", x0, min_ndim=1)
  _checks.same_shape("denoised", denoised, "x0", x0)
  return jnp.asarray(weight, denoised.dtype) * jnp.sum((denoised - x0) ** 2, axis=-1)
