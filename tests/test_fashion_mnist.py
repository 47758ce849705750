"""The Fashion-MNIST reader on small IDX files written here (the real files are not needed)."""

import gzip
import struct

import numpy as np
import pytest

from experiments.common import fashion_mnist


def _write_idx(path, array, gz):
  header = (
    b"\x00\x00\x08" + bytes([array.ndim]) + b"".join(struct.pack(">I", s) for s in array.shape)
  )
  raw = header + array.astype(np.uint8).tobytes()
  with (gzip.open if gz else open)(str(path) + (".gz" if gz else ""), "wb") as f:
    f.write(raw)


@pytest.mark.parametrize("gz", [True, False])
def test_load_pools_and_scales_the_standard_files(tmp_path, gz):
  rng = np.random.default_rng(0)
  images = {"train": rng.integers(0, 256, (6, 28, 28)), "t10k": rng.integers(0, 256, (4, 28, 28))}
  for prefix, x in images.items():
    _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte", x, gz)
    _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", np.arange(len(x)) % 10, gz)
  split = fashion_mnist.load(str(tmp_path), pool=2)
  assert split.x_train.shape == (6, 196) and split.x_test.shape == (4, 196)
  assert split.x_train.dtype == np.float32 and split.y_test.tolist() == [0, 1, 2, 3]
  want = images["train"][1, 2:4, 6:8].mean() / 255.0  # pooled pixel (1, 3) of image 1
  np.testing.assert_allclose(split.x_train[1].reshape(14, 14)[1, 3], want, rtol=1e-6)
  full = fashion_mnist.load(str(tmp_path), pool=1)
  np.testing.assert_allclose(full.x_test.reshape(4, 28, 28), images["t10k"] / 255.0, rtol=1e-6)


def test_missing_files_name_both_ways_to_provide_them(tmp_path, monkeypatch):
  monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
  monkeypatch.setattr(fashion_mnist, "SEARCH", (str(tmp_path / "nowhere"),))
  with pytest.raises(FileNotFoundError, match="make fashion-mnist.*data_dir=/path"):
    fashion_mnist.find()
  with pytest.raises(FileNotFoundError, match="does not hold the Fashion-MNIST IDX files"):
    fashion_mnist.find(str(tmp_path))


def test_a_file_that_is_not_idx_is_refused(tmp_path):
  path = tmp_path / "x"
  path.write_bytes(b"PK\x03\x04 not idx")
  with pytest.raises(ValueError, match="not an unsigned-byte IDX file"):
    fashion_mnist.read_idx(str(path))
