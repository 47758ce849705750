"""Command-line helpers shared by the experiments."""

from __future__ import annotations

import importlib
import os
from typing import Any

import fdiv_jax as fd


def parse_divergence(spec: str) -> fd.Divergence:
  """``"js"`` or ``"alpha:0.5"`` (a family with its parameter) -> registry entry
  (:func:`fdiv_jax.divergences.get` parses the spec)."""
  return fd.get(spec)


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


def override(config: Any, assignments: list[str]) -> Any:
  """``config`` with ``name=value`` assignments applied (``--set seeds=8``).

  Values are Python literals (``8``, ``1e-3``, ``"js"``, ``(64, 64)``); a bare
  word is a string. The field must exist and keep its type (an int field takes
  an int, a float field an int or a float).
  """
  import ast
  import dataclasses

  fields = {f.name: f for f in dataclasses.fields(config)}
  changes = {}
  for item in assignments:
    name, sep, text = item.partition("=")
    if not sep or name not in fields:
      raise ValueError(f"--set {item!r}: expected name=value with name one of {', '.join(fields)}")
    try:
      value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
      value = text
    old = getattr(config, name)
    if old is None or value is None:
      value = _check_optional(item, fields[name], value)
      changes[name] = value
      continue
    if isinstance(old, float) and isinstance(value, int) and not isinstance(value, bool):
      value = float(value)
    if isinstance(old, tuple) and isinstance(value, (list, str)):
      value = tuple(value) if isinstance(value, list) else (value,)
    if type(value) is not type(old):
      raise ValueError(
        f"--set {item!r}: {name} is {type(old).__name__}, got {type(value).__name__} {value!r}"
      )
    if name in POSITIVE_FIELDS and value < 1:
      raise ValueError(
        f"--set {item!r}: {name} must be >= 1 (an empty run would write a table of NaN)"
      )
    changes[name] = value
  return dataclasses.replace(config, **changes)


# Counts that every experiment needs at least one of.
POSITIVE_FIELDS = frozenset({"seeds", "batch_size", "log_every", "eval_samples"})


def _check_optional(item: str, field: Any, value: Any) -> Any:
  """``value`` for a field declared ``T | None`` whose current value or new value is None."""
  import types
  import typing

  tp = field.type
  if isinstance(tp, str):
    raise ValueError(f"--set {item!r}: cannot check the type {tp!r}")
  args = (
    typing.get_args(tp)
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union
    else (tp,)
  )
  if value is None:
    if type(None) not in args:
      raise ValueError(f"--set {item!r}: {field.name} cannot be None")
    return None
  if isinstance(value, list):
    value = tuple(value)
  for a in args:
    origin = typing.get_origin(a) or a
    if origin is float and isinstance(value, int) and not isinstance(value, bool):
      return float(value)
    if origin is not type(None) and isinstance(value, origin):
      return value
  raise ValueError(f"--set {item!r}: {field.name} is {tp}, got {type(value).__name__} {value!r}")


def run_main(
  argv,
  *,
  package: str,
  doc: str,
  default_workdir: str,
  run,
) -> None:
  """The shared command line: ``--config``, ``--set``, ``--workdir``, ``--fresh``,
  ``--distributed``; runs ``run(config, workdir, fresh=...)`` under a data mesh
  over every device (batches split, parameters replicated; see
  :mod:`fdiv_jax.parallel`) and prints what it wrote and how long it took."""
  import argparse
  import time

  import jax

  from experiments.common import distributed
  from fdiv_jax import parallel

  parser = argparse.ArgumentParser(description=doc.splitlines()[0])
  parser.add_argument("--config", default="default", help="configs/<name>.py")
  parser.add_argument("--workdir", default=default_workdir)
  parser.add_argument(
    "--fresh",
    action="store_true",
    help="delete the work directory (results, checkpoints, cached teachers) and start over",
  )
  parser.add_argument(
    "--set",
    action="append",
    default=[],
    metavar="NAME=VALUE",
    help="override a config field (repeatable), e.g. --set seeds=8",
  )
  parser.add_argument(
    "--distributed",
    action="store_true",
    help="multi-host: jax.distributed.initialize() first (detected on "
    "Cloud TPU pods, SLURM, Open MPI; elsewhere give the three below); "
    "the data mesh then spans every host's devices",
  )
  parser.add_argument(
    "--coordinator-address", metavar="HOST:PORT", help="with --distributed: process 0's address"
  )
  parser.add_argument("--num-processes", type=int, help="with --distributed")
  parser.add_argument("--process-id", type=int, help="with --distributed")
  args = parser.parse_args(argv)
  config = override(load_config(package, args.config), args.set)
  job = {
    k: v
    for k in ("coordinator_address", "num_processes", "process_id")
    if (v := getattr(args, k)) is not None
  }
  if job and not args.distributed:
    parser.error("--coordinator-address / --num-processes / --process-id need --distributed")
  if args.distributed:
    distributed.initialize_distributed(**job)
  start = time.perf_counter()
  with jax.set_mesh(parallel.data_mesh()):
    run(config, args.workdir, fresh=args.fresh)
  wrote = sorted(os.listdir(args.workdir)) if os.path.isdir(args.workdir) else []
  print(f"wrote {args.workdir}: {', '.join(wrote)} in {time.perf_counter() - start:.0f} s")


def command(run, package: str, doc: str):
  """The ``main(argv=None)`` of the experiment ``package`` (work directory
  ``runs/<name>`` unless ``--workdir`` says otherwise)."""
  workdir = os.path.join("runs", package.rsplit(".", 1)[-1])
  return lambda argv=None: run_main(
    argv, package=package, doc=doc, default_workdir=workdir, run=run
  )
