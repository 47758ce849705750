"""End-to-end runs of every experiment on its CPU-tiny test config."""

import json
import os

import numpy as np
import pytest

from experiments.common import results as R
from experiments.divergence_estimation import main as de_main


def test_divergence_estimation_end_to_end_and_resume(tmp_path, capsys):
  workdir = str(tmp_path / "de")
  de_main.main(["--config", "test", "--workdir", workdir])
  with open(os.path.join(workdir, "results.json")) as f:
    out = json.load(f)
  cfg = out["config"]
  assert len(out["jobs"]) == len(cfg["problems"]) * len(cfg["divergences"])
  for job in out["jobs"].values():
    assert np.all(np.isfinite(job["estimates"]))
    assert len(job["estimates"]) == cfg["seeds"]
    assert np.isfinite(job["truth"]) and job["truth"] > 0
    assert len(job["curve"]) == cfg["steps"] // cfg["log_every"]
  assert os.path.getsize(os.path.join(workdir, "curves.png")) > 10_000
  assert "| divergence |" in open(os.path.join(workdir, "table.md")).read()
  # Resume: a second run finds every job done and does not retrain.
  before = os.path.getmtime(os.path.join(workdir, "results.json"))
  de_main.main(["--config", "test", "--workdir", workdir])
  assert os.path.getmtime(os.path.join(workdir, "results.json")) == before


def test_truth_matches_closed_form_where_both_exist():
  """The Monte-Carlo truth path agrees with the closed forms it stands in for."""
  from experiments.divergence_estimation import problems as P
  import fdiv_jax as fd
  prob = P.gaussian_problem(5, truth_samples=1_000_000)
  for name in ("kl", "squared_hellinger"):
    closed, _, method = prob.truth(fd.get(name))
    assert method == "closed form"
    mc, se = P._mc_truth(prob.p, prob.q, fd.get(name), samples=1_000_000)
    assert abs(mc - closed) < 5 * se + 1e-3


def test_nan_guard_names_what_failed():
  with pytest.raises(R.NonFiniteError, match="training bound of js"):
    R.check_finite([1.0, float("nan")], what="training bound of js")


def test_bad_config_name():
  with pytest.raises(ValueError, match="--config 'nope' does not exist"):
    de_main.main(["--config", "nope", "--workdir", "/tmp/unused"])
