"""The core install and its extras: what ``import fdiv_jax`` needs, and the error that names
a missing extra. Run in the full environment (``make test``) and in the core-only one
(``make test-core``, ``FDIV_CORE_ONLY=1``), where the optional modules must be absent."""

import os
import subprocess
import sys

import pytest

CORE_ONLY = os.environ.get("FDIV_CORE_ONLY") == "1"
OPTIONAL = ("flax", "distrax", "ott", "blackjax", "orbax")


def _run(code: str) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_import_fdiv_jax_loads_no_optional_dependency():
  out = _run(
    "import sys, fdiv_jax as fd, jax.numpy as jnp\n"
    "fd.kd_loss(jnp.zeros((2, 3)), jnp.ones((2, 3)))\n"
    "fd.f_divergence(jnp.zeros(4), jnp.zeros(4), divergence='js')\n"
    f"print(sorted(m for m in {OPTIONAL!r} if m in sys.modules))"
  )
  assert out.returncode == 0, out.stderr
  assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
  "code, extra",
  [
    ("import fdiv_jax.flows", "flows"),
    ("import fdiv_jax as fd; fd.transport", "transport"),
    (
      "import fdiv_jax as fd, jax.numpy as jnp; fd.smc.tempered_smc(None, jnp.zeros((4, 2)), "
      "log_base=lambda x: x.sum(-1), log_target=lambda x: x.sum(-1))",
      "samplers",
    ),
    (
      "import fdiv_jax as fd, jax, jax.numpy as jnp; fd.annealing.ais(jax.random.PRNGKey(0), "
      "jnp.zeros((4, 2)), log_base=lambda x: x.sum(-1), log_target=lambda x: x.sum(-1), "
      "betas=jnp.linspace(0, 1, 3))",
      "samplers",
    ),
  ],
)
def test_a_missing_extra_is_named(code, extra):
  # In the full environment, hide the extra's modules (a None entry in sys.modules makes
  # their import fail as if they were not installed).
  hide = "" if CORE_ONLY else f"import sys; sys.modules.update(dict.fromkeys({OPTIONAL!r}))\n"
  out = _run(hide + code)
  assert out.returncode != 0
  assert f'pip install "fdiv-jax[{extra}]"' in out.stderr, out.stderr[-2000:]


@pytest.mark.skipif(not CORE_ONLY, reason="checks the core-only environment of make test-core")
def test_core_environment_has_no_optional_package():
  import importlib.util

  assert [m for m in OPTIONAL if importlib.util.find_spec(m) is not None] == []
