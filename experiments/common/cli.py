"""Command-line helpers shared by the experiments."""

from __future__ import annotations

import importlib
from typing import Any

import fdiv_jax as fd


def parse_divergence(spec: str) -> fd.Divergence:
  """``"js"`` or ``"alpha:0.5"`` (a family with its parameter) -> registry entry."""
  name, _, arg = spec.partition(":")
  if not arg:
    return fd.get(name)
  if name == "alpha":
    return fd.get(name, alpha=float(arg))
  raise ValueError(f"divergence spec {spec!r}: only 'alpha' takes a parameter")


def divergence_label(spec: str) -> str:
  name, _, arg = spec.partition(":")
  return f"{name}({arg})" if arg else name


def load_config(package: str, name: str) -> Any:
  """``<package>.configs.<name>.get_config()``, with a clear error for typos."""
  try:
    module = importlib.import_module(f"{package}.configs.{name}")
  except ModuleNotFoundError:
    raise ValueError(f"--config {name!r} does not exist under {package}.configs") from None
  return module.get_config()
