"""Sphinx configuration: the API reference from the docstrings (autodoc + napoleon for the
Google style, MathJax for the formulas) and the Markdown pages through MyST."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("JAX_PLATFORMS", "cpu")

project = "fdiv_jax"
author = "fdiv_jax developers"
copyright = "2026, fdiv_jax developers"

extensions = [
  "sphinx.ext.autodoc",
  "sphinx.ext.napoleon",
  "sphinx.ext.mathjax",
  "sphinx.ext.viewcode",
  "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]

autodoc_default_options = {"members": True, "member-order": "bysource", "show-inheritance": False}
autodoc_typehints = "description"
autodoc_preserve_defaults = True
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_use_ivar = True  # NamedTuple fields: documented once, from the Attributes section

myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3
# The experiment pages include experiments/<name>/README.md, whose links name source files
# (configs, the top-level README) that are not pages of this site.
suppress_warnings = ["myst.xref_missing"]

html_theme = "furo"
html_title = "fdiv_jax"


def _skip_namedtuple_fields(app, what, name, obj, skip, options):
  """NamedTuple fields are documented in the class's Attributes section, not as members."""
  if type(obj).__name__ == "_tuplegetter" or str(getattr(obj, "__doc__", "")).startswith(
    "Alias for field number"
  ):
    return True
  return skip


def setup(app):
  app.connect("autodoc-skip-member", _skip_namedtuple_fields)
