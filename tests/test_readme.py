"""The README's and the docs' examples run and print what the text says they print."""

import contextlib
import io
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


PAGES = ("README.md", os.path.join("docs", "examples.md"))


def _examples():
  """``(code, claimed output)`` of every python block followed by a ``Prints `...``` line,
  in the README and then in the docs' examples page."""
  found = []
  for page in PAGES:
    text = open(os.path.join(ROOT, page)).read()
    found += re.findall(r"```python\n(.*?)```\s*\n\s*Prints `([^`]+)`", text, re.S)
  return found


def test_readme_and_docs_have_both_examples():
  examples = _examples()
  assert len(examples) == 2
  assert "f_gan_critic_loss" in examples[0][0]
  assert "fd.distill.f_distill" in examples[1][0]


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


def _markdown_pages():
  pages = ["README.md"]
  for folder in ("docs", "experiments", "benchmarks"):
    for base, _, files in os.walk(os.path.join(ROOT, folder)):
      if "_build" in base:
        continue
      pages += [os.path.relpath(os.path.join(base, f), ROOT) for f in files if f.endswith(".md")]
  return sorted(pages)


@pytest.mark.parametrize("page", _markdown_pages())
def test_links_resolve_to_files_inside_the_repository(page):
  """Every relative link and image of the Markdown pages names a file in this repository."""
  text = open(os.path.join(ROOT, page)).read()
  for target in re.findall(r"\]\(([^)\s]+)\)", text):
    if re.match(r"[a-z]+://|#|mailto:", target):
      continue
    path = os.path.normpath(os.path.join(ROOT, os.path.dirname(page), target.split("#")[0]))
    assert path.startswith(ROOT + os.sep), f"{page} links outside the repository: {target}"
    assert os.path.exists(path), f"{page} links a missing file: {target}"
