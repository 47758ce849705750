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
not set it, and only takes effect if fdiv_jax is imported before the CPU
backend starts (importing jax does not start it).
"""

from __future__ import annotations

import importlib.metadata
import os

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
  return True
