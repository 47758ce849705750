"""Fashion-MNIST from its standard IDX files (60 000 train / 10 000 test, 28 x 28, 10 classes).

Nothing is downloaded at run time. The files are looked up, in this order, in the directory
given as ``data_dir``, in ``$FASHION_MNIST_DIR``, in ``.data/fashion-mnist`` of the
repository (``make fashion-mnist`` unpacks Debian's ``dataset-fashion-mnist`` there) and in
``/usr/share/datasets/fashion-mnist`` (``apt-get install dataset-fashion-mnist``). The names
are the standard ``{train,t10k}-{images-idx3,labels-idx1}-ubyte``, gzipped or not.

Xiao, Rasul, Vollgraf. Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine Learning
Algorithms. arXiv:1708.07747, 2017 (MIT licence).
"""

from __future__ import annotations

import gzip
import os

import numpy as np

from experiments.common.digits import Split

CLASSES = (
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
)
FILES = {
  "x_train": "train-images-idx3-ubyte",
  "y_train": "train-labels-idx1-ubyte",
  "x_test": "t10k-images-idx3-ubyte",
  "y_test": "t10k-labels-idx1-ubyte",
}
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEARCH = (
  os.path.join(_ROOT, ".data", "fashion-mnist"),
  "/usr/share/datasets/fashion-mnist",
)


def find(data_dir: str | None = None) -> str:
  """The first directory holding all four IDX files; a ``FileNotFoundError`` naming the ways
  to provide them otherwise."""
  candidates = [d for d in (data_dir, os.environ.get("FASHION_MNIST_DIR")) if d] + list(SEARCH)
  for folder in candidates:
    if all(_path(folder, name) for name in FILES.values()):
      return folder
  if data_dir:
    raise FileNotFoundError(
      f"data_dir={data_dir!r} does not hold the Fashion-MNIST IDX files {sorted(FILES.values())} "
      "(gzipped or not)"
    )
  raise FileNotFoundError(
    "Fashion-MNIST not found. Either run `make fashion-mnist` (unpacks Debian's "
    "dataset-fashion-mnist into .data/fashion-mnist) or `apt-get install dataset-fashion-mnist`, "
    "or point the experiment at a directory with the standard IDX files "
    f"{sorted(FILES.values())}: `--set data_dir=/path` or FASHION_MNIST_DIR=/path. "
    f"Looked in: {candidates}"
  )


def _path(folder: str, name: str) -> str | None:
  for candidate in (os.path.join(folder, name), os.path.join(folder, name + ".gz")):
    if os.path.exists(candidate):
      return candidate
  return None


def read_idx(path: str) -> np.ndarray:
  """An IDX array (unsigned bytes): magic ``0x0000 08 NDIM``, then NDIM big-endian sizes."""
  opener = gzip.open if path.endswith(".gz") else open
  with opener(path, "rb") as f:
    raw = f.read()
  if raw[:2] != b"\x00\x00" or raw[2] != 0x08:
    raise ValueError(f"{path} is not an unsigned-byte IDX file (magic {raw[:4]!r})")
  ndim = raw[3]
  shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
  data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
  if data.size != int(np.prod(shape)):
    raise ValueError(f"{path}: header says {shape}, found {data.size} values")
  return data.reshape(shape)


def load(data_dir: str | None = None, *, pool: int = 2) -> Split:
  """Pixels in [0, 1], flattened, after ``pool x pool`` average pooling (28 -> 14 for 2).

  Args:
    data_dir: Directory of the IDX files; None searches the places named in the module
      docstring.
    pool: Side of the average-pooling window (1 keeps 28 x 28).

  Returns:
    A :class:`~experiments.common.digits.Split` with ``x`` ``[n, (28 / pool)^2]`` float32
    and ``y`` ``[n]`` int32.
  """
  if 28 % pool:
    raise ValueError(f"pool must divide 28, got {pool}")
  folder = find(data_dir)
  arrays = {key: read_idx(_path(folder, name)) for key, name in FILES.items()}
  side = 28 // pool

  def pixels(x):
    x = x.astype(np.float32).reshape(-1, side, pool, side, pool).mean(axis=(2, 4)) / 255.0
    return x.reshape(x.shape[0], side * side)

  return Split(
    pixels(arrays["x_train"]),
    arrays["y_train"].astype(np.int32),
    pixels(arrays["x_test"]),
    arrays["y_test"].astype(np.int32),
  )
