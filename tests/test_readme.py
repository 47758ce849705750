"""The README's examples run and print what the README says they print."""

import contextlib
import io
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _examples():
  """``(code, claimed output)`` of every python block followed by a ``Prints `...``` line."""
  text = open(os.path.join(ROOT, "README.md")).read()
  return re.findall(r"```python\n(.*?)```\s*\n\s*Prints `([^`]+)`", text, re.S)


def test_readme_has_both_examples():
  examples = _examples()
  assert len(examples) == 2
  assert "f_gan_critic_loss" in examples[0][0]
  assert "denoiser_generator_loss" in examples[1][0]


@pytest.mark.parametrize("index", [0, 1], ids=["f_gan_step", "f_distill_step"])
def test_readme_example_runs_and_output_matches(index, optimizing_compiler):
  """(The optimising compiler: these run 1 000-step loops, where run time dominates.)"""
  code, claimed = _examples()[index]
  out = io.StringIO()
  with contextlib.redirect_stdout(out):
    exec(compile(code, "README.md", "exec"), {})
  printed = out.getvalue().strip()
  number = r"-?\d+\.\d+"
  assert re.sub(number, "#", printed) == re.sub(number, "#", claimed), printed
  # A GAN's 1 000 steps amplify float rounding, which differs between CPUs
  # (vector widths, fusion): each printed number within 3 units of its last digit.
  for got, want in zip(re.findall(number, printed), re.findall(number, claimed)):
    units = 10.0 ** -len(want.split(".")[1])
    assert abs(float(got) - float(want)) <= 3 * units + 1e-9, (printed, claimed)
