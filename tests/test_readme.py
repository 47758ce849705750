"""The README's example runs and prints what the README says it prints."""

import contextlib
import io
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_readme_example_runs_and_output_matches():
  text = open(os.path.join(ROOT, "README.md")).read()
  code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
  claimed = re.search(r"Prints `(estimate [0-9.]+, truth [0-9.]+)`", text).group(1)
  out = io.StringIO()
  with contextlib.redirect_stdout(out):
    exec(compile(code, "README.md", "exec"), {})
  assert out.getvalue().strip() == claimed
