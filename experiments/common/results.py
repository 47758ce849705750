"""Results as files a person can open: atomic JSON writes, NaN guards, tables, plots.

In a multi-process job (``--distributed``) every process runs the same driver
and holds the same host-side values; only process 0 writes result files
(``write_json``, ``write_text``, ``save_figure``), into a work directory the
processes share. Checkpoints (orbax) are written by all processes together.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
from collections.abc import Sequence
from typing import Any


def to_jsonable(obj: Any) -> Any:
  """Converts dataclasses, arrays and numpy scalars to plain JSON values."""
  if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
    return to_jsonable(dataclasses.asdict(obj))
  if isinstance(obj, dict):
    return {str(k): to_jsonable(v) for k, v in obj.items()}
  if isinstance(obj, (list, tuple)):
    return [to_jsonable(v) for v in obj]
  if hasattr(obj, "tolist"):
    return to_jsonable(obj.tolist())
  if isinstance(obj, float) and not math.isfinite(obj):
    return str(obj)  # JSON has no inf / nan
  return obj


def _is_main_process() -> bool:
  from experiments.common import distributed

  return distributed.is_main_process()


def write_text(path: str, text: str) -> None:
  """Writes ``text`` atomically (a crash never leaves half a file); process 0 only."""
  if not _is_main_process():
    return
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
  with os.fdopen(fd, "w") as f:
    f.write(text)
  os.replace(tmp, path)


def write_json(path: str, obj: Any) -> None:
  """Writes ``obj`` as indented JSON atomically; process 0 only."""
  write_text(path, json.dumps(to_jsonable(obj), indent=2, sort_keys=False) + "\n")


def pyplot():
  """``matplotlib.pyplot`` on the file-only Agg backend."""
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  return plt


def save_figure(fig: Any, path: str, *, dpi: int = 110) -> None:
  """Saves ``fig`` to ``path`` (process 0 only) and closes it."""
  if _is_main_process():
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=dpi)
  pyplot().close(fig)


def read_json(path: str, default: Any = None) -> Any:
  """Reads JSON from ``path``; ``default`` when the file does not exist."""
  if not os.path.exists(path):
    return default
  with open(path) as f:
    text = f.read()
  try:
    return json.loads(text)
  except json.JSONDecodeError as e:
    raise ValueError(
      f"{path} is not valid JSON ({e}; {len(text)} bytes): a truncated or "
      f"hand-edited results file. Delete it, or rerun with --fresh to start "
      f"the run over."
    ) from e


class NonFiniteError(FloatingPointError):
  """Raised when training produces NaN / inf; results so far are kept."""


def mean_std(per_seed: Sequence[dict], keys: Sequence[str]) -> dict:
  """``{key}_mean`` and ``{key}_std`` (sample std, ddof 1; NaN for one seed) of each key
  over the per-seed records."""
  import numpy as np

  out = {}
  for k in keys:
    values = np.asarray([s[k] for s in per_seed], np.float64)
    std = float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")
    out[f"{k}_mean"], out[f"{k}_std"] = float(np.mean(values)), std
  return out


def check_finite(values: Any, *, what: str) -> None:
  """Raises :class:`NonFiniteError` naming ``what`` if any value is NaN / inf."""
  import numpy as np

  arr = np.asarray(values, dtype=np.float64)
  if not np.all(np.isfinite(arr)):
    bad = np.argwhere(~np.isfinite(arr))
    raise NonFiniteError(
      f"non-finite values in {what} (first at index {bad[0].tolist()}, "
      f"{len(bad)} in all); stopping. Everything computed before this point "
      "has been saved."
    )


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
  """A Markdown table with floats to 4 significant digits."""
  fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)
  lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
  lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
  return "\n".join(lines)
