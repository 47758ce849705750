r"""Moving samples and weights along a path of densities: AIS, resampling, FAB, TA-BG.

Paths (pure functions of log densities, every parameter a traced array):

* :func:`geometric_path`: :math:`\log\pi_\beta = (1-\beta)\log q + \beta\log\gamma`,
  from a base :math:`q` (:math:`\beta = 0`) to a target :math:`\gamma` (:math:`\beta = 1`).
* :func:`temperature_path`: :math:`\log p / T` (TA-BG's tempering).
* :func:`alpha_target`: :math:`\log\gamma = \alpha\log p + (1-\alpha)\log q`, the
  density :math:`p^\alpha q^{1-\alpha}` that is the minimum-variance importance
  distribution for estimating the alpha-divergence (FAB targets it with
  :math:`\alpha = 2`, i.e. :math:`p^2/q`).

Samplers and losses:

* :func:`resample`: multinomial or systematic resampling by inverse CDF,
  optionally clipping the largest log weights first; returns the ESS.
* :func:`ais`: annealed importance sampling (Neal, 2001) from base samples to an
  unnormalised target along the geometric path, with blackjax HMC / MALA
  transitions at the intermediate levels. :func:`adapt_step_size` tunes the
  per-level step sizes between calls towards an acceptance rate (FAB: 0.65).
* A prioritised replay buffer, a fixed-capacity pytree: :func:`buffer_init`,
  :func:`buffer_add`, :func:`buffer_sample` (in proportion to the weights, without
  replacement), :func:`buffer_adjust` (FAB's re-weighting after a flow update).
* :func:`fab_loss` and :func:`fab_buffer_loss`: FAB's weighted maximum likelihood.
* :func:`tabg_level`: one TA-BG level (importance-resample flow samples to the
  next level, clip, resample, fit by maximum likelihood).

References:
  Neal. Annealed importance sampling. Statistics and Computing 2001.
  Midgley, Stimper, Simm, Schoelkopf, Hernandez-Lobato. Flow Annealed
  Importance Sampling Bootstrap (FAB). ICLR 2023 (reference code lollcat/fab-jax).
  Schopmans & Friederich. Temperature-Annealed Boltzmann Generators (TA-BG). ICML 2025.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from fdiv_jax import _checks
from fdiv_jax import divergences as _divergences
from fdiv_jax import monte_carlo as _monte_carlo

__all__ = [
  "AISResult",
  "ReplayBuffer",
  "Resampled",
  "adapt_step_size",
  "ais",
  "alpha_of",
  "alpha_target",
  "buffer_add",
  "buffer_adjust",
  "buffer_init",
  "buffer_sample",
  "fab_buffer_loss",
  "fab_loss",
  "geometric_path",
  "resample",
  "tabg_level",
  "temperature_path",
]

KERNELS = ("hmc", "mala", "rwm")
RESAMPLING = ("multinomial", "systematic")

LogDensity = Callable[[jax.Array], jax.Array]  # x [N, d] -> [N]


# ---------------------------------------------------------------------------
# Paths.
# ---------------------------------------------------------------------------


def geometric_path(log_base: ArrayLike, log_target: ArrayLike, beta: ArrayLike) -> jax.Array:
  r"""Geometric interpolation :math:`(1-\beta)\log q(x) + \beta\log\gamma(x)`.

  Args:
    log_base: :math:`\log q` at the points, ``[...]``.
    log_target: (Unnormalised) :math:`\log\gamma` at the same points.
    beta: Level in ``[0, 1]`` (broadcasts; traced).

  Returns:
    The unnormalised log density of level ``beta``. A target that is
    :math:`-\infty` stays :math:`-\infty` for ``beta > 0`` (no ``0 * inf``).
  """
  log_base, log_target = jnp.asarray(log_base), jnp.asarray(log_target)
  beta = jnp.asarray(beta, jnp.result_type(log_base, log_target))
  # beta * log_target with beta = 0 and log_target = -inf is 0, not NaN.
  safe = jnp.where(beta == 0, 0.0, log_target)
  return (1.0 - beta) * log_base + beta * safe


def temperature_path(log_p: ArrayLike, temperature: ArrayLike) -> jax.Array:
  r"""Tempered log density :math:`\log p(x) / T` (TA-BG; ``T = 1`` is the target)."""
  return jnp.asarray(log_p) / _checks.positive("temperature", temperature)


def alpha_of(divergence: _divergences.Divergence | str | ArrayLike) -> jax.Array:
  r"""The order :math:`\alpha` of an alpha-divergence given as a number or registry entry.

  Accepts a number / array (returned as an array, traced values pass through),
  the registry's ``alpha`` family (its ``params["alpha"]``), ``"kl"``
  (:math:`\alpha = 1`, forward KL) or ``"reverse_kl"`` (:math:`\alpha = 0`).
  """
  if isinstance(divergence, str):
    divergence = _divergences.get(divergence)
  if isinstance(divergence, _divergences.Divergence):
    if divergence.alpha_order is not None:
      return divergence.alpha_order
    raise ValueError(
      "divergence must be an alpha-divergence (the registry's 'alpha' "
      f"family, 'kl' or 'reverse_kl') or a number, got {divergence.name!r}"
    )
  return jnp.asarray(divergence, _checks.float_dtype(divergence))


def alpha_target(
  log_p: ArrayLike, log_q: ArrayLike, *, alpha: _divergences.Divergence | str | ArrayLike
) -> jax.Array:
  r"""FAB's AIS target :math:`\log\gamma = \alpha\log p + (1-\alpha)\log q`.

  For the registry's alpha-divergence
  :math:`D_\alpha(p\|q) = \frac{\int p^\alpha q^{1-\alpha} - 1}{\alpha(\alpha-1)}`,
  :math:`\gamma \propto p^\alpha q^{1-\alpha}` minimises the variance of the
  importance-sampling estimate of :math:`\int p^\alpha q^{1-\alpha}`
  (Midgley et al., 2023, Sec. 3). ``alpha = 2`` gives :math:`p^2/q`,
  ``alpha = 1`` the target :math:`p` itself.

  Args:
    log_p: (Unnormalised) target log density, ``[...]``.
    log_q: Flow log density at the same points.
    alpha: The order: a number, a traced array or a registry entry (:func:`alpha_of`).
  """
  a = alpha_of(alpha)
  log_p, log_q = jnp.asarray(log_p), jnp.asarray(log_q)
  # (1 - alpha) log q with alpha = 1 is 0 even where log q = -inf.
  return a * log_p + jnp.where(a == 1, 0.0, (1.0 - a) * log_q)


# ---------------------------------------------------------------------------
# Resampling.
# ---------------------------------------------------------------------------


class Resampled(NamedTuple):
  """Result of :func:`resample`.

  Attributes:
    indices: ``[num_samples]`` int32 indices into the weighted sample.
    ess: Kish effective sample size of the (clipped) weights, in samples.
    ess_fraction: ``ess / N``, in ``(0, 1]``.
    clipped_fraction: Fraction of log weights above the clipping threshold.
  """

  indices: jax.Array
  ess: jax.Array
  ess_fraction: jax.Array
  clipped_fraction: jax.Array


def _importance(log_weights: jax.Array) -> _monte_carlo.ImportanceWeights:
  """Log normaliser and Kish ESS of log weights (``monte_carlo.importance_weights``)."""
  return _monte_carlo.importance_weights(log_weights, jnp.zeros_like(log_weights))


def _valid_log_weights(log_weights: jax.Array) -> jax.Array:
  """NaN and +inf log weights are invalid: they get weight zero (log -inf)."""
  return jnp.where(jnp.isnan(log_weights) | (log_weights == jnp.inf), -jnp.inf, log_weights)


def resample(
  key: jax.Array,
  log_weights: ArrayLike,
  num_samples: int,
  *,
  method: str = "multinomial",
  clip_quantile: float | None = None,
) -> Resampled:
  r"""Draw indices in proportion to :math:`w_i = e^{\log w_i}` by inverse CDF.

  ``"multinomial"``: ``num_samples`` i.i.d. uniforms through the CDF of the
  normalised weights (binary search, :math:`O(M\log N)`; the draws of
  ``jax.random.choice(key, N, p=w)``). ``"systematic"``: one uniform :math:`u`,
  the points :math:`(k + 1 - u)/M`, :math:`k = 0..M-1` (lower variance; Kitagawa 1996).
  With ``clip_quantile`` the log weights above that quantile
  are set to it first (TA-BG's clipping). NaN / +inf log weights get weight 0.

  Args:
    key: PRNG key.
    log_weights: Unnormalised log weights ``[N]``.
    num_samples: ``M``, number of indices to draw (static).
    method: ``"multinomial"`` or ``"systematic"``.
    clip_quantile: Quantile in ``(0, 1]`` above which log weights are clipped, or None.

  Returns:
    :class:`Resampled`: the indices and the ESS of the weights used.
  """
  _checks.one_of("method", method, RESAMPLING)
  log_w = _checks.floating("log_weights", log_weights, min_ndim=1)
  if log_w.ndim != 1:
    raise ValueError(f"log_weights must have shape [N], got {log_w.shape}")
  if not isinstance(num_samples, (int, np.integer)) or num_samples < 1:
    raise ValueError(f"num_samples must be a positive int, got {num_samples!r}")
  log_w = _valid_log_weights(log_w)
  clipped_fraction = jnp.zeros((), log_w.dtype)
  if clip_quantile is not None:
    if not 0.0 < clip_quantile <= 1.0:
      raise ValueError(f"clip_quantile must be in (0, 1], got {clip_quantile!r}")
    finite = jnp.isfinite(log_w)
    # The quantile of the finite weights (the -inf ones are not candidates).
    threshold = jnp.nanquantile(jnp.where(finite, log_w, jnp.nan), clip_quantile)
    clipped_fraction = jnp.mean(log_w > threshold)
    log_w = jnp.minimum(log_w, threshold)
  n = log_w.shape[0]
  iw = _importance(log_w)
  cdf = jnp.cumsum(jax.nn.softmax(log_w))
  if method == "multinomial":
    # As jax.random.choice(p=...): the same draws for the same key.
    u = 1.0 - jax.random.uniform(key, (num_samples,), dtype=cdf.dtype)
  else:
    u = (
      jnp.arange(num_samples, dtype=cdf.dtype) + 1.0 - jax.random.uniform(key, (), dtype=cdf.dtype)
    ) / num_samples
  # u in (0, 1]: the first index whose CDF reaches u * total, so a zero-weight
  # entry (a flat step of the CDF) is never drawn; cdf[-1] may round below 1.
  idx = jnp.searchsorted(cdf, u * cdf[-1], side="left")
  idx = jnp.minimum(idx, n - 1).astype(jnp.int32)
  return Resampled(idx, iw.ess, iw.ess_fraction, clipped_fraction)


# ---------------------------------------------------------------------------
# Annealed importance sampling.
# ---------------------------------------------------------------------------


class AISResult(NamedTuple):
  r"""Result of :func:`ais`.

  Attributes:
    samples: ``[N, d]`` final positions.
    log_weights: ``[N]`` AIS log weights;
      :math:`\operatorname{logsumexp}(\log w) - \log N` estimates
      :math:`\log Z_\gamma - \log Z_q` (unbiased in :math:`Z`).
      Particles whose density became NaN / :math:`-\infty` have :math:`-\infty`.
    log_base: ``[N]`` :math:`\log q` at ``samples``.
    log_target: ``[N]`` :math:`\log\gamma` at ``samples``.
    acceptance_rate: ``[L - 2]`` mean acceptance probability per intermediate
      level (rejected invalid proposals count as 0).
    log_normalizer: :math:`\operatorname{logsumexp}(\log w) - \log N`.
    ess_fraction: Kish ESS of the AIS weights over ``N``.
  """

  samples: jax.Array
  log_weights: jax.Array
  log_base: jax.Array
  log_target: jax.Array
  acceptance_rate: jax.Array
  log_normalizer: jax.Array
  ess_fraction: jax.Array


def _per_point(log_fn: LogDensity) -> Callable:
  """``x [d] -> log_fn(x)`` (a scalar), NaN read as -inf."""

  def single(x):
    v = log_fn(x[None])[0]
    return jnp.where(jnp.isnan(v), -jnp.inf, v)

  return single


def _check_log_density(name: str, log_fn: LogDensity, n: int, d: int, dtype) -> None:
  """Raises naming ``name`` unless ``log_fn`` maps ``[n, d]`` to ``[n]`` (abstractly)."""
  out = jax.eval_shape(log_fn, jax.ShapeDtypeStruct((n, d), dtype))
  shape = getattr(out, "shape", None)
  if shape != (n,):
    raise ValueError(
      f"{name} must map x [N, d] to log densities [N]; on x of shape {(n, d)} it returned "
      f"{'shape ' + str(shape) if shape is not None else type(out).__name__}"
    )


def _check_betas(betas) -> jax.Array:
  b = _checks.floating("betas", betas, min_ndim=1)
  if b.ndim != 1 or b.shape[0] < 2:
    raise ValueError(f"betas must have shape [L] with L >= 2 (0, ..., 1), got {b.shape}")
  if not isinstance(b, jax.core.Tracer):
    v = np.asarray(b)
    if not (v[0] == 0.0 and v[-1] == 1.0 and np.all(np.diff(v) > 0)):
      raise ValueError(
        "betas must increase strictly from 0 to 1, got "
        f"{np.array2string(v, precision=4, threshold=8)}"
      )
  return b


def _blackjax_kernel(kernel: str, inv_mass: jax.Array, num_integration_steps: int):
  """``(transition(key, state, logdensity, step_size), make_state(x, value, grad))``."""
  # Imported here, not at module level: importing blackjax runs JAX code, which
  # starts the backend, and ``import fdiv_jax`` must not (``jax.distributed.
  # initialize`` and the XLA flag of ``_xla_workarounds`` need it not started).
  from blackjax.mcmc import hmc as _hmc
  from blackjax.mcmc import mala as _mala
  from blackjax.mcmc import random_walk as _random_walk

  if kernel == "hmc":
    hmc_kernel = _hmc.build_kernel()

    def transition(k, state, logdensity, eps):
      return hmc_kernel(k, state, logdensity, eps, inv_mass, num_integration_steps)

    return transition, _hmc.HMCState
  if kernel == "mala":
    mala_kernel = _mala.build_kernel()

    def transition(k, state, logdensity, eps):
      return mala_kernel(k, state, logdensity, eps)

    return transition, _mala.MALAState
  rwm_kernel = _random_walk.build_additive_step()

  def transition(k, state, logdensity, eps):
    return rwm_kernel(k, state, logdensity, _random_walk.normal(eps * jnp.sqrt(inv_mass)))

  return transition, lambda x, value, grad: _random_walk.RWState(x, value)


def ais(
  key: jax.Array,
  x0: ArrayLike,
  *,
  log_base: LogDensity,
  log_target: LogDensity,
  betas: ArrayLike,
  kernel: str = "hmc",
  step_size: ArrayLike = 0.1,
  num_integration_steps: int = 5,
  num_mcmc_steps: int = 1,
  inverse_mass_matrix: ArrayLike | None = None,
  alpha: _divergences.Divergence | str | ArrayLike = 1.0,
) -> AISResult:
  r"""Annealed importance sampling along the geometric path from ``log_base`` to ``log_target``.

  With levels :math:`0 = \beta_0 < \beta_1 < \dots < \beta_{L-1} = 1` and
  :math:`\log\pi_k = (1-\beta_k)\log q + \beta_k\log\gamma`, each particle starts
  at :math:`x_0 \sim q`; at every intermediate level :math:`k = 1..L-2` it
  moves by ``num_mcmc_steps`` transitions that leave :math:`\pi_k` invariant
  and its log weight gains :math:`\log\pi_{k+1}(x_k) - \log\pi_k(x_k)`
  (as in fab-jax: :math:`\log w = \sum_{k=0}^{L-2} (\beta_{k+1}-\beta_k)
  (\log\gamma - \log q)(x_k)`). With ``num_mcmc_steps = 0`` or ``L = 2`` this
  is plain importance sampling, :math:`\log w = \log\gamma(x_0) - \log q(x_0)`.

  With ``alpha`` :math:`\neq 1` the path ends at FAB's
  :math:`\gamma_\alpha \propto \gamma^\alpha q^{1-\alpha}` (:func:`alpha_target`):
  :math:`\log\pi_k = (1-\alpha\beta_k)\log q + \alpha\beta_k\log\gamma`, computed
  from the same two evaluations (the flow is not evaluated twice), and
  :math:`\operatorname{logsumexp}(\log w) - \log N` estimates
  :math:`\log\int\gamma^\alpha q^{1-\alpha}`.

  Transitions are blackjax's HMC (``num_integration_steps`` leapfrog steps),
  MALA or Gaussian random-walk Metropolis (``"rwm"``, proposal standard
  deviation ``step_size``; no gradients, fab-jax's choice for GMM-40) kernels,
  one step size per intermediate level. A proposal whose log
  density or gradient is NaN / :math:`\pm\infty` is rejected (the particle
  stays); a particle whose density is :math:`-\infty` or NaN at any level gets
  log weight :math:`-\infty` and never a NaN. Everything is jit-able and
  vmappable over independent runs (keys, ``x0``, step sizes).

  Args:
    key: PRNG key.
    x0: ``[N, d]`` samples of the base.
    log_base: ``x [N, d] -> [N]``, the normalised base log density :math:`\log q`.
    log_target: ``x [N, d] -> [N]``, the target :math:`\log\gamma` (may be unnormalised).
    betas: ``[L]`` levels increasing strictly from 0 to 1 (may be traced; the
      check runs when concrete).
    kernel: ``"hmc"``, ``"mala"`` or ``"rwm"``.
    step_size: Scalar or ``[L - 2]`` per-level step sizes (> 0; traced).
    num_integration_steps: Leapfrog steps per HMC transition (static).
    num_mcmc_steps: Transitions per intermediate level (static, >= 0).
    inverse_mass_matrix: ``[d]`` diagonal inverse mass matrix of HMC (default
      ones); for ``"rwm"`` the proposal variances are ``step_size^2`` times it
      (MALA's blackjax kernel has none: identity).
    alpha: Order of the final target :math:`\gamma^\alpha q^{1-\alpha}` (a number,
      traced array or registry entry, :func:`alpha_of`); 1: ``log_target`` itself.

  Returns:
    :class:`AISResult` (``log_target`` holds :math:`\log\gamma`, not :math:`\log\gamma_\alpha`).
  """
  _checks.one_of("kernel", kernel, KERNELS)
  x0 = _checks.floating("x0", x0, min_ndim=2)
  if x0.ndim != 2:
    raise ValueError(f"x0 must have shape [N, d], got {x0.shape}")
  betas = _check_betas(betas).astype(x0.dtype)
  for name, v, low in (
    ("num_integration_steps", num_integration_steps, 1),
    ("num_mcmc_steps", num_mcmc_steps, 0),
  ):
    if not isinstance(v, (int, np.integer)) or v < low:
      raise ValueError(f"{name} must be an int >= {low}, got {v!r}")
  n, d = x0.shape
  num_levels = betas.shape[0] - 2
  step_size = _checks.positive("step_size", step_size).astype(x0.dtype)
  if step_size.ndim > 1 or (step_size.ndim == 1 and step_size.shape[0] != num_levels):
    raise ValueError(
      f"step_size must be a scalar or have shape [L - 2] = [{num_levels}], got {step_size.shape}"
    )
  step_sizes = jnp.broadcast_to(step_size, (num_levels,))
  inv_mass = (
    jnp.ones((d,), x0.dtype)
    if inverse_mass_matrix is None
    else _checks.positive("inverse_mass_matrix", inverse_mass_matrix).astype(x0.dtype)
  )
  if inv_mass.shape != (d,):
    raise ValueError(f"inverse_mass_matrix must have shape [d] = [{d}], got {inv_mass.shape}")

  a = alpha_of(alpha).astype(x0.dtype)
  _check_log_density("log_base", log_base, n, d, x0.dtype)
  _check_log_density("log_target", log_target, n, d, x0.dtype)
  base, target = _per_point(log_base), _per_point(log_target)
  vg_base, vg_target = jax.value_and_grad(base), jax.value_and_grad(target)

  uses_grad = kernel != "rwm"

  def components(x):
    if uses_grad:
      (lb, gb), (lt, gt) = jax.vmap(vg_base)(x), jax.vmap(vg_target)(x)
    else:
      lb, lt = jax.vmap(base)(x), jax.vmap(target)(x)
      gb = gt = jnp.zeros_like(x)
    return lb, gb, lt, gt

  def path(lb, lt, beta):
    return geometric_path(lb, lt, a * beta)

  def mix(beta, lb, gb, lt, gt):
    """Level-beta log density and gradient from the components (no 0 * inf)."""
    ab = a * beta
    grad = (1.0 - ab) * gb + ab * jnp.where(jnp.isfinite(gt), gt, 0.0)
    return path(lb, lt, beta), grad

  def increment(beta_from, beta_to, lb, lt):
    inc = path(lb, lt, beta_to) - path(lb, lt, beta_from)
    return jnp.where(jnp.isnan(inc), -jnp.inf, inc)

  def add(log_w, inc):
    out = log_w + inc
    return jnp.where(jnp.isnan(out) | (log_w == -jnp.inf), -jnp.inf, out)

  transition, make_state = _blackjax_kernel(kernel, inv_mass, num_integration_steps)

  lb, gb, lt, gt = components(x0)
  log_w = add(jnp.zeros((n,), x0.dtype), increment(betas[0], betas[1], lb, lt))

  def level(carry, inputs):
    x, lb, gb, lt, gt, log_w = carry
    k_level, beta, beta_next, eps = inputs

    def logdensity(y):
      return path(base(y), target(y), beta)

    value, grad = mix(beta, lb, gb, lt, gt)
    states = make_state(x, value, grad)

    def one_step(states, k):
      keys = jax.random.split(k, n)
      new, info = jax.vmap(lambda kk, s: transition(kk, s, logdensity, eps))(keys, states)
      ok = jnp.isfinite(new.logdensity) & jnp.all(jnp.isfinite(new.position), -1)
      if uses_grad:
        ok = ok & jnp.all(jnp.isfinite(new.logdensity_grad), -1)
      states = jax.tree.map(
        lambda a, b: jnp.where(ok.reshape(ok.shape + (1,) * (a.ndim - 1)), a, b), new, states
      )
      acc = jnp.where(ok & jnp.isfinite(info.acceptance_rate), info.acceptance_rate, 0.0)
      return states, jnp.mean(acc)

    if num_mcmc_steps > 0:
      states, acc = jax.lax.scan(one_step, states, jax.random.split(k_level, num_mcmc_steps))
      acc = jnp.mean(acc)
      x = states.position
      lb, gb, lt, gt = components(x)
    else:
      acc = jnp.zeros((), x.dtype)
    log_w = add(log_w, increment(beta, beta_next, lb, lt))
    return (x, lb, gb, lt, gt, log_w), acc

  xs = (jax.random.split(key, num_levels), betas[1:-1], betas[2:], step_sizes)
  (x, lb, _, lt, _, log_w), acceptance = jax.lax.scan(level, (x0, lb, gb, lt, gt, log_w), xs)
  iw = _importance(log_w)
  return AISResult(
    x, log_w, lb, lt, acceptance.astype(x0.dtype), iw.log_normalizer, iw.ess_fraction
  )


def adapt_step_size(
  step_size: ArrayLike, acceptance_rate: ArrayLike, *, target: float = 0.65, factor: float = 1.02
) -> jax.Array:
  r"""FAB's step-size rule between AIS calls, per level.

  :math:`\epsilon \leftarrow \epsilon\cdot c` where the level's acceptance rate
  exceeds ``target``, else :math:`\epsilon / c` (fab-jax: ``c = 1.02``, target
  0.65). Pure; use it on :attr:`AISResult.acceptance_rate` after each call.
  """
  if not 0.0 < target < 1.0:
    raise ValueError(f"target must be in (0, 1), got {target!r}")
  if not factor > 1.0:
    raise ValueError(f"factor must be > 1, got {factor!r}")
  step_size = jnp.asarray(step_size)
  return jnp.where(jnp.asarray(acceptance_rate) > target, step_size * factor, step_size / factor)


# ---------------------------------------------------------------------------
# Prioritised replay buffer.
# ---------------------------------------------------------------------------


class ReplayBuffer(NamedTuple):
  r"""FAB's prioritised replay buffer: a fixed-capacity ring of weighted samples.

  Attributes:
    x: ``[C, d]`` samples (empty slots hold zeros).
    log_w: ``[C]`` log weights; empty or invalidated slots hold :math:`-\infty`
      and are never sampled.
    log_q: ``[C]`` the flow's log density when ``log_w`` was last set.
    index: Next slot to write (int32).
    size: Number of filled slots, up to ``C`` (int32).
  """

  x: jax.Array
  log_w: jax.Array
  log_q: jax.Array
  index: jax.Array
  size: jax.Array


def buffer_init(capacity: int, dim: int, *, dtype=None) -> ReplayBuffer:
  """An empty buffer of ``capacity`` samples of dimension ``dim``.

  ``dtype`` (of samples and log weights) defaults to JAX's default float: float32, or
  float64 under ``jax_enable_x64``.
  """
  dtype = dtype or _checks.float_dtype()
  for name, v in (("capacity", capacity), ("dim", dim)):
    if not isinstance(v, (int, np.integer)) or v < 1:
      raise ValueError(f"{name} must be a positive int, got {v!r}")
  return ReplayBuffer(
    jnp.zeros((capacity, dim), dtype),
    jnp.full((capacity,), -jnp.inf, dtype),
    jnp.zeros((capacity,), dtype),
    jnp.zeros((), jnp.int32),
    jnp.zeros((), jnp.int32),
  )


def buffer_add(
  buffer: ReplayBuffer, x: ArrayLike, log_w: ArrayLike, log_q: ArrayLike
) -> ReplayBuffer:
  r"""Write a batch ``[B, d]`` into the next ``B`` slots, overwriting the oldest.

  Samples with a non-finite ``x``, ``log_w`` or ``log_q`` are stored with
  :math:`\log w = -\infty` (never sampled), so a NaN from the sampler cannot
  reach the loss.
  """
  x = _checks.floating("x", x, min_ndim=2)
  log_w, log_q = jnp.asarray(log_w, buffer.log_w.dtype), jnp.asarray(log_q, buffer.log_q.dtype)
  capacity = buffer.log_w.shape[0]
  if x.ndim != 2 or x.shape[1] != buffer.x.shape[1]:
    raise ValueError(f"x must have shape [B, {buffer.x.shape[1]}], got {x.shape}")
  if log_w.shape != x.shape[:1] or log_q.shape != x.shape[:1]:
    raise ValueError(
      f"log_w and log_q must have shape [B] = [{x.shape[0]}], got {log_w.shape} and {log_q.shape}"
    )
  if x.shape[0] > capacity:
    raise ValueError(f"x holds {x.shape[0]} samples, more than the capacity {capacity}")
  valid = jnp.isfinite(log_w) & jnp.isfinite(log_q) & jnp.all(jnp.isfinite(x), -1)
  slots = (buffer.index + jnp.arange(x.shape[0])) % capacity
  return ReplayBuffer(
    buffer.x.at[slots].set(jnp.where(valid[:, None], x, 0.0).astype(buffer.x.dtype)),
    buffer.log_w.at[slots].set(jnp.where(valid, log_w, -jnp.inf)),
    buffer.log_q.at[slots].set(jnp.where(valid, log_q, 0.0)),
    ((buffer.index + x.shape[0]) % capacity).astype(jnp.int32),
    jnp.minimum(buffer.size + x.shape[0], capacity).astype(jnp.int32),
  )


def buffer_sample(
  key: jax.Array, buffer: ReplayBuffer, num_samples: int
) -> tuple[jax.Array, jax.Array, jax.Array]:
  r"""Draw ``num_samples`` distinct slots with probability :math:`\propto w` (Gumbel top-k).

  Sampling without replacement in proportion to the weights (the Gumbel
  top-k trick, as fab-jax). Fill the buffer with at least ``num_samples``
  valid samples before sampling (FAB keeps a minimum length); otherwise empty
  slots may be drawn.

  Returns:
    ``(x [M, d], log_q [M], indices [M])``, ``log_q`` being the stored (old)
    flow log density needed by :func:`fab_buffer_loss`.
  """
  capacity = buffer.log_w.shape[0]
  if not isinstance(num_samples, (int, np.integer)) or not 1 <= num_samples <= capacity:
    raise ValueError(f"num_samples must be an int in [1, capacity={capacity}], got {num_samples!r}")
  k1, k2 = jax.random.split(key)
  g = jax.random.gumbel(k1, buffer.log_w.shape, buffer.log_w.dtype)
  _, idx = jax.lax.top_k(buffer.log_w + g, num_samples)
  idx = jax.random.permutation(k2, idx)
  return buffer.x[idx], buffer.log_q[idx], idx


def buffer_adjust(
  buffer: ReplayBuffer,
  indices: ArrayLike,
  log_q: ArrayLike,
  *,
  alpha: _divergences.Divergence | str | ArrayLike,
) -> ReplayBuffer:
  r"""Re-weight stored samples for the updated flow (FAB, Midgley et al. 2023, Alg. 2).

  The stored weight targets :math:`p^\alpha q_{\rm old}^{1-\alpha}/q_{\rm old}`;
  for the new flow it becomes
  :math:`\log w \leftarrow \log w + (1-\alpha)(\log q_{\rm new} - \log q_{\rm old})`,
  and ``log_q`` is stored. A non-finite new ``log_q`` invalidates the slot.

  Args:
    buffer: The buffer.
    indices: ``[M]`` slots (from :func:`buffer_sample`).
    log_q: ``[M]`` the current flow's log density at those samples.
    alpha: The order (number, traced array or registry entry, :func:`alpha_of`).
  """
  a = alpha_of(alpha)
  indices = jnp.asarray(indices)
  log_q = jnp.asarray(log_q, buffer.log_q.dtype)
  if log_q.shape != indices.shape:
    raise ValueError(f"log_q must have the shape of indices {indices.shape}, got {log_q.shape}")
  old_w, old_q = buffer.log_w[indices], buffer.log_q[indices]
  new_w = old_w + (1.0 - a) * (log_q - old_q)
  ok = jnp.isfinite(new_w) & jnp.isfinite(log_q)
  return buffer._replace(
    log_w=buffer.log_w.at[indices].set(jnp.where(ok, new_w, -jnp.inf).astype(old_w.dtype)),
    log_q=buffer.log_q.at[indices].set(jnp.where(ok, log_q, 0.0)),
  )


# ---------------------------------------------------------------------------
# FAB losses.
# ---------------------------------------------------------------------------


def fab_loss(log_q: ArrayLike, log_weights: ArrayLike) -> jax.Array:
  r"""FAB's loss on AIS samples (no buffer): :math:`-\sum_i \bar w_i \log q_\theta(x_i)`.

  :math:`\bar w = \mathrm{softmax}(\mathrm{sg}[\log w])` are the self-normalised
  AIS weights towards :math:`\gamma \propto p^\alpha q^{1-\alpha}`
  (:func:`alpha_target`), so the loss estimates :math:`-\mathbb E_\gamma[\log q_\theta]`
  and, for :math:`\alpha > 1`, its gradient is
  :math:`\frac{\alpha}{Z_\gamma}\nabla_\theta D_\alpha(p\|q_\theta)` (positive
  multiple); :math:`\alpha = 1` gives the forward-KL gradient. fab-jax averages
  instead of summing (a factor ``1/N``). Invalid weights count as zero.

  Args:
    log_q: ``[N]`` flow log density at the AIS samples (differentiable in θ).
    log_weights: ``[N]`` AIS log weights (held constant).
  """
  log_q = _checks.floating("log_q", log_q, min_ndim=1)
  log_w = jax.lax.stop_gradient(
    _valid_log_weights(_checks.floating("log_weights", log_weights, min_ndim=1))
  )
  _checks.same_shape("log_q", log_q, "log_weights", log_w)
  w = jax.nn.softmax(log_w, axis=-1)
  return -jnp.sum(jnp.where(w > 0, w * log_q, 0.0), axis=-1)


def fab_buffer_loss(
  log_q: ArrayLike,
  log_q_old: ArrayLike,
  *,
  alpha: _divergences.Divergence | str | ArrayLike,
  max_weight: float = 10.0,
) -> tuple[jax.Array, jax.Array]:
  r"""FAB's loss on samples drawn from the prioritised buffer in proportion to :math:`w`.

  .. math::
    \mathcal L = -\frac1M\sum_i \min\big(e^{(1-\alpha)(\mathrm{sg}[\log q_\theta]
      - \log q_{\rm old})}, c\big)\,\log q_\theta(x_i),

  the correction for the flow having changed since the sample's weight was
  set (fab-jax, ``w_adjust_clip`` ``c = 10``).

  Args:
    log_q: ``[M]`` current flow log density at the buffer samples.
    log_q_old: ``[M]`` the stored log density.
    alpha: The order (number, traced array or registry entry).
    max_weight: Clip ``c`` of the adjustment.

  Returns:
    ``(loss, log_w_adjust)``; pass ``log_q`` (held constant) to :func:`buffer_adjust`.
  """
  a = alpha_of(alpha)
  log_q = _checks.floating("log_q", log_q, min_ndim=1)
  log_q_old = _checks.floating("log_q_old", log_q_old, min_ndim=1)
  _checks.same_shape("log_q", log_q, "log_q_old", log_q_old)
  _checks.positive("max_weight", max_weight)
  log_adjust = (1.0 - a) * (jax.lax.stop_gradient(log_q) - log_q_old)
  w = jnp.minimum(jnp.exp(log_adjust), max_weight)
  w = jnp.where(jnp.isfinite(log_adjust), w, 0.0)
  return -jnp.mean(jnp.where(w > 0, w * log_q, 0.0), axis=-1), log_adjust


# ---------------------------------------------------------------------------
# TA-BG.
# ---------------------------------------------------------------------------


def tabg_level(
  key: jax.Array,
  params,
  opt_state,
  *,
  sample_and_log_prob: Callable,
  log_prob: Callable,
  log_target: LogDensity,
  optimizer: optax.GradientTransformation,
  buffer_size: int,
  batch_size: int,
  num_steps: int,
  clip_quantile: float | None = None,
):
  r"""One TA-BG level: reweight flow samples to the next level, resample, refit.

  Draws ``buffer_size`` samples :math:`x \sim q_\theta` (held constant),
  weights them by :math:`\log w = \log\pi_{\rm next}(x) - \log q_\theta(x)`,
  clips the weights above ``clip_quantile``, resamples a buffer by
  :func:`resample` (multinomial) and takes ``num_steps`` optimiser steps of
  maximum likelihood :math:`-\frac1B\sum\log q_\theta(x_b)` on minibatches drawn
  uniformly from it (Schopmans & Friederich, 2025, Alg. 1).

  Args:
    key: PRNG key.
    params: Flow parameters.
    opt_state: ``optimizer`` state.
    sample_and_log_prob: ``(params, key, n) -> (x [n, d], log_q [n])``.
    log_prob: ``(params, x [B, d]) -> [B]``.
    log_target: ``x [n, d] -> [n]``, the next level's unnormalised log density.
    optimizer: An optax transformation.
    buffer_size: Samples drawn and resampled (static).
    batch_size: Maximum-likelihood minibatch (static).
    num_steps: Optimiser steps (static).
    clip_quantile: Log-weight clipping quantile (TA-BG: 0.999-ish), or None.

  Returns:
    ``(params, opt_state, info)``, ``info`` holding ``loss [num_steps]``,
    ``buffer_ess`` (fraction) and ``clipped_fraction``.
  """
  k_s, k_r, k_t = jax.random.split(key, 3)
  x, log_q = jax.lax.stop_gradient(
    sample_and_log_prob(jax.lax.stop_gradient(params), k_s, buffer_size)
  )
  res = resample(k_r, log_target(x) - log_q, buffer_size, clip_quantile=clip_quantile)
  buffer = x[res.indices]

  def nll(p, k):
    idx = jax.random.randint(k, (batch_size,), 0, buffer_size)
    return -jnp.mean(log_prob(p, buffer[idx]))

  def step(carry, i):
    p, s = carry
    value, grads = jax.value_and_grad(nll)(p, jax.random.fold_in(k_t, i))
    updates, s = optimizer.update(grads, s, p)
    return (optax.apply_updates(p, updates), s), value

  (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), jnp.arange(num_steps))
  return (
    params,
    opt_state,
    {"loss": losses, "buffer_ess": res.ess_fraction, "clipped_fraction": res.clipped_fraction},
  )
