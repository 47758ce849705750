r"""f-divergences between categorical distributions given logits (distillation losses).

For probability vectors :math:`p, q` over ``C`` classes,

.. math::
  D_f(p\|q) = \sum_c q_c\, f\!\left(\frac{p_c}{q_c}\right),

computed from ``log_softmax`` outputs. Each class term is evaluated as
:math:`q_c f(e^{l_c})` where :math:`l_c = \log p_c - \log q_c \le 0` and as
:math:`p_c f^\diamond(e^{-l_c})` (the Csiszar dual,
:meth:`~fdiv_jax.divergences.Divergence.reversed`) where :math:`l_c > 0`, so
no ``0 * inf`` appears and values and gradients stay finite for logits of
magnitude 1e4. A class whose probability underflows to 0 in both
distributions contributes 0.

Knowledge distillation (:func:`kd_loss`) uses ``P = teacher`` and
``Q = student``: ``"kl"`` is the usual forward KL(teacher || student) of
Hinton et al., ``"reverse_kl"`` is KL(student || teacher) as in MiniLLM (Gu et
al., 2024), ``"js"``, ``"total_variation"`` and ``"alpha"`` are as in the
registry.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from fdiv_jax import _checks
from fdiv_jax import math as fmath
from fdiv_jax.divergences import Divergence, resolve

__all__ = [
  "balanced_kd_loss",
  "entropy",
  "f_divergence",
  "kd_loss",
  "mutual_kd_loss",
]


def f_divergence(
  logits_p: ArrayLike,
  logits_q: ArrayLike,
  *,
  divergence: str | Divergence,
  temperature: ArrayLike = 1.0,
) -> jax.Array:
  r"""Per-row :math:`D_f(\mathrm{softmax}(z_p/T)\,\|\,\mathrm{softmax}(z_q/T))`.

  Example:
    >>> import jax.numpy as jnp
    >>> z = jnp.array([[1.0, 2.0, 3.0]])
    >>> f_divergence(z, z, divergence="kl").tolist()
    [0.0]

  Args:
    logits_p: ``[..., C]``.
    logits_q: ``[..., C]``.
    divergence: Registry name or record.
    temperature: Softmax temperature, > 0.

  Returns:
    ``[...]`` (the class axis reduced).
  """
  div = resolve(divergence)
  zp = _checks.floating("logits_p", logits_p, min_ndim=1)
  zq = _checks.floating("logits_q", logits_q, min_ndim=1)
  _checks.same_shape("logits_p", zp, "logits_q", zq)
  temperature = _checks.positive("temperature", temperature)
  log_p = jax.nn.log_softmax(zp / temperature, axis=-1)
  log_q = jax.nn.log_softmax(zq / temperature, axis=-1)
  log_u = log_p - log_q
  below = log_u <= 0
  l_below = jnp.where(below, log_u, 0.0)
  l_above = jnp.where(below, 0.0, log_u)
  q, p = jnp.exp(log_q), jnp.exp(log_p)
  # f(l) may be inf where the weight underflowed to 0: never evaluated there.
  from_q = fmath.double_where(q > 0, lambda l: q * div.f(l), l_below, safe=0.0, otherwise=0.0)
  from_p = fmath.double_where(
    p > 0, lambda l: p * div.reversed().f(l), -l_above, safe=0.0, otherwise=0.0
  )
  terms = jnp.where(below, from_q, from_p)
  # A NaN logit makes its row NaN (the weight tests above would read it as p = 0).
  return jnp.sum(jnp.where(jnp.isnan(log_u), jnp.nan, terms), axis=-1)


def kd_loss(
  student_logits: ArrayLike,
  teacher_logits: ArrayLike,
  *,
  divergence: str | Divergence = "kl",
  temperature: ArrayLike = 1.0,
  where: ArrayLike | None = None,
  axis: int | tuple[int, ...] | None = None,
  scale_by_temperature_squared: bool = True,
) -> jax.Array:
  r"""Distillation loss :math:`T^2\, D_f(p_T\,\|\,p_S)` on temperature-softened logits.

  .. math::
    \mathcal L_i = T^2 \sum_c p^S_{ic}\,
      f\!\left(\frac{p^T_{ic}}{p^S_{ic}}\right), \quad
    p^{T}_{i} = \mathrm{softmax}(z^T_i / T),\;
    p^{S}_{i} = \mathrm{softmax}(z^S_i / T),

  with the teacher under ``stop_gradient``. The :math:`T^2` factor (Hinton et
  al., 2015) keeps gradient magnitudes comparable across temperatures; turn it
  off with ``scale_by_temperature_squared=False``.

  Axes: the class axis is the last; the example (token) axes ``[...]`` before it are
  averaged over ``axis`` with weights :math:`w_i` = ``where``,
  :math:`\sum_i w_i \mathcal L_i / \sum_i w_i` (0 when every weight is 0). For LM logits
  ``[B, L, V]`` with a padding mask ``[B, L]``: ``axis=None`` is the mean over every real
  token, ``axis=-1`` the per-sequence means ``[B]``, ``axis=()`` the per-token values
  ``[B, L]`` (0 at padding); per-sequence sums are
  ``(where * kd_loss(..., where=where, axis=())).sum(-1)``.

  Example:
    >>> import jax.numpy as jnp
    >>> s, t = jnp.zeros((2, 3, 4)), jnp.ones((2, 3, 4)).at[..., 0].set(3.0)
    >>> pad = jnp.array([[1, 1, 0], [1, 0, 0]], bool)
    >>> kd_loss(s, t, where=pad, axis=-1).shape
    (2,)

  Args:
    student_logits: ``[..., C]``.
    teacher_logits: ``[..., C]``.
    divergence: Registry name or record (P = teacher, Q = student).
    temperature: > 0.
    where: ``[...]`` booleans or non-negative weights; all ones if None. Rows of weight 0
      (padding) are dropped before the loss: their logits may be ``-inf`` or NaN.
    axis: The example axes of ``[...]`` to average over; None for all of them, ``()`` for
      none (per-example values).
    scale_by_temperature_squared: Multiply by :math:`T^2`.

  Returns:
    ``[...]`` without the axes in ``axis`` (a scalar for ``axis=None``).

  References:
    Hinton, Vinyals, Dean. Distilling the Knowledge in a Neural Network. 2015.
    Gu, Dong, Wei, Huang. MiniLLM: Knowledge Distillation of Large Language
    Models. ICLR 2024. Wen et al. f-Divergence Minimization for
    Sequence-Level Knowledge Distillation. ACL 2023.
  """
  student = _checks.floating("student_logits", student_logits, min_ndim=1)
  teacher = jax.lax.stop_gradient(_checks.floating("teacher_logits", teacher_logits, min_ndim=1))
  axes = _example_axes(axis, student.ndim - 1)
  where = _weights(where, student.shape[:-1], student.dtype)
  student, teacher = _drop_masked_rows(where, student), _drop_masked_rows(where, teacher)
  per_token = f_divergence(teacher, student, divergence=divergence, temperature=temperature)
  if scale_by_temperature_squared:
    per_token = per_token * jnp.square(jnp.asarray(temperature, per_token.dtype))
  return _weighted_mean(per_token, where, axes)


def _example_axes(axis, ndim: int) -> tuple[int, ...]:
  """``axis`` (None, an int or a tuple of ints) as sorted non-negative example axes."""
  if axis is None:
    return tuple(range(ndim))
  axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
  axes = tuple(_checks.axis("axis", a, ndim) for a in axes)
  if len(set(axes)) != len(axes):
    raise ValueError(f"axis={axis!r} repeats an axis")
  return tuple(sorted(axes))


def _weights(where: ArrayLike | None, shape: tuple[int, ...], dtype) -> jax.Array | None:
  """``where`` as non-negative float weights of ``shape`` (the logits' leading axes)."""
  if where is None:
    return None
  where = jnp.asarray(where)
  if not (jnp.issubdtype(where.dtype, jnp.bool_) or jnp.issubdtype(where.dtype, jnp.number)):
    raise TypeError(f"where must be booleans or non-negative weights, got dtype {where.dtype}")
  if where.shape != shape:
    raise ValueError(
      f"where must have shape {shape} (the logits without their class axis), got {where.shape}"
    )
  return where.astype(dtype)


def _drop_masked_rows(where: jax.Array | None, logits: jax.Array) -> jax.Array:
  """Zeros the rows of weight 0, so that padding (-inf or NaN logits) reaches neither the
  loss nor its gradient."""
  if where is None:
    return logits
  return jnp.where((where > 0)[..., None], logits, 0.0)


def _weighted_mean(values: jax.Array, where: jax.Array | None, axes: tuple[int, ...]):
  """The weighted mean sum_i w_i v_i / sum_i w_i over ``axes`` (0 where every weight is 0)."""
  if where is None:
    total = jnp.asarray(np.prod([values.shape[a] for a in axes]), values.dtype)
    return jnp.sum(values, axis=axes) / total
  weighted = jnp.where(where > 0, values * where, 0.0)
  total = jnp.sum(where, axis=axes)
  return jnp.sum(weighted, axis=axes) / jnp.where(total > 0, total, 1.0)


def entropy(logits: ArrayLike, *, temperature: ArrayLike = 1.0) -> jax.Array:
  r"""Shannon entropy :math:`H = -\sum_c p_c \log p_c` of ``softmax(z / T)``, ``[...]``.

  Computed from ``log_softmax`` (classes with :math:`p_c = 0` contribute 0).

  Args:
    logits: Logits :math:`z`, ``[..., C]`` (classes on the last axis).
    temperature: Softmax temperature :math:`T`, > 0.

  Returns:
    ``[...]``, one value per example (the class axis summed).
  """
  z = _checks.floating("logits", logits, min_ndim=1)
  temperature = _checks.positive("temperature", temperature)
  log_p = jax.nn.log_softmax(z / temperature, axis=-1)
  p = jnp.exp(log_p)
  return -jnp.sum(jnp.where(p > 0, p * log_p, 0.0), axis=-1)


def balanced_kd_loss(
  student_logits: ArrayLike,
  teacher_logits: ArrayLike,
  *,
  temperature: ArrayLike = 1.0,
  forward_weight: ArrayLike = 1.0,
  reverse_weight: ArrayLike = 1.0,
  balance: ArrayLike = 2.0,
  where: ArrayLike | None = None,
  axis: int | tuple[int, ...] | None = None,
) -> jax.Array:
  r"""BD-KD: forward and reverse KL, re-weighted per example by the entropy gap.

  .. math::
    \mathcal L_i = T^2\big[\lambda^f_i\,\mathrm{KL}(p^T_i\|p^S_i)
      + \lambda^r_i\,\mathrm{KL}(p^S_i\|p^T_i)\big],\qquad
    (\lambda^f_i, \lambda^r_i) =
    \begin{cases}
      (a, \beta\, b) & H(p^S_i) > H(p^T_i) \text{ (student under-confident)}\\
      (\beta\, a, b) & \text{otherwise (student over-confident)}
    \end{cases}

  with ``a = forward_weight``, ``b = reverse_weight`` and ``beta = balance``.
  Reverse KL is mode-seeking: boosting it where the student is flatter than
  the teacher sharpens the student; forward KL is mass-covering: boosting it
  where the student is sharper than the teacher softens it. This is the
  sample-wise balancing of Amara et al. (2022) as an offline-KD loss (the
  teacher is under ``stop_gradient``; the online variant's teacher-side term is
  the caller's). ``balance = 1`` gives the plain sum
  ``a KL(T||S) + b KL(S||T)``. The entropies are under ``stop_gradient``:
  they select weights and are not optimised.

  Args:
    student_logits: ``[..., C]``.
    teacher_logits: ``[..., C]``.
    temperature: > 0.
    forward_weight: ``a`` >= 0.
    reverse_weight: ``b`` >= 0.
    balance: ``beta`` >= 1 applied to the divergence chosen by the entropy gap
      (a concrete value below 1 raises ``ValueError``; a traced one is not checked).
    where: ``[...]`` booleans or non-negative weights; all ones if None (as :func:`kd_loss`).
    axis: The example axes to average over (as :func:`kd_loss`); None for all of them.

  Returns:
    ``[...]`` without the axes in ``axis`` (a scalar for ``axis=None``).

  References:
    Amara, Sepahvand, Meyer, Gross, Clark. BD-KD: Balancing the Divergences
    for Online Knowledge Distillation. arXiv:2212.12965.
  """
  student = _checks.floating("student_logits", student_logits, min_ndim=1)
  teacher = _checks.floating("teacher_logits", teacher_logits, min_ndim=1)
  axes = _example_axes(axis, student.ndim - 1)
  where = _weights(where, student.shape[:-1], student.dtype)
  student, teacher = _drop_masked_rows(where, student), _drop_masked_rows(where, teacher)
  kw = dict(temperature=temperature, axis=())
  fwd = kd_loss(student, teacher, divergence="kl", **kw)
  rev = kd_loss(student, teacher, divergence="reverse_kl", **kw)
  h_s = jax.lax.stop_gradient(entropy(student, temperature=temperature))
  h_t = jax.lax.stop_gradient(entropy(teacher, temperature=temperature))
  flatter = h_s > h_t
  balance = _checks.at_least("balance", balance, 1.0).astype(fwd.dtype)
  lam_f = forward_weight * jnp.where(flatter, 1.0, balance)
  lam_r = reverse_weight * jnp.where(flatter, balance, 1.0)
  return _weighted_mean(lam_f * fwd + lam_r * rev, where, axes)


def mutual_kd_loss(
  peer_logits: ArrayLike,
  *,
  loss: Callable[[jax.Array, jax.Array], jax.Array] | None = None,
  divergence: str | Divergence = "kl",
  temperature: ArrayLike = 1.0,
) -> jax.Array:
  r"""Deep mutual learning: every peer distils from the others, under ``stop_gradient``.

  .. math::
    \mathcal L = \sum_{i=1}^{P} \frac{1}{P - 1} \sum_{j \ne i}
      \ell\big(s_i;\ \mathrm{sg}(s_j)\big),

  with :math:`\ell(s; t)` = :func:`kd_loss` ``(s, t, divergence=divergence,
  temperature=temperature)``, or ``loss(s, t)`` when given (e.g.
  :func:`balanced_kd_loss` for BD-KD's online setting). Each peer's gradient is
  its own distillation term's only (the others are its fixed teachers), so one
  optimiser step on the sum updates every peer as in Zhang et al.; add each
  peer's supervised loss yourself.

  Example:
    >>> import jax.numpy as jnp
    >>> z = jnp.array([[[2.0, 0.0]], [[0.0, 2.0]]])  # 2 peers, 1 example, 2 classes
    >>> float(mutual_kd_loss(z)) > 0
    True

  Args:
    peer_logits: ``[P, ..., C]``, ``P >= 2`` peers' logits on the same inputs.
    loss: ``(student_logits [..., C], teacher_logits [..., C]) -> scalar``; default
      :func:`kd_loss` with ``divergence`` and ``temperature``.
    divergence: Registry divergence of the default ``loss``.
    temperature: Softmax temperature of the default ``loss``, > 0.

  Returns:
    A scalar: the sum over peers of the mean over their teachers.

  References:
    Zhang, Xiang, Hospedales, Lu. Deep Mutual Learning. CVPR 2018.
    Amara et al. BD-KD: Balancing the Divergences for Online Knowledge
    Distillation. arXiv:2212.12965.
  """
  z = jnp.asarray(peer_logits)
  if z.ndim < 2 or z.shape[0] < 2:
    raise ValueError(f"peer_logits must be [P, ..., C] with P >= 2 peers, got shape {z.shape}")
  if loss is None:

    def loss(s, t):
      return kd_loss(s, t, divergence=divergence, temperature=temperature)

  peers = z.shape[0]
  total = 0.0
  for i in range(peers):
    terms = [loss(z[i], jax.lax.stop_gradient(z[j])) for j in range(peers) if j != i]
    total = total + sum(terms) / (peers - 1)
  return total
