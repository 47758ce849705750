"""Annealed importance sampling with blackjax transitions, and step-size adaptation."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from fdiv_jax import _checks, _extras
from fdiv_jax import divergences as _divergences
from fdiv_jax.annealing._paths import alpha_of, geometric_path
from fdiv_jax.annealing._resampling import _importance

LogDensity = Callable[[jax.Array], jax.Array]  # x [N, d] -> [N]
KERNELS = ("hmc", "mala", "rwm")


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
  _extras.require("samplers", "fdiv_jax.annealing.ais")
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
  deviation ``step_size``; no gradients) kernels, one step size per intermediate
  level. A proposal whose log density or gradient is NaN / :math:`\pm\infty` is
  rejected (the particle stays); a particle whose density is :math:`-\infty` or
  NaN at any level gets log weight :math:`-\infty` and never a NaN. Everything is
  jit-able and vmappable over independent runs (keys, ``x0``, step sizes).

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
    An :class:`AISResult` with fields ``samples`` ``[N, d]``, ``log_weights``,
    ``log_base`` and ``log_target`` ``[N]`` (one value per particle),
    ``acceptance_rate`` ``[L - 2]``, and the scalars ``log_normalizer`` and
    ``ess_fraction`` (the particle axis reduced). ``log_target`` holds
    :math:`\log\gamma`, not :math:`\log\gamma_\alpha`.

  References:
    Neal. Annealed importance sampling. Statistics and Computing 2001.
    Midgley et al. Flow annealed importance sampling bootstrap. ICLR 2023 (the
    :math:`\alpha` target and fab-jax's weight increments).
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

  Args:
    step_size: Scalar or ``[L - 2]`` per-level step sizes.
    acceptance_rate: ``[L - 2]`` mean acceptance rate per intermediate level
      (:attr:`AISResult.acceptance_rate`); broadcasts with ``step_size``.
    target: Acceptance rate to adapt towards, in ``(0, 1)``.
    factor: The factor :math:`c > 1`.

  Returns:
    ``[L - 2]`` (the broadcast shape of ``step_size`` and ``acceptance_rate``), the new
    step sizes.

  References:
    Midgley et al. Flow annealed importance sampling bootstrap. ICLR 2023 (reference
    code lollcat/fab-jax).
  """
  if not 0.0 < target < 1.0:
    raise ValueError(f"target must be in (0, 1), got {target!r}")
  if not factor > 1.0:
    raise ValueError(f"factor must be > 1, got {factor!r}")
  step_size = jnp.asarray(step_size)
  return jnp.where(jnp.asarray(acceptance_rate) > target, step_size * factor, step_size / factor)
