"""Every public function documents its arguments, its axes and its output in the same words.

The conventions (``docs/design.md``, "API conventions"):

* an ``Args:`` entry for every parameter and a ``Returns:`` (or ``Yields:``) section;
* a function with a sample axis documents it as ``axis: The sample axis ...`` and its
  ``Returns:`` section says whether that axis is reduced;
* a loss over examples documents ``where:`` and ``axis: The example axes ...``;
* no timings, issue numbers or dates in a docstring (they belong in READMEs and git history).
"""

import importlib
import inspect
import pkgutil
import re

import pytest

import fdiv_jax

MODULES = sorted(m.name for m in pkgutil.iter_modules(fdiv_jax.__path__) if m.name[0] != "_")


def _public_functions():
  for module in MODULES:
    mod = importlib.import_module(f"fdiv_jax.{module}")
    for name in mod.__all__:
      obj = getattr(mod, name)
      if inspect.isfunction(obj):
        yield f"{module}.{name}", obj


FUNCTIONS = dict(_public_functions())


def _section(doc: str, title: str) -> str:
  """The text of a Google-style section (``Args:``), up to the next section or the end."""
  match = re.search(rf"^{title}:\n(.*?)(?=^\S[^\n]*:\n|\Z)", doc, flags=re.M | re.S)
  return match.group(1) if match else ""


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_argument_and_the_output_are_documented(name):
  fn = FUNCTIONS[name]
  doc = inspect.getdoc(fn) or ""
  params = [
    p.name
    for p in inspect.signature(fn).parameters.values()
    if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
  ]
  args = _section(doc, "Args")
  missing = [p for p in params if not re.search(rf"^\s*{p}( \([^)]*\))?:", args, flags=re.M)]
  assert not missing, f"{name}: no Args entry for {missing}"
  assert _section(doc, "Returns") or _section(doc, "Yields"), f"{name}: no Returns section"


@pytest.mark.parametrize(
  "name", sorted(n for n, f in FUNCTIONS.items() if "axis" in inspect.signature(f).parameters)
)
def test_axes_and_reductions_are_stated_in_the_same_words(name):
  fn = FUNCTIONS[name]
  doc = inspect.getdoc(fn) or ""
  args = _section(doc, "Args")
  if "where" in inspect.signature(fn).parameters:
    assert re.search(r"^\s*axis: The example axes", args, flags=re.M), name
  else:
    assert re.search(r"^\s*axis: The sample axis", args, flags=re.M), name
    assert "reduced" in _section(doc, "Returns"), f"{name}: Returns does not say what is reduced"


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_no_lab_notes_in_docstrings(name):
  doc = inspect.getdoc(FUNCTIONS[name]) or ""
  for pattern in (
    r"\b20[12]\d-\d\d-\d\d\b",
    r"#\d{2,}\b",
    r"\bissue\s\d+",
    r"\bprevious\ssession\b",
  ):
    assert not re.search(pattern, doc, flags=re.I), f"{name}: {pattern!r} in its docstring"
  for pattern in (r"\d+(\.\d+)?\s?(ms|min)\b", r"\bseconds? on\b", r"% (slower|faster)"):
    assert not re.search(pattern, doc), f"{name}: a timing ({pattern!r}) in its docstring"
