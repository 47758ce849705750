"""Every public name imports; modules declare what they export."""

import importlib
import os
import pkgutil
import subprocess
import sys

import pytest

import fdiv_jax

# Every public module of the package, read from the package itself.
MODULES = sorted(m.name for m in pkgutil.iter_modules(fdiv_jax.__path__) if m.name[0] != "_")


def test_every_name_in_all_imports_and_every_module_is_exported():
  for name in fdiv_jax.__all__:
    getattr(fdiv_jax, name)  # raises AttributeError if the name does not resolve
  assert set(MODULES) <= set(fdiv_jax.__all__), sorted(set(MODULES) - set(fdiv_jax.__all__))
  assert {"fab", "smc", "targets", "flows"} <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_module_all_is_complete(module):
  mod = importlib.import_module(f"fdiv_jax.{module}")
  for name in mod.__all__:
    assert hasattr(mod, name), f"fdiv_jax.{module}.{name}"
    assert getattr(mod, name).__doc__, f"fdiv_jax.{module}.{name} has no docstring"


def _run_python(code: str) -> None:
  """Runs ``code`` in a fresh interpreter (CPU) from the repository root; it must exit 0."""
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  proc = subprocess.run(
    [sys.executable, "-c", code],
    cwd=root,
    capture_output=True,
    text=True,
    env=dict(os.environ, JAX_PLATFORMS="cpu"),
    timeout=300,
  )
  assert proc.returncode == 0, proc.stderr[-3000:]


def test_import_does_not_start_the_backend():
  """``jax.distributed.initialize`` (multi-host) and the XLA flag of
  ``_xla_workarounds`` must come before the backend starts; importing fdiv_jax
  (and the experiments' modules) must not start it (blackjax's import does)."""
  code = (
    "import fdiv_jax, experiments.boltzmann.train, experiments.one_step_diffusion.train\n"
    "from jax._src import xla_bridge\n"
    "assert not xla_bridge.backends_are_initialized(), 'backend started on import'\n"
  )
  _run_python(code)


def test_registry_users_do_not_load_flax_distrax_or_ott():
  """``import fdiv_jax`` and the registry / Monte-Carlo losses leave flax, distrax and OTT
  unloaded; the flows and transport modules (and their top-level names) load them on use."""
  code = (
    "import sys, fdiv_jax as fd\n"
    "fd.f_divergence([0.0, 1.0], [0.5, 0.5], divergence='js')\n"
    "heavy = ('flax', 'distrax', 'ott')\n"
    "assert not [m for m in heavy if m in sys.modules], [m for m in heavy if m in sys.modules]\n"
    "assert callable(fd.sinkhorn_divergence) and 'ott' in sys.modules\n"
    "assert fd.flows.real_nvp and 'flax' in sys.modules and 'distrax' in sys.modules\n"
    "assert 'flows' in dir(fd) and 'sinkhorn_kd_loss' in dir(fd)\n"
  )
  _run_python(code)


def test_package_data_ships_gmm40_means():
  from importlib import resources

  text = resources.files("fdiv_jax").joinpath("data/gmm40_means.txt").read_text()
  assert len(text.strip().splitlines()) == 40


def test_docstring_examples_run():
  import doctest

  for module in MODULES:
    mod = importlib.import_module(f"fdiv_jax.{module}")
    failures, _ = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert failures == 0, module
