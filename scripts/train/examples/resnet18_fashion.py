"""torchvision ResNet-18 with a 10-class head on Fashion-MNIST (Debian's dataset-fashion-mnist), stem adapted to
1-channel 28x28 images: a 3x3 stride-1 first convolution (then the usual max pool, so layer1 runs at 14x14).

    model()    the ResNet-18 (11.2M parameters, randomly initialised: no pretrained weights are fetched)
    student()  a small CNN (conv 16 → conv 32 → fc, 21k parameters) to distil into
    loaders()  (train, validation) DataLoaders: images float32 [N, 1, 28, 28] in [0, 1], labels int64
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torchvision
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from slimtrain.data import images_to_float, load_idx_dir

FASHION_MNIST_DIR = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")  # Debian's path by default
CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"]


def model(classes: int = 10, checkpoint: str | None = None) -> nn.Module:
    net = torchvision.models.resnet18(num_classes=classes)
    net.conv1 = nn.Conv2d(1, 64, kernel_size=3, stride=1, padding=1, bias=False)
    if checkpoint:
        net.load_state_dict(torch.load(checkpoint, map_location="cpu"))
    return net


def student(classes: int = 10, width: int = 16) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(2 * width * 7 * 7, classes),
    )


def _subset(x: np.ndarray, y: np.ndarray, size: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if size is None or size >= len(y):
        return x, y
    idx = np.sort(np.random.RandomState(seed).permutation(len(y))[:size])
    return x[idx], y[idx]


def loaders(train_size: int | None = None, val_size: int | None = None, batch_size: int = 64, seed: int = 0,
            data_dir: str = FASHION_MNIST_DIR) -> tuple[DataLoader, DataLoader]:
    """Train on (a fixed random subset of) the 60k training images, validate on (a subset of) the 10k test images."""
    if not Path(data_dir).is_dir():
        raise FileNotFoundError(f"{data_dir}: install Debian's dataset-fashion-mnist (node scripts/prerequisites.mjs)")
    tri, trl, tei, tel = load_idx_dir(data_dir)
    xtr, ytr = _subset(images_to_float(tri)[:, None], trl.astype(np.int64), train_size, seed)
    xte, yte = _subset(images_to_float(tei)[:, None], tel.astype(np.int64), val_size, seed + 1)
    train = TensorDataset(torch.from_numpy(np.ascontiguousarray(xtr)), torch.from_numpy(ytr))
    val = TensorDataset(torch.from_numpy(np.ascontiguousarray(xte)), torch.from_numpy(yte))
    return (DataLoader(train, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed)),
            DataLoader(val, batch_size=256))
