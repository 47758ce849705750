"""Sphinx configuration: the API reference from the docstrings (autodoc + napoleon for the
Google style, MathJax for the formulas) and the Markdown pages through MyST."""

import os
import shutil
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

# MathJax 3 served from the built site itself, not a CDN: the docs extra installs it
# (django-static-mathjax ships MathJax's files and has no dependencies), and the SVG
# output needs no font files. Autoloaded TeX extensions come from input/tex/extensions.
mathjax_path = "mathjax/tex-svg.js"

html_theme = "furo"
html_title = "fdiv_jax"


def _skip_namedtuple_fields(app, what, name, obj, skip, options):
  """NamedTuple fields are documented in the class's Attributes section, not as members."""
  if type(obj).__name__ == "_tuplegetter" or str(getattr(obj, "__doc__", "")).startswith(
    "Alias for field number"
  ):
    return True
  return skip


def _mathjax_source() -> str:
  """The ``es5`` directory of the installed MathJax 3 distribution."""
  try:
    import mathjax
  except ImportError as err:
    raise RuntimeError(
      "MathJax is not installed: `pip install -e '.[docs]'` (or `make docs`) installs it"
    ) from err
  return os.path.join(os.path.dirname(mathjax.__file__), "static", "mathjax", "es5")


def _copy_mathjax(app, exception):
  """Puts MathJax into the built site's ``_static/mathjax`` (HTML builds)."""
  if exception is not None or app.builder.format != "html":
    return
  source, target = _mathjax_source(), os.path.join(app.outdir, "_static", "mathjax")
  os.makedirs(target, exist_ok=True)
  shutil.copy2(os.path.join(source, "tex-svg.js"), target)
  extensions = os.path.join("input", "tex", "extensions")
  shutil.copytree(
    os.path.join(source, extensions), os.path.join(target, extensions), dirs_exist_ok=True
  )


def setup(app):
  _mathjax_source()  # fail at the start of the build, not after it
  app.connect("autodoc-skip-member", _skip_namedtuple_fields)
  app.connect("build-finished", _copy_mathjax)
