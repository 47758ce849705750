"""The registry: names to entries, :func:`get`, :func:`available`, :func:`resolve`."""

from __future__ import annotations

import inspect
from collections.abc import Callable

from jax.typing import ArrayLike

from fdiv_jax.divergences._alpha import _alpha
from fdiv_jax.divergences._entries import (
  _gan,
  _jeffreys,
  _js,
  _kl,
  _neyman,
  _pearson,
  _reverse_kl,
  _squared_hellinger,
  _total_variation,
  _triangular,
)
from fdiv_jax.divergences._record import Divergence

_REGISTRY: dict[str, Callable[..., Divergence]] = {
  "kl": _kl,
  "reverse_kl": _reverse_kl,
  "js": _js,
  "gan": _gan,
  "squared_hellinger": _squared_hellinger,
  "pearson": _pearson,
  "neyman": _neyman,
  "total_variation": _total_variation,
  "jeffreys": _jeffreys,
  "triangular": _triangular,
  "alpha": _alpha,
}


def available() -> tuple[str, ...]:
  """Names accepted by :func:`get`, sorted.

  Returns:
    A sorted tuple of the registry names (``"alpha"``, ``"gan"``, ``"kl"``, ...).
  """
  return tuple(sorted(_REGISTRY))


def get(name: str, **params: ArrayLike) -> Divergence:
  """Returns the registry entry ``name``, with family parameters as keywords.

  A family's parameter may also be given in a spec string, ``"alpha:2"`` (what
  the experiments' configs and command lines use).

  Example:
    >>> import fdiv_jax as fd
    >>> float(fd.divergences.get("kl").f(0.0))
    0.0
    >>> fd.divergences.get("alpha", alpha=0.5).name
    'alpha'
    >>> float(fd.divergences.get("alpha:2").params["alpha"])
    2.0

  Args:
    name: One of :func:`available`, or ``"<family>:<value>"``.
    **params: Family parameters (``alpha`` for ``"alpha"``); may be traced.

  Returns:
    The :class:`Divergence` record of the entry, its family parameters in ``params``.

  Raises:
    ValueError: unknown ``name`` (the message lists the valid names), a family without
      its parameter (``"alpha"`` has no default order), a non-scalar parameter, or a spec
      string whose value is not a number or whose entry takes no parameter.
    TypeError: a parameter the entry does not take.
  """
  if isinstance(name, str) and ":" in name:
    return _from_spec(name, params)
  if not isinstance(name, str) or name not in _REGISTRY:
    raise ValueError(f"unknown divergence {name!r}; valid names: {', '.join(available())}")
  factory = _REGISTRY[name]
  required = [
    p.name
    for p in inspect.signature(factory).parameters.values()
    if p.default is inspect.Parameter.empty and p.name not in params
  ]
  if required:
    example = ", ".join(f"{r}=..." for r in required)
    raise ValueError(
      f"divergence {name!r} needs {', '.join(required)}: get({name!r}, {example}) or a spec "
      f"string such as {name + ':0.5'!r}"
    )
  try:
    return factory(**params)
  except TypeError as e:
    raise TypeError(
      f"divergence {name!r} got unexpected parameters {sorted(params)}: {e}"
    ) from None


def _from_spec(spec: str, params: dict) -> Divergence:
  """``get("alpha:2")``: a family name and its one parameter in a string."""
  base, _, arg = spec.partition(":")
  if base not in _REGISTRY:
    raise ValueError(
      f"divergence spec {spec!r}: unknown divergence {base!r}; valid "
      f"names: {', '.join(available())}"
    )
  if params:
    raise TypeError(
      f"divergence spec {spec!r} already gives the parameter; got also {sorted(params)}"
    )
  names = list(inspect.signature(_REGISTRY[base]).parameters)
  if len(names) != 1:
    raise ValueError(f"divergence spec {spec!r}: {base!r} takes no parameter")
  try:
    value = float(arg)
  except ValueError:
    raise ValueError(f"divergence spec {spec!r}: {arg!r} is not a number") from None
  return get(base, **{names[0]: value})


def resolve(divergence: str | Divergence, **params: ArrayLike) -> Divergence:
  """A :class:`Divergence` from a name (via :func:`get`) or a record itself.

  Args:
    divergence: A name or spec string accepted by :func:`get`, or a :class:`Divergence`
      record (returned unchanged).
    **params: Family parameters passed to :func:`get`; only with a name.

  Returns:
    The :class:`Divergence` record.

  Raises:
    TypeError: ``params`` given with a record.
    ValueError: as for :func:`get`.
  """
  if isinstance(divergence, Divergence):
    if params:
      raise TypeError(
        "parameters can only be given with a divergence name, "
        f"got a Divergence record and {sorted(params)}"
      )
    return divergence
  return get(divergence, **params)
