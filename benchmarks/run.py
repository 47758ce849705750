"""Run every benchmark on the default device, then write the report.

Usage: python -m benchmarks.run [--quick]
"""

from __future__ import annotations

import argparse
import time

from benchmarks import divergences_vs_tfp, kernels, report, sinkhorn, training


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
  args = parser.parse_args(argv)
  start = time.perf_counter()
  if args.quick:
    divergences_vs_tfp.main(["--max-batch", "1e4"])
    sinkhorn.main(["--sizes", "500", "--iters", "20"])
    kernels.main(["--sizes", "1000", "--dims", "2"])
    training.main(["--depths", "2", "4"])
  else:
    divergences_vs_tfp.main([])
    sinkhorn.main([])
    kernels.main([])
    training.main([])
  report.main()
  print(f"all benchmarks in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
  main()
