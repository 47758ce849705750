"""Export Inference Gym's data sets and ground-truth posterior moments into the package.

Usage:
  python -m experiments.boltzmann.gym_data [--out fdiv_jax/data/sampling_benchmark]

Writes, from the installed ``inference-gym`` (Apache 2.0), the data of the models that
``fdiv_jax.targets`` writes in JAX (so that the library itself never imports
inference-gym): the last 100 mean-adjusted S&P 500 returns (``sp500_small_returns.csv``),
the synthetic Cox process's grid (``synthetic_lgcp.csv``, in Inference Gym's shuffled
order), the synthetic item-response triples (``synthetic_irt.csv``), and
``inference_gym_ground_truth.json``: each posterior's mean, the mean's standard error and
standard deviation of every constrained coordinate, from Inference Gym's long Stan runs,
flattened in the order of the targets' parameter vectors.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

OUT = os.path.join("fdiv_jax", "data", "sampling_benchmark")

# Target name -> (Inference Gym ground-truth module, components in parameter order).
GROUND_TRUTH = {
  "eight_schools": ("eight_schools", ["avg_effect", "log_stddev", "school_effects"]),
  "stochastic_volatility": (
    "stochastic_volatility_sp500_small",
    [
      "persistence_of_volatility",
      "mean_log_volatility",
      "white_noise_shock_scale",
      "log_volatility",
    ],
  ),
  "synthetic_lgcp": (
    "synthetic_log_gaussian_cox_process",
    ["amplitude", "length_scale", "log_intensity"],
  ),
  "item_response": (
    "synthetic_item_response_theory",
    ["centered_student_ability", "mean_student_ability", "question_difficulty"],
  ),
  "brownian": (
    "brownian_motion_unknown_scales_missing_middle_observations",
    ["innovation_noise_scale", "observation_noise_scale", "locs"],
  ),
}


def ground_truth() -> dict:
  import importlib

  table = {}
  for name, (module, components) in GROUND_TRUTH.items():
    gt = importlib.import_module(f"inference_gym.targets.ground_truth.{module}")
    entry = {"source": f"inference_gym.targets.ground_truth.{module}", "components": []}
    for key in ("mean", "mean_standard_error", "std"):
      entry[key] = []
    for c in components:
      prefix = f"IDENTITY_{c.upper()}_"
      mean = np.atleast_1d(getattr(gt, prefix + "MEAN")).astype(np.float64)
      entry["components"].append([c, int(mean.size)])
      entry["mean"] += mean.tolist()
      entry["mean_standard_error"] += np.atleast_1d(
        getattr(gt, prefix + "MEAN_STANDARD_ERROR")
      ).tolist()
      entry["std"] += np.atleast_1d(getattr(gt, prefix + "STANDARD_DEVIATION")).tolist()
    doc = (gt.__doc__ or "").split("```")
    entry["command"] = " ".join(t for t in doc[1].split() if t != "\\") if len(doc) > 1 else ""
    table[name] = entry
  return table


def write_csv(path: str, header: str, columns: list[np.ndarray], fmt: list[str]) -> None:
  np.savetxt(path, np.stack(columns, 1), delimiter=",", header=header, fmt=fmt, comments="# ")


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--out", default=OUT)
  args = parser.parse_args(argv)
  from inference_gym.internal.datasets import sp500_closing_prices as sp500
  from inference_gym.internal.datasets import synthetic_item_response_theory as irt
  from inference_gym.internal.datasets import synthetic_log_gaussian_cox_process as cox

  # As inference_gym.internal.data.sp500_returns(num_points=100).
  returns = np.diff(np.asarray(sp500.CLOSING_PRICES, np.float64))[-100:]
  write_csv(
    os.path.join(args.out, "sp500_small_returns.csv"),
    "Inference Gym sp500_returns(num_points=100): the last 100 daily S&P 500 returns\n"
    "(close minus previous close, up to 24 June 2020) minus their mean",
    [returns - returns.mean()],
    ["%.17g"],
  )
  # As inference_gym.internal.data.synthetic_log_gaussian_cox_process(): shuffled by
  # RandomState(1337), the order its ground truth's coordinates follow.
  order = np.arange(cox.LOCATIONS.shape[0])
  np.random.RandomState(1337).shuffle(order)
  write_csv(
    os.path.join(args.out, "synthetic_lgcp.csv"),
    "Inference Gym synthetic_log_gaussian_cox_process() (shuffle_seed 1337):\n"
    "location x, location y, extent, count",
    [*np.asarray(cox.LOCATIONS[order], np.float64).T, cox.EXTENTS[order], cox.COUNTS[order]],
    ["%.17g", "%.17g", "%.17g", "%d"],
  )
  write_csv(
    os.path.join(args.out, "synthetic_irt.csv"),
    "Inference Gym synthetic_item_response_theory(): student id, question id, correct",
    [irt.STUDENT_IDS, irt.QUESTION_IDS, irt.CORRECT],
    ["%d", "%d", "%d"],
  )
  with open(os.path.join(args.out, "inference_gym_ground_truth.json"), "w") as f:
    json.dump(ground_truth(), f, indent=1)
  print(f"wrote Inference Gym data and ground truth to {args.out}")


if __name__ == "__main__":
  main()
