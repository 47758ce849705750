"""Shared fixtures and reference formulas (float64 NumPy, textbook forms).

Compiler effort. The suite's programs are small and XLA's compile time dominates
its wall time, so by default the suite runs with JAX's
``jax_disable_most_optimizations`` (XLA backend optimisation level 0, no
expensive LLVM passes: about half the wall time, measured on the end-to-end
tests). The programs and their semantics are the same; only how hard XLA
optimises them changes. ``JAX_DISABLE_MOST_OPTIMIZATIONS=0 make test`` runs the
suite fully optimised; tests of optimised-compiler behaviour (the CPU
miscompilation that ``fdiv_jax/_xla_workarounds.py`` avoids) request the
``optimizing_compiler`` fixture. Subprocesses inherit the setting.

Compilation cache. The two xdist workers (and the subprocess tests) share one
JAX persistent compilation cache for the run, in a fresh temporary directory
removed at the end: resumed experiment runs and tests that rebuild the same
program then load it instead of compiling it again (about 9% of the end-to-end
tests' wall time). It starts empty every run, so timings are those of a clean
checkout. ``FDIV_JAX_TEST_CACHE=0`` turns it off.
"""

import gc
import os
import shutil
import tempfile

os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")


def _cache_dir() -> tuple[str | None, bool]:
  """The run's cache directory and whether this process made it (and removes it)."""
  if os.environ.get("FDIV_JAX_TEST_CACHE", "1").lower() in ("0", "false"):
    return None, False
  if "FDIV_JAX_TEST_CACHE_DIR" in os.environ:  # an xdist worker or a subprocess
    return os.environ["FDIV_JAX_TEST_CACHE_DIR"], False
  # The controller loads this file before it starts the workers; they inherit it.
  os.environ["FDIV_JAX_TEST_CACHE_DIR"] = tempfile.mkdtemp(prefix="fdiv_jax_test_jax_cache_")
  return os.environ["FDIV_JAX_TEST_CACHE_DIR"], True


_CACHE, _OWN_CACHE = _cache_dir()
if _CACHE is not None:
  os.environ["JAX_COMPILATION_CACHE_DIR"] = _CACHE
  os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
  os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"

import jax  # noqa: E402  (after the environment default above)
import numpy as np  # noqa: E402
import pytest  # noqa: E402

jax.config.update(
  "jax_disable_most_optimizations",
  os.environ["JAX_DISABLE_MOST_OPTIMIZATIONS"].lower() not in ("0", "false"),
)
if _CACHE is not None:
  jax.config.update("jax_compilation_cache_dir", _CACHE)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def pytest_sessionfinish(session):
  """The process that made the run's compilation cache removes it."""
  if _OWN_CACHE:
    shutil.rmtree(_CACHE, ignore_errors=True)


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
  """Drops JAX's in-memory caches (traces, compiled executables) after each test module.

  Without it a worker keeps every program the suite traced and compiled alive to the end,
  and late modules slow down many times over; programs a later module needs again come
  back from the persistent compilation cache."""
  yield
  jax.clear_caches()
  gc.collect()


@pytest.fixture
def optimizing_compiler():
  """XLA's full optimisation pipeline for the duration of one test (programs
  compiled inside it are new, so no cached unoptimised executable is reused)."""
  before = jax.config.values["jax_disable_most_optimizations"]
  jax.config.update("jax_disable_most_optimizations", False)
  yield
  jax.config.update("jax_disable_most_optimizations", before)


# Orders of the alpha family exercised everywhere, including both limits.
ALPHAS = (-1.0, 1e-5, 0.5, 1.0 - 1e-5, 1.0, 2.0, 3.0, 0.0)


def textbook_f(name, log_u, alpha=None):
  """f(u) in the naive textbook form, evaluated in float64."""
  l = np.asarray(log_u, np.float64)
  u = np.exp(l)
  with np.errstate(over="ignore", invalid="ignore"):
    if name == "kl":
      return u * l
    if name == "reverse_kl":
      return -l
    if name == "js":
      return u * l - (1 + u) * np.log((1 + u) / 2)
    if name == "gan":
      # u log u - (1 + u) log(1 + u), rearranged to avoid float64 cancellation
      return -u * np.log1p(1 / u) - np.log1p(u)
    if name == "squared_hellinger":
      return (np.sqrt(u) - 1) ** 2
    if name == "pearson":
      return (u - 1) ** 2
    if name == "neyman":
      return (1 - u) ** 2 / u
    if name == "total_variation":
      return 0.5 * np.abs(u - 1)
    if name == "jeffreys":
      return (u - 1) * l
    if name == "triangular":
      return (u - 1) ** 2 / (u + 1)
    if name == "alpha":
      a = alpha
      if a == 1.0:
        return u * l - u + 1
      if a == 0.0:
        return -l + u - 1
      return (np.exp(a * l) - 1 - a * (u - 1)) / (a * (a - 1))
  raise KeyError(name)


def textbook_weight(name, log_r, alpha=None):
  """h(r) = r^2 f''(r) in float64."""
  r = np.exp(np.asarray(log_r, np.float64))
  with np.errstate(over="ignore", invalid="ignore"):
    return {
      "kl": lambda: r,
      "reverse_kl": lambda: np.ones_like(r),
      "js": lambda: r / (1 + r),
      "gan": lambda: r / (1 + r),
      "squared_hellinger": lambda: 0.5 * np.sqrt(r),
      "pearson": lambda: 2 * r**2,
      "neyman": lambda: 2 / r,
      "jeffreys": lambda: 1 + r,
      "triangular": lambda: 8 * r**2 / (1 + r) ** 3,
      "alpha": lambda: r**alpha,
    }[name]()


def entries():
  """(id, name, params) for every registered entry, alpha at several orders."""
  import fdiv_jax as fd

  out = []
  for name in fd.available():
    if name == "alpha":
      out += [(f"alpha={a:g}", "alpha", {"alpha": a}) for a in ALPHAS]
    else:
      out.append((name, name, {}))
  return out


ENTRIES = entries()
ENTRY_IDS = [e[0] for e in ENTRIES]


@pytest.fixture(params=ENTRIES, ids=ENTRY_IDS)
def entry(request):
  import fdiv_jax as fd

  _, name, params = request.param
  return fd.get(name, **params), name, params.get("alpha")
