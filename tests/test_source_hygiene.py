"""Source files carry code and its documentation, not control characters or history."""

import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FOLDERS = ("fdiv_jax", "experiments", "tests", "benchmarks")
# Every control character but tab, newline and carriage return (a "\f" or "\b" typed
# into a non-raw docstring, e.g. \frac or \beta, turns into one).
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Written with \s so that this file does not match what it forbids.
HISTORY = re.compile(r"20[0-9]{2}-[0-9]{2}-[0-9]{2}|previous\ssession|used\sto\shave")


def _sources():
  files = []
  for folder in FOLDERS:
    for base, _, names in os.walk(os.path.join(ROOT, folder)):
      files += [os.path.join(base, n) for n in names if n.endswith(".py")]
  return sorted(os.path.relpath(f, ROOT) for f in files)


@pytest.mark.parametrize("path", _sources())
def test_no_control_characters_and_no_dated_history_in_python_sources(path):
  text = open(os.path.join(ROOT, path), encoding="utf-8").read()
  bad = [(i + 1, line) for i, line in enumerate(text.splitlines()) if CONTROL.search(line)]
  assert not bad, f"control characters in {path}: {bad[:3]}"
  dated = [
    (i + 1, line.strip()) for i, line in enumerate(text.splitlines()) if HISTORY.search(line)
  ]
  assert not dated, f"dates or history in {path} (they belong in READMEs and git): {dated[:3]}"
