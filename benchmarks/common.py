"""Timing, memory and machine helpers shared by the benchmarks."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def platform_name() -> str:
  """``"cpu"`` or ``"gpu"`` / ``"tpu"``: the results column a run fills."""
  return jax.default_backend()


def machine() -> dict:
  """What ran the benchmark: CPU model and cores, JAX backend and device."""
  cpu = platform.processor() or platform.machine()
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("model name"):
          cpu = line.split(":", 1)[1].strip()
          break
  except OSError:
    pass
  dev = jax.devices()[0]
  return {
    "backend": jax.default_backend(),
    "device": getattr(dev, "device_kind", str(dev)),
    "devices": jax.device_count(),
    "cpu": cpu,
    "cores": os.cpu_count(),
    "jax": jax.__version__,
  }


def block(tree):
  return jax.tree.map(
    lambda x: x.block_until_ready() if hasattr(x, "block_until_ready") else x, tree
  )


def timeit(
  fn: Callable[[], Any], *, min_time: float = 0.2, max_reps: int = 50, warmup: int = 1
) -> float:
  """Median wall seconds of ``fn()`` (results blocked on), after ``warmup`` calls.

  Repeats until ``min_time`` seconds have passed or ``max_reps`` calls.
  """
  for _ in range(warmup):
    block(fn())
  times = []
  start = time.perf_counter()
  while len(times) < max_reps and (not times or time.perf_counter() - start < min_time):
    t0 = time.perf_counter()
    block(fn())
    times.append(time.perf_counter() - t0)
  return statistics.median(times)


def compare(
  fn_a: Callable[[], Any], fn_b: Callable[[], Any], *, min_time: float = 1.0, max_reps: int = 2000
) -> tuple[float, float, tuple[float, float]]:
  """Median seconds of ``fn_a()`` and ``fn_b()``, called alternately, and a 95%
  bootstrap interval of the ratio ``median(b) / median(a)``.

  Interleaving makes both see the same machine state (frequency, cache, other
  load), so their ratio is far less noisy than two separate timings; the order
  alternates (A B, B A, ...) so that neither always runs first.
  """
  block(fn_a())
  block(fn_b())
  ta, tb = [], []
  start = time.perf_counter()
  while len(ta) < max_reps and (len(ta) < 6 or time.perf_counter() - start < min_time):
    for fn, times in ((fn_a, ta), (fn_b, tb))[:: 1 if len(ta) % 2 == 0 else -1]:
      t0 = time.perf_counter()
      block(fn())
      times.append(time.perf_counter() - t0)
  return statistics.median(ta), statistics.median(tb), ratio_interval(ta, tb)


def ratio_interval(
  ta, tb, *, reps: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
  """Bootstrap interval of ``median(tb) / median(ta)`` over the paired calls
  (pairs resampled together, so shared machine states stay paired)."""
  ta, tb = np.asarray(ta), np.asarray(tb)
  idx = np.random.default_rng(seed).integers(0, len(ta), size=(reps, len(ta)))
  ratios = np.median(tb[idx], axis=1) / np.median(ta[idx], axis=1)
  lo, hi = np.quantile(ratios, [(1 - level) / 2, (1 + level) / 2])
  return float(lo), float(hi)


def compile_stats(fn: Callable, *args) -> dict:
  """Compile ``jit(fn)(*args)`` without running it: seconds and XLA's memory plan.

  ``peak_bytes`` = arguments + outputs + temporaries - aliased (XLA's own
  accounting); it is known before any allocation, so it also sizes programs
  that would not fit.
  """
  t0 = time.perf_counter()
  compiled = jax.jit(fn).lower(*args).compile()
  seconds = time.perf_counter() - t0
  mem = compiled.memory_analysis()
  out = {"compile_s": seconds, **hlo_counts(compiled)}
  if mem is not None:
    out["temp_bytes"] = int(mem.temp_size_in_bytes)
    out["peak_bytes"] = int(
      mem.argument_size_in_bytes
      + mem.output_size_in_bytes
      + mem.temp_size_in_bytes
      - mem.alias_size_in_bytes
    )
  return out, compiled


def hlo_counts(compiled) -> dict:
  """Fusions and instructions (fusions, unfused ops, parameters, tuples) in the
  optimised HLO's entry computation: the size of two compiled programs, side by
  side."""
  text = compiled.as_text()
  entry = text[text.index("ENTRY") :]
  body = [line for line in entry.splitlines()[1:] if " = " in line]
  return {"hlo_fusions": sum(" fusion(" in line for line in body), "hlo_instructions": len(body)}


def matmul_flops(n: int = 4096, dtype=np.float32, precision=None) -> float:
  """Measured FLOP/s of an ``n x n`` matmul on the default device (the ceiling).

  ``precision``: the ``jax.lax.Precision`` of the product (None: XLA's default,
  which on GPU / TPU multiplies float32 in TF32 / bf16 passes).
  """
  a = jax.random.normal(jax.random.PRNGKey(0), (n, n), dtype)
  f = jax.jit(lambda a: jnp.matmul(a, a, precision=precision))
  return 2.0 * n**3 / timeit(lambda: f(a), min_time=1.0)


def save(name: str, payload: dict) -> str:
  """Writes ``results/<platform>/<name>.json`` (with the machine) and returns it."""
  folder = os.path.join(RESULTS, platform_name())
  os.makedirs(folder, exist_ok=True)
  path = os.path.join(folder, f"{name}.json")
  with open(path, "w") as f:
    json.dump({"machine": machine(), **payload}, f, indent=1)
  return path


def load(name: str, plat: str) -> dict | None:
  path = os.path.join(RESULTS, plat, f"{name}.json")
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)
