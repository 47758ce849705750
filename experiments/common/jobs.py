"""The job loop every experiment shares: results that resume, stages that checkpoint.

A run directory holds ``results.json`` (the config that made it, then one entry per
job) and, for staged jobs, ``ckpt/<job>/stage_<i>``. The rules, the same for every
experiment:

* ``--fresh`` deletes the run directory (results, checkpoints, cached teachers) and
  starts over; a ``results.json`` made by a different config is also started over.
* A finished job is recorded in ``results.json`` as soon as it finishes, so a killed
  run skips it on the rerun.
* A staged job checkpoints its state after every stage (an orbax
  ``CheckpointManager``: :class:`checkpoint.Stages`); the ``results.json`` write that
  follows is the commit point, after which the older stages' checkpoints are deleted.
  A run killed between the two resumes from the stage ``results.json`` records (the
  newer, uncommitted checkpoint is deleted and its stage redone), so no stage is
  applied twice and no record is lost.
* Non-finite training metrics stop the run (:func:`results.check_finite`) before
  anything of that stage is saved: the last good checkpoint stays.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable
from typing import Any

import jax
from tqdm import tqdm

from experiments.common import checkpoint
from experiments.common import results as R


def open_results(workdir: str, config: Any, *, fresh: bool, **sections: Any) -> tuple[str, dict]:
  """``(path, out)``: the run's ``results.json`` if this config made it, else a new
  record ``{"config", "devices", **sections}``; ``fresh`` deletes ``workdir`` first (it
  exists afterwards)."""
  if fresh and os.path.isdir(workdir):
    shutil.rmtree(workdir)
  os.makedirs(workdir, exist_ok=True)
  path = os.path.join(workdir, "results.json")
  out = R.read_json(path)
  if out is None or out.get("config") != R.to_jsonable(config):
    out = {
      "config": R.to_jsonable(config),
      "devices": [str(d) for d in jax.devices()],
      **sections,
    }
  return path, out


def for_each_job(
  out: dict,
  section: str,
  names: Iterable[str],
  job: Callable[[str], dict],
  *,
  path: str,
  desc: str,
  verbose: bool,
  label: Callable[[str], str] = str,
) -> None:
  """Runs ``job(name)`` for every name not yet in ``out[section]``, recording each
  result in ``results.json`` as soon as it is done (a progress bar over the rest).
  When every job had already run, ``out`` is still written if it differs from the file
  (what the caller put in it before the call is on disk afterwards; a resume that
  changes nothing leaves the file untouched)."""
  todo = [n for n in names if n not in out[section]]
  for name in (bar := tqdm(todo, desc=desc, disable=not verbose, unit="job")):
    bar.set_postfix_str(label(name))
    out[section][name] = job(name)
    R.write_json(path, out)
  if not todo and R.read_json(path) != R.to_jsonable(out):
    R.write_json(path, out)


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
  """``(fn() with its arrays ready, wall seconds)``."""
  start = time.perf_counter()
  result = jax.block_until_ready(fn())
  return result, time.perf_counter() - start


def run_stages(
  job: dict,
  *,
  init_state: Any,
  num_stages: int,
  stage: Callable[[int, Any, str], tuple[Any, dict]],
  ckpt_dir: str,
  commit: Callable[[], None],
  start: Callable[[Any], list[dict]] = lambda state: [],
  desc: str,
  verbose: bool,
  postfix: Callable[[dict], str] = lambda record: "",
) -> Any:
  """Runs stages ``len(done) .. num_stages - 1`` of a job, resuming where it stopped.

  Args:
    job: The job's entry in ``results.json``; this function keeps ``history`` (the
      records ``start`` made, then one per stage), ``wall_s`` and ``done`` in it.
    init_state: The state before stage 0 (also the structure checkpoints restore to).
    num_stages: Stages in the job.
    stage: ``(i, state, last_good) -> (new_state, record)``: trains stage ``i`` (time
      it, check its metrics are finite, naming ``last_good`` in the message) and
      evaluates; ``record`` becomes the stage's entry in ``history``.
    ckpt_dir: The job's checkpoint directory.
    commit: Writes ``results.json`` (the commit point of a stage).
    start: ``state -> records`` made before stage 0 (e.g. an evaluation at step 0).
    desc: Progress-bar title.
    verbose: Show the progress bar.
    postfix: ``record -> str`` shown on the bar after each stage.

  Returns:
    The state after the last stage.
  """
  job.setdefault("history", [])
  job.setdefault("wall_s", 0.0)
  job.setdefault("done", False)
  offset = job.setdefault("start_records", 0)
  done = len(job["history"]) - offset
  stages = checkpoint.Stages(ckpt_dir)
  state = stages.restore(done - 1, init_state) if done > 0 else None
  if state is None:  # nothing recorded, or its checkpoint is gone: start the job over
    state, done = init_state, 0
    job["history"] = start(init_state)
    job["start_records"] = offset = len(job["history"])
    job["wall_s"] = 0.0
    if job["history"]:
      commit()
  stages.delete(keep=lambda s: s < done)  # saved but not committed: redone below
  for i in (bar := tqdm(range(done, num_stages), desc=desc, disable=not verbose, unit="stage")):
    last_good = f"last good checkpoint: {stages.path(i - 1)}" if i else "no checkpoint yet"
    state, record = stage(i, state, last_good)
    job["history"].append(record)
    stages.save(i, state)
    commit()  # the commit point of stage i
    stages.delete(keep=lambda s: s == i)
    bar.set_postfix_str(postfix(record))
  job["done"] = True
  commit()
  return state
