"""Static (trace-time) argument checks shared by the estimators."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike


def float_dtype(*values: ArrayLike) -> jnp.dtype:
  """The floating dtype to compute in: the inputs' promoted floating dtype, or JAX's
  default float (float32; float64 under ``jax_enable_x64``) for ints, bools and Python
  numbers. Never narrows a float64 input, never hard-codes float32."""
  # Lists and tuples of numbers count as arrays (result_type cannot read them).
  values = [jnp.asarray(v) if isinstance(v, (list, tuple)) else v for v in values]
  return jnp.result_type(*values, float)


def floating(name: str, x: ArrayLike, *, min_ndim: int = 0) -> jax.Array:
  """``x`` as a floating array; raises naming ``name`` on bad dtype / rank."""
  if not hasattr(x, "dtype"):
    x = jnp.asarray(x)
  x = jnp.asarray(x)
  if jnp.issubdtype(x.dtype, jnp.integer) or jnp.issubdtype(x.dtype, jnp.bool_):
    x = x.astype(float_dtype(x))
  elif not jnp.issubdtype(x.dtype, jnp.floating):
    raise TypeError(f"{name} must be a real floating array, got dtype {x.dtype}")
  if x.ndim < min_ndim:
    raise ValueError(
      f"{name} must have at least {min_ndim} dimension(s) (a sample axis), got shape {x.shape}"
    )
  return x


def same_shape(name_a: str, a: jax.Array, name_b: str, b: jax.Array) -> None:
  """Raises ``ValueError`` naming both arguments if their shapes differ."""
  if a.shape != b.shape:
    raise ValueError(
      f"{name_a} and {name_b} must have the same shape, got "
      f"{name_a}.shape={a.shape} and {name_b}.shape={b.shape}"
    )


def same_batch(name_a: str, a: jax.Array, name_b: str, b: jax.Array) -> None:
  """Raises if the leading (batch) dims of ``a`` and ``b`` (all but the last) differ."""
  if a.shape[:-1] != b.shape[:-1]:
    raise ValueError(
      f"{name_a} and {name_b} must share their batch dimensions (all but the "
      f"last, sample, axis), got {name_a}.shape={a.shape} and "
      f"{name_b}.shape={b.shape}"
    )


def _bounded(name: str, value: ArrayLike, ok, rule: str) -> jax.Array:
  """``value`` as a float array; raises if it is concrete and ``ok`` fails
  somewhere (a traced value cannot be checked: the caller documents that)."""
  arr = jnp.asarray(value, dtype=float_dtype(value))
  if not isinstance(arr, jax.core.Tracer):
    if not np.all(ok(np.asarray(arr))):  # numpy: jnp ops stage under jit
      raise ValueError(f"{name} must be {rule}, got {value!r}")
  return arr


def positive(name: str, value: ArrayLike) -> jax.Array:
  """``value`` as a float array; raises if it is concrete and not > 0."""
  return _bounded(name, value, lambda a: a > 0, "> 0")


def at_least(name: str, value: ArrayLike, bound: float) -> jax.Array:
  """``value`` as a float array; raises if it is concrete and not >= ``bound``."""
  return _bounded(name, value, lambda a: a >= bound, f">= {bound:g}")


def interval(name: str, value, *, positive: bool = False) -> tuple[float, float]:
  """A concrete ``(lo, hi)`` with ``lo < hi`` (and ``lo > 0`` if ``positive``)."""
  try:
    lo, hi = (float(v) for v in value)
  except (TypeError, ValueError):
    raise ValueError(f"{name} must be a pair (lo, hi) of numbers, got {value!r}") from None
  if not lo < hi or (positive and not lo > 0):
    rule = "0 < lo < hi" if positive else "lo < hi"
    raise ValueError(f"{name} must be (lo, hi) with {rule}, got {value!r}")
  return lo, hi


def one_of(name: str, value: str, options: tuple[str, ...]) -> str:
  """Raises ``ValueError`` if ``value`` is not among ``options``."""
  if value not in options:
    raise ValueError(f"{name} must be one of {options}, got {value!r}")
  return value


def integer(name: str, value, minimum: int) -> int:
  """``value`` as an int, or a ValueError naming ``name`` unless it is an int >= ``minimum``."""
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
    raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
  return int(value)


def samples(name: str, x: ArrayLike, sample_axis: int) -> jax.Array:
  """``x`` as a floating array with at least one sample on ``sample_axis`` (a user's
  ``axis=``), that axis moved last; raises naming ``name`` or ``axis``."""
  x = floating(name, x, min_ndim=1)
  sample_axis = axis("axis", sample_axis, x.ndim)
  if x.shape[sample_axis] == 0:
    raise ValueError(
      f"{name} needs at least one sample on the sample axis {sample_axis}, got shape {x.shape}"
    )
  return jnp.moveaxis(x, sample_axis, -1)


def axis(name: str, value, ndim: int) -> int:
  """``value`` as a non-negative axis of an ``ndim``-dimensional array; raises naming ``name``."""
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
    raise TypeError(f"{name} must be an int (the sample axis), got {value!r}")
  if not -ndim <= value < ndim:
    raise ValueError(f"{name}={value} is out of range for an array of {ndim} dimension(s)")
  return int(value) % ndim
