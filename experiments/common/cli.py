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


def run_main(argv, *, package: str, doc: str, default_workdir: str, run, outputs: str,
             fresh_help: str = "start over (ignore saved results)") -> None:
  """The shared command line: ``--config``, ``--workdir``, ``--fresh``,
  ``--distributed``; runs ``run(config, workdir, fresh=...)`` under a data mesh
  over every device (batches split, parameters replicated; see
  :mod:`fdiv_jax.parallel`) and prints what it wrote and how long it took."""
  import argparse
  import time

  import jax

  from fdiv_jax import parallel
  parser = argparse.ArgumentParser(description=doc.splitlines()[0])
  parser.add_argument("--config", default="default", help="configs/<name>.py")
  parser.add_argument("--workdir", default=default_workdir)
  parser.add_argument("--fresh", action="store_true", help=fresh_help)
  parser.add_argument("--distributed", action="store_true",
                      help="multi-host: jax.distributed.initialize() first (Cloud TPU "
                      "pods, SLURM); the data mesh then spans every host's devices")
  args = parser.parse_args(argv)
  config = load_config(package, args.config)
  if args.distributed:
    parallel.initialize_distributed()
  start = time.perf_counter()
  with jax.set_mesh(parallel.data_mesh()):
    run(config, args.workdir, fresh=args.fresh)
  print(f"wrote {args.workdir}/{outputs} in {time.perf_counter() - start:.0f} s")
