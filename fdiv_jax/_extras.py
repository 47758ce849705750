"""Optional dependencies: each feature's extra, and the error that names it."""

from __future__ import annotations

import importlib

# Feature extra -> the distributions it installs (pyproject's optional-dependencies).
EXTRAS = {
  "flows": ("flax", "distrax"),
  "transport": ("ott",),
  "samplers": ("blackjax",),
}


def require(extra: str, what: str) -> None:
  """Raises an ImportError naming ``pip install "fdiv-jax[<extra>]"`` if a module of
  ``extra`` is missing; ``what`` is the feature that needs it."""
  missing = []
  for module in EXTRAS[extra]:
    try:
      importlib.import_module(module)
    except ImportError:
      missing.append(module)
  if missing:
    raise ImportError(
      f"{what} needs {', '.join(missing)}, which the core install leaves out: "
      f'pip install "fdiv-jax[{extra}]"'
    )
