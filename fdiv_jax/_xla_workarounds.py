"""Work around an XLA:CPU miscompilation before JAX starts its CPU backend.

jaxlib 0.10.2's CPU compiler fuses a reduction and its elementwise producer
into one YNNPACK kernel; when the producer holds two ``expm1`` of the same
input (as the alpha family's generator does) and the reduced axis has 4 096
or more elements, the sum comes out wrong: ``jit(sum(expm1(x / 2) -
expm1(x)))`` differs from the eager value by 100% (measured; regression test
``test_jit_equals_eager_on_large_batches``). Excluding reductions from YNNPACK
fusion (``--xla_cpu_experimental_ynn_fusion_type=-reduce``) fixes it. The flag
is appended to ``XLA_FLAGS`` only for the jaxlib versions known to have both
the bug and the flag (an unknown flag would abort XLA), only if the user has
not set it (an INFO log line of the ``fdiv_jax`` logger says so), and only
takes effect if fdiv_jax is imported before the CPU backend starts (importing
jax does not start it). Imported after, it warns (``RuntimeWarning``); the
package's own formulas do not hit the miscompiled fusion in either order
(``test_jit_equals_eager_whatever_the_import_order`` runs the alpha family
and the exp-form entries jitted and eager in a fresh process started the
wrong way).
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import sys
import warnings

_FLAG = "--xla_cpu_experimental_ynn_fusion_type"
_AFFECTED = ("0.10.2",)


def apply() -> bool:
  """Appends the flag if needed; returns whether ``XLA_FLAGS`` now carries it."""
  flags = os.environ.get("XLA_FLAGS", "")
  if _FLAG in flags:
    return True
  try:
    version = importlib.metadata.version("jaxlib")
  except importlib.metadata.PackageNotFoundError:
    return False
  if version not in _AFFECTED:
    return False
  os.environ["XLA_FLAGS"] = f"{flags} {_FLAG}=-reduce".strip()
  if _backend_started():
    warnings.warn(
      f"JAX's backend started before fdiv_jax was imported, so the workaround for "
      f"jaxlib {version}'s XLA:CPU reduce-fusion miscompilation ({_FLAG}=-reduce, "
      f"see fdiv_jax/_xla_workarounds.py) cannot act in this process. fdiv_jax's "
      f"own estimators are written so that the miscompiled fusion does not arise "
      f"(tested in this import order), but jitted sums of two expm1 of one input in "
      f"your own code can be wrong at >= 4096 elements: import fdiv_jax before "
      f"using JAX, or set XLA_FLAGS={_FLAG}=-reduce before starting Python.",
      RuntimeWarning,
      stacklevel=3,
    )
  else:
    logging.getLogger("fdiv_jax").info(
      "appended %s=-reduce to XLA_FLAGS (jaxlib %s XLA:CPU miscompilation; see "
      "fdiv_jax/_xla_workarounds.py)",
      _FLAG,
      version,
    )
  return True


def _backend_started() -> bool:
  """Whether a JAX backend exists already (then XLA_FLAGS are read and fixed)."""
  if "jax" not in sys.modules:
    return False
  try:
    from jax._src import xla_bridge  # private, so guarded

    return bool(xla_bridge.backends_are_initialized())
  except (ImportError, AttributeError):
    return False
