"""experiments.common.jobs: resumable results and staged jobs whose checkpoint and
results.json are committed together."""

import os

import jax.numpy as jnp
import pytest

from experiments.common import checkpoint, jobs
from experiments.common import results as R


def _staged(workdir, num_stages, *, kill_at_commit=None, poison=None):
  """A toy staged job (state = a counter array); returns (out, stage calls)."""
  path, out = jobs.open_results(workdir, {"n": num_stages}, fresh=False, jobs={})
  job = out["jobs"].setdefault("toy", {"history": [], "done": False})
  calls, commits = [], []

  def stage(i, state, last_good):
    calls.append(i)
    new = {"x": state["x"] + 1.0}
    if poison == i:
      R.check_finite(jnp.nan, what=f"stage {i} ({last_good})")
    return new, {"stage": i, "x": float(new["x"])}

  def commit():
    commits.append(len(job["history"]))
    if kill_at_commit is not None and len(commits) == kill_at_commit:
      raise KeyboardInterrupt("killed")
    R.write_json(path, out)

  jobs.run_stages(
    job,
    init_state={"x": jnp.zeros(())},
    num_stages=num_stages,
    stage=stage,
    start=lambda state: [{"stage": "start", "x": float(state["x"])}],
    ckpt_dir=os.path.join(workdir, "ckpt", "toy"),
    commit=commit,
    desc="toy",
    verbose=False,
  )
  return out, calls


def test_a_killed_staged_job_resumes_without_repeating_or_losing_a_stage(tmp_path):
  full, calls = _staged(str(tmp_path / "full"), 4)
  assert calls == [0, 1, 2, 3]
  history = full["jobs"]["toy"]["history"]
  assert [r["stage"] for r in history] == ["start", 0, 1, 2, 3] and history[-1]["x"] == 4.0
  for kill in (1, 2, 3, 5):  # before the first stage's commit, ..., after the last stage
    workdir = str(tmp_path / f"kill{kill}")
    with pytest.raises(KeyboardInterrupt):
      _staged(workdir, 4, kill_at_commit=kill)
    resumed, _ = _staged(workdir, 4)
    assert resumed["jobs"]["toy"]["history"] == history, kill
    assert resumed["jobs"]["toy"]["done"]
    assert os.listdir(os.path.join(workdir, "ckpt", "toy")) == ["stage_3"]
  # A finished job is not run again.
  _, calls = _staged(str(tmp_path / "full"), 4)
  assert calls == []
  stages = checkpoint.Stages(str(tmp_path / "full" / "ckpt" / "toy"))
  assert stages.saved() == [3] and float(stages.restore_latest({"x": jnp.zeros(())})["x"]) == 4.0
  assert checkpoint.Stages(str(tmp_path / "nowhere")).restore_latest({"x": 0.0}) is None
  assert not os.path.exists(tmp_path / "nowhere")  # reading makes no directory


def test_non_finite_stage_keeps_the_last_good_checkpoint_and_names_it(tmp_path):
  workdir = str(tmp_path / "nan")
  with pytest.raises(R.NonFiniteError, match="stage 2 .last good checkpoint: .*stage_1"):
    _staged(workdir, 4, poison=2)
  saved = R.read_json(os.path.join(workdir, "results.json"))
  assert [r["stage"] for r in saved["jobs"]["toy"]["history"]] == ["start", 0, 1]
  assert os.listdir(os.path.join(workdir, "ckpt", "toy")) == ["stage_1"]
  out, calls = _staged(workdir, 4)  # the next run resumes after stage 1
  assert calls == [2, 3] and out["jobs"]["toy"]["history"][-1]["x"] == 4.0


def test_a_finished_section_still_records_what_the_caller_added(tmp_path):
  """Every job done: ``out`` reaches the file only if it changed (no rewrite otherwise)."""
  workdir = str(tmp_path / "run")
  path, out = jobs.open_results(workdir, {"a": 1}, fresh=False, jobs={})
  run = lambda out: jobs.for_each_job(
    out, "jobs", ["x"], lambda n: {"v": n}, path=path, desc="", verbose=False
  )
  run(out)
  before = os.stat(path).st_mtime_ns
  _, again = jobs.open_results(workdir, {"a": 1}, fresh=False, jobs={})
  run(again)
  assert os.stat(path).st_mtime_ns == before
  again["reference"] = 0.5
  run(again)
  assert R.read_json(path)["reference"] == 0.5 and R.read_json(path)["jobs"] == {"x": {"v": "x"}}


def test_stage_checkpoints_name_an_unreadable_stage(tmp_path):
  """checkpoint.Stages (orbax CheckpointManager): stage i lives in stage_<i>; one whose
  files are gone raises CheckpointError naming it; deletion keeps what ``keep`` says."""
  stages = checkpoint.Stages(str(tmp_path / "ckpt"))
  for i in range(3):
    stages.save(i, {"x": jnp.full((2,), float(i))})
  assert stages.saved() == [0, 1, 2] and sorted(os.listdir(tmp_path / "ckpt")) == [
    "stage_0",
    "stage_1",
    "stage_2",
  ]
  assert float(stages.restore(1, {"x": jnp.zeros((2,))})["x"][0]) == 1.0
  assert stages.restore(7, {"x": jnp.zeros((2,))}) is None
  with pytest.raises(checkpoint.CheckpointError, match="stage_0.*--fresh"):
    stages.restore(0, {"x": jnp.zeros((3,))})  # another shape
  stages.delete(keep=lambda i: i == 2)
  assert stages.saved() == [2] and os.listdir(tmp_path / "ckpt") == ["stage_2"]


def test_results_follow_the_config_and_fresh_deletes_the_work_directory(tmp_path):
  workdir = str(tmp_path / "run")
  path, out = jobs.open_results(workdir, {"a": 1}, fresh=False, jobs={})
  done = []
  jobs.for_each_job(
    out, "jobs", ["x", "y"], lambda n: done.append(n) or {"v": n}, path=path, desc="", verbose=False
  )
  assert done == ["x", "y"] and R.read_json(path)["jobs"] == {"x": {"v": "x"}, "y": {"v": "y"}}
  _, again = jobs.open_results(workdir, {"a": 1}, fresh=False, jobs={})
  jobs.for_each_job(
    again, "jobs", ["x", "y", "z"], lambda n: {"v": n}, path=path, desc="", verbose=False
  )
  assert list(R.read_json(path)["jobs"]) == ["x", "y", "z"]
  assert jobs.open_results(workdir, {"a": 2}, fresh=False, jobs={})[1]["jobs"] == {}
  os.makedirs(os.path.join(workdir, "teacher"))
  _, fresh = jobs.open_results(workdir, {"a": 1}, fresh=True, jobs={})
  assert fresh["jobs"] == {} and os.listdir(workdir) == []
