r"""Optimal-transport discrepancies via OTT (ott-jax); Sinkhorn is never re-implemented.

* :func:`sinkhorn_divergence`: the debiased entropic OT divergence
  :math:`S_\varepsilon(\alpha,\beta) = \mathrm{OT}_\varepsilon(\alpha,\beta)
  - \tfrac12\mathrm{OT}_\varepsilon(\alpha,\alpha) - \tfrac12\mathrm{OT}_\varepsilon(\beta,\beta)`
  (Feydy et al., 2019) between weighted point clouds.
* :func:`sinkhorn_kd_loss`: the batch-wise Sinkhorn knowledge-distillation loss
  (SinKD, Cui et al., 2024).
* :func:`monge_gap`: the Monge gap regulariser of a map (Uscidda & Cuturi, 2023).

Large point clouds. OTT's online ``PointCloud(batch_size=...)`` (which would keep
memory at O(n)) fails on the pinned jax 0.10 / ott-jax 0.6.0 with
``AttributeError: module 'jax.interpreters.batching' has no attribute
'is_vmappable'`` (ott-jax issue 700; checked here). The dense solver stores the
``n x m`` cost matrix (float32: 4 n m bytes, so about n = m = 40 000 on a 24 GiB
machine). Beyond that pass ``rank=r``: OTT's low-rank Sinkhorn (Scetbon et al.,
2021) with the factorised squared-Euclidean cost needs O((n + m) r) memory; on
2 CPU cores n = m = 10^5 in 2-D took 53 s at ``rank=10``, and its value is an
approximation (2.17 vs the full 2.01 at n = 2 000, N(0, I) vs N(1, I), eps 0.1).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from fdiv_jax import _extras

_extras.require("transport", "fdiv_jax.transport")

from ott.geometry import costs, geometry, pointcloud  # noqa: E402
from ott.solvers import linear  # noqa: E402
from ott.solvers.linear import implicit_differentiation as implicit_lib  # noqa: E402
from ott.tools import sinkhorn_divergence as ott_sd  # noqa: E402

from fdiv_jax import _checks  # noqa: E402

__all__ = [
  "TransportResult",
  "monge_gap",
  "sinkhorn_divergence",
  "sinkhorn_kd_loss",
]


class TransportResult(NamedTuple):
  """A transport quantity and the OTT solver output that produced it.

  Attributes:
    value: The scalar (divergence, loss or gap).
    output: OTT's ``SinkhornDivergenceOutput`` or ``SinkhornOutput`` (iterations,
      convergence, couplings).
  """

  value: jax.Array
  output: Any


def _points(name: str, x: ArrayLike) -> jax.Array:
  x = _checks.floating(name, x)
  if x.ndim != 2:
    raise ValueError(f"{name} must be a point cloud of shape [n, dim], got {x.shape}")
  return x


def _weights(name: str, w: ArrayLike | None, n: int, points: str) -> jax.Array | None:
  if w is None:
    return None
  w = _checks.floating(name, w)
  if w.shape != (n,):
    raise ValueError(
      f"{name} must have shape [{n}] (one weight per row of {points}), got {w.shape}"
    )
  return w


def _same_mass(a: jax.Array | None, b: jax.Array | None) -> None:
  """Balanced OT needs equal total masses (None: uniform, mass 1); checked when
  the weights are concrete (under ``jit`` they cannot be)."""
  masses = [1.0 if w is None else w for w in (a, b)]
  if any(isinstance(m, jax.core.Tracer) for m in masses):
    return
  ma, mb = (float(np.sum(np.asarray(m))) for m in masses)
  if not np.isclose(ma, mb, rtol=1e-4, atol=1e-6):
    raise ValueError(
      f"a and b must have the same total mass (balanced OT; None means "
      f"uniform weights summing to 1), got sum(a) = {ma:.6g}, "
      f"sum(b) = {mb:.6g}"
    )


def _solve_kwargs(threshold, max_iterations, implicit_diff, rank) -> dict[str, Any]:
  kwargs: dict[str, Any] = dict(threshold=threshold, max_iterations=max_iterations)
  if rank is not None:
    kwargs["rank"] = int(rank)
  else:
    kwargs["implicit_diff"] = implicit_lib.ImplicitDiff() if implicit_diff else None
  return kwargs


def sinkhorn_divergence(
  x: ArrayLike,
  y: ArrayLike,
  *,
  epsilon: ArrayLike,
  a: ArrayLike | None = None,
  b: ArrayLike | None = None,
  cost_fn: costs.CostFn | None = None,
  scale_cost: float | str = 1.0,
  threshold: float = 1e-3,
  max_iterations: int = 2000,
  implicit_diff: bool = True,
  rank: int | None = None,
) -> TransportResult:
  r"""Debiased Sinkhorn divergence between two weighted point clouds (via OTT).

  .. math::
    S_\varepsilon(\alpha, \beta) = \mathrm{OT}_\varepsilon(\alpha, \beta)
      - \tfrac12 \mathrm{OT}_\varepsilon(\alpha, \alpha)
      - \tfrac12 \mathrm{OT}_\varepsilon(\beta, \beta),
    \quad \alpha = \sum_i a_i \delta_{x_i},\; \beta = \sum_j b_j \delta_{y_j},

  with :math:`\mathrm{OT}_\varepsilon` the entropic OT cost for ``cost_fn``
  (squared Euclidean by default). :math:`S_\varepsilon \ge 0`, zero iff
  :math:`\alpha = \beta`, and interpolates between OT (:math:`\varepsilon\to 0`)
  and MMD (:math:`\varepsilon\to\infty`).

  ``epsilon`` may be a traced array: sweeping it (or ``vmap`` over it) does not
  recompile. Gradients use implicit differentiation of the Sinkhorn fixed
  point by default (memory independent of the iteration count); with
  ``implicit_diff=False`` they unroll the loop. OTT stops the gradient through
  ``epsilon``.

  Example:
    >>> import jax.numpy as jnp
    >>> x = jnp.array([[0.0], [1.0]])
    >>> value, out = sinkhorn_divergence(x, x, epsilon=0.1)
    >>> round(float(value), 4)
    0.0

  Args:
    x: Points ``[n, dim]``.
    y: Points ``[m, dim]``.
    epsilon: Entropic regularisation, > 0 (scalar, may be traced).
    a: Weights of ``x``, ``[n]`` (uniform if None); must sum like ``b``
      (``ValueError`` when both are concrete and do not).
    b: Weights of ``y``, ``[m]`` (uniform if None).
    cost_fn: An OTT ``CostFn``; ``costs.SqEuclidean()`` if None.
    scale_cost: OTT's cost rescaling (a float divides the cost, or
      ``"mean"`` / ``"max_cost"`` / ``"median"``).
    threshold: Marginal-error tolerance at which Sinkhorn stops.
    max_iterations: Iteration cap (the ``converged`` flags say if it was hit).
    implicit_diff: Implicit (True) or unrolled (False) gradients.
    rank: If given, OTT's low-rank solver of this rank (large n, O(n r) memory;
      see the module docstring).

  Returns:
    :class:`TransportResult` ``(value, output)``: the scalar divergence and OTT's
    ``SinkhornDivergenceOutput``, whose ``n_iters`` and ``converged`` hold one
    entry per OT problem (xy, xx, yy).

  Raises:
    ValueError: bad shapes, a concrete ``epsilon <= 0``, ``rank < 1``, or concrete
      weights of different total mass.

  References:
    Feydy, Sejourne, Vialard, Amari, Trouve, Peyre. Interpolating between
    optimal transport and MMD using Sinkhorn divergences. AISTATS 2019.
    Cuturi et al. Optimal Transport Tools (OTT). 2022.
  """
  x, y = _points("x", x), _points("y", y)
  if x.shape[1] != y.shape[1]:
    raise ValueError(
      f"x and y must have the same dimension, got x.shape={x.shape} and y.shape={y.shape}"
    )
  epsilon = _checks.positive("epsilon", epsilon)
  a = _weights("a", a, x.shape[0], "x")
  b = _weights("b", b, y.shape[0], "y")
  if rank is not None and rank < 1:
    raise ValueError(f"rank must be a positive integer, got {rank}")
  _same_mass(a, b)
  value, output = _sinkhorn_divergence(
    x,
    y,
    a,
    b,
    costs.SqEuclidean() if cost_fn is None else cost_fn,
    epsilon,
    scale_cost=scale_cost,
    threshold=threshold,
    max_iterations=max_iterations,
    implicit_diff=implicit_diff,
    rank=rank,
  )
  return TransportResult(value, output)


# The OTT solves below are compiled as one program per static configuration:
# called eagerly, OTT would otherwise dispatch (and compile) op by op, about 3x
# slower on a CPU; inside a user's jit they are inlined as usual.
@functools.partial(
  jax.jit, static_argnames=("scale_cost", "threshold", "max_iterations", "implicit_diff", "rank")
)
def _sinkhorn_divergence(
  x, y, a, b, cost_fn, epsilon, *, scale_cost, threshold, max_iterations, implicit_diff, rank
):
  return ott_sd.sinkhorn_divergence(
    pointcloud.PointCloud,
    x,
    y,
    a=a,
    b=b,
    cost_fn=cost_fn,
    epsilon=epsilon,
    scale_cost=scale_cost,
    solve_kwargs=_solve_kwargs(threshold, max_iterations, implicit_diff, rank),
  )


def sinkhorn_kd_loss(
  student_logits: ArrayLike,
  teacher_logits: ArrayLike,
  *,
  temperature: ArrayLike = 1.0,
  epsilon: ArrayLike = 0.1,
  threshold: float = 1e-3,
  max_iterations: int = 500,
  implicit_diff: bool = False,
) -> TransportResult:
  r"""Batch-wise Sinkhorn knowledge-distillation loss (SinKD).

  Rows of the batch are points: :math:`s_i = \mathrm{softmax}(z^S_i / T)`,
  :math:`t_j = \mathrm{softmax}(z^T_j / T)`, with the L1 cost
  :math:`C_{ij} = \|s_i - t_j\|_1 \in [0, 2]` between student row ``i`` and
  teacher row ``j``. With uniform marginals :math:`\frac1B\mathbf 1` the
  entropic plan :math:`P^\star` is found by OTT's Sinkhorn and the loss is its
  transport cost

  .. math::
    \mathcal L = \langle P^\star, C\rangle = \sum_{ij} P^\star_{ij} C_{ij}.

  Scaling with batch size: :math:`P^\star` has total mass 1, so the loss is a
  *mean* matched L1 distance in ``[0, 2]``, of the same order for any ``B``
  (the paper's choice of marginals; we do not multiply by ``B``). Unlike a
  row-wise KL it compares each student row with every teacher row, so it is
  defined for the whole batch, not per example. The teacher is under
  ``stop_gradient``. ``epsilon`` is relative to the L1 cost scale ``[0, 2]``.

  Gradients unroll the Sinkhorn loop by default: at small ``epsilon`` the plan is close
  to a permutation and the linear system of implicit differentiation is near-singular.
  Unrolling dominates the cost (``benchmarks/README.md`` gives it against a row-wise KL).

  Args:
    student_logits: ``[B, C]``.
    teacher_logits: ``[B, C]``.
    temperature: Softmax temperature, > 0.
    epsilon: Entropic regularisation, > 0.
    threshold: Sinkhorn tolerance.
    max_iterations: Sinkhorn iteration cap.
    implicit_diff: Implicit (True) or unrolled (False, default) gradients.

  Returns:
    :class:`TransportResult` ``(value, output)``: the scalar loss and OTT's
    ``SinkhornOutput``.

  References:
    Cui, Lin, Liu, et al. SinKD: Sinkhorn Distance Minimization for Knowledge
    Distillation. IEEE TNNLS 2024 (arXiv:2402.17110).
  """
  s = _checks.floating("student_logits", student_logits)
  t = _checks.floating("teacher_logits", teacher_logits)
  if s.ndim != 2:
    raise ValueError(f"student_logits must have shape [batch, classes], got {s.shape}")
  _checks.same_shape("student_logits", s, "teacher_logits", t)
  temperature = _checks.positive("temperature", temperature)
  epsilon = _checks.positive("epsilon", epsilon)
  return TransportResult(
    *_sinkhorn_kd_loss(
      s,
      t,
      temperature,
      epsilon,
      threshold=threshold,
      max_iterations=max_iterations,
      implicit_diff=implicit_diff,
    )
  )


@functools.partial(jax.jit, static_argnames=("threshold", "max_iterations", "implicit_diff"))
def _sinkhorn_kd_loss(s, t, temperature, epsilon, *, threshold, max_iterations, implicit_diff):
  ps = jax.nn.softmax(s / temperature, axis=-1)
  pt = jax.nn.softmax(jax.lax.stop_gradient(t) / temperature, axis=-1)
  cost = jnp.sum(jnp.abs(ps[:, None, :] - pt[None, :, :]), axis=-1)
  geom = geometry.Geometry(cost_matrix=cost, epsilon=epsilon)
  out = linear.solve(geom, **_solve_kwargs(threshold, max_iterations, implicit_diff, None))
  return jnp.sum(out.matrix * cost), out


def monge_gap(
  map_fn,
  reference_points: ArrayLike,
  *,
  epsilon: ArrayLike,
  cost_fn: costs.CostFn | None = None,
  threshold: float = 1e-3,
  max_iterations: int = 2000,
) -> TransportResult:
  r"""Monge gap of a map on reference points (OTT's Sinkhorn).

  .. math::
    \mathcal M_\rho(T) = \frac1n\sum_i c(x_i, T(x_i))
      - W_{c,\varepsilon}\Big(\frac1n\sum_i\delta_{x_i},
        \frac1n\sum_i\delta_{T(x_i)}\Big) \;\gtrsim 0,

  zero (up to entropic bias) iff ``T`` is c-optimal between the reference
  measure and its push-forward; use it as a regulariser when fitting maps.

  Args:
    map_fn: ``T``, mapping ``[n, dim] -> [n, dim]``.
    reference_points: ``x``, ``[n, dim]``.
    epsilon: Entropic regularisation, > 0.
    cost_fn: OTT ``CostFn`` (squared Euclidean if None).
    threshold: Sinkhorn tolerance.
    max_iterations: Sinkhorn iteration cap.

  Returns:
    :class:`TransportResult` ``(value, output)``: the gap and OTT's ``SinkhornOutput``.

  References:
    Uscidda & Cuturi. The Monge Gap: A Regularizer to Learn All Transport
    Maps. ICML 2023.
  """
  x = _points("reference_points", reference_points)
  epsilon = _checks.positive("epsilon", epsilon)
  y = map_fn(x)
  if y.shape != x.shape:
    raise ValueError(f"map_fn must preserve the shape {x.shape}, returned {y.shape}")
  # As ott.neural.methods.monge_gap.monge_gap_from_samples, which we do not
  # import: ott.neural pulls in optional dependencies (diffrax).
  return TransportResult(
    *_monge_gap(
      x,
      y,
      costs.SqEuclidean() if cost_fn is None else cost_fn,
      epsilon,
      threshold=threshold,
      max_iterations=max_iterations,
    )
  )


@functools.partial(jax.jit, static_argnames=("threshold", "max_iterations"))
def _monge_gap(x, y, cost_fn, epsilon, *, threshold, max_iterations):
  geom = pointcloud.PointCloud(x, y, cost_fn=cost_fn, epsilon=epsilon)
  out = linear.solve(geom, threshold=threshold, max_iterations=max_iterations)
  displacement = jnp.mean(jax.vmap(cost_fn)(x, y))
  return displacement - out.ent_reg_cost, out
