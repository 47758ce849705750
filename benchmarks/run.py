"""Run every benchmark on the default device, then write the report.

Usage: python -m benchmarks.run [--preset {quick,cpu,gpu}] [--only NAME ...]

The preset picks the sizes: ``cpu`` (the default on a CPU) sweeps what a
2-core machine finishes in about an hour; ``gpu`` (the default where JAX sees a
GPU / TPU) goes to the sizes an accelerator needs to be busy (Sinkhorn to
n = 32 000 with POT on PyTorch / CUDA, CS at n = 1e6 in 2-D run rather than
only planned, tile sides 1024 .. 16384) in about five minutes; ``quick`` is a
~2 min smoke run.
"""

from __future__ import annotations

import argparse
import time

import jax

from benchmarks import divergences_vs_tfp, kernels, report, sinkhorn, training

PRESETS = {
  "quick": {
    "divergences_vs_tfp": ["--max-batch", "1e4"],
    "sinkhorn": ["--sizes", "500", "--iters", "20"],
    "kernels": ["--sizes", "1000", "--dims", "2"],
    "training": ["--depths", "2", "4"],
  },
  "cpu": {
    "divergences_vs_tfp": [],
    "sinkhorn": [],
    "kernels": [],
    "training": [],
  },
  "gpu": {
    "divergences_vs_tfp": ["--min-time", "0.5"],
    "sinkhorn": [
      "--sizes",
      "1000",
      "4000",
      "16000",
      "32000",
      "--pot-max",
      "16000",
      "--pot-backend",
      "torch",
    ],
    "kernels": [
      "--sizes",
      "1000",
      "10000",
      "100000",
      "--dims",
      "2",
      "16",
      "64",
      "--plan-sizes",
      "--block-sizes",
      "1024",
      "4096",
      "16384",
      "--dense-limit-gib",
      "48",
      "--precision-n",
      "10000",
    ],
    "kernels_1e6": [
      "--sizes",
      "1000000",
      "--dims",
      "2",
      "--plan-sizes",
      "--block-sizes",
      "4096",
      "16384",
      "--name",
      "kernels_1e6",
    ],
    "training": ["--depths", "2", "8", "32"],
  },
}
MODULES = {
  "divergences_vs_tfp": divergences_vs_tfp,
  "sinkhorn": sinkhorn,
  "kernels": kernels,
  "kernels_1e6": kernels,
  "training": training,
}


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument(
    "--preset", choices=tuple(PRESETS), default="cpu" if jax.default_backend() == "cpu" else "gpu"
  )
  parser.add_argument("--quick", action="store_true", help="same as --preset quick")
  parser.add_argument(
    "--only", nargs="+", choices=tuple(MODULES), help="run these benchmarks of the preset only"
  )
  args = parser.parse_args(argv)
  preset = PRESETS["quick" if args.quick else args.preset]
  start = time.perf_counter()
  for name, bench_args in preset.items():
    if args.only and name not in args.only:
      continue
    print(f"== {name} {' '.join(bench_args)}", flush=True)
    MODULES[name].main(bench_args)
  report.main()
  print(f"all benchmarks in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
  main()
