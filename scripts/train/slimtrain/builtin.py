"""The built-in architectures and datasets as a factory and a loaders function, for the user-code path:

    train.py qat --model slimtrain.builtin:model --model-args '{"arch": "cnn", "image_shape": [1, 8, 8]}' \\
        --data slimtrain.builtin:loaders --data-args '{"dataset": "digits"}' --bits 4

The layers are plain torch ones (nn.Linear / nn.Conv2d, an nn.Flatten in front of an MLP), the same sizes and
initialisation as models.build_model, so quantize_aware, prune_gradually and export treat them like any user model.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from .data import load_dataset
from .models import Conv, Dense, build_model, make_spec


def model(arch: str = "lenet-300-100", image_shape=(1, 28, 28), classes: int = 10, hidden=None, channels=None,
          fc: int | None = None, dropout: float = 0.0) -> nn.Sequential:
    spec = make_spec(arch, tuple(image_shape), classes, hidden, channels, fc, dropout)
    layers: list[nn.Module] = [nn.Flatten()] if spec["arch"] == "mlp" else []
    for m in build_model(spec):
        if isinstance(m, Dense):
            plain = nn.Linear(m.in_features, m.out_features)
            plain.load_state_dict({"weight": m.weight, "bias": m.bias})
            m = plain
        elif isinstance(m, Conv):
            plain = nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, padding=m.padding)
            plain.load_state_dict({"weight": m.weight, "bias": m.bias})
            m = plain
        layers.append(m)
    return nn.Sequential(*layers)


def loaders(dataset: str = "mnist", data_dir: str | None = None, train_limit: int | None = None,
            test_limit: int | None = None, batch_size: int = 128, seed: int = 0) -> tuple[DataLoader, DataLoader]:
    """(train, test) loaders of images [N, 1, H, W] in [0, 1] and int64 labels (slimtrain.data.load_dataset)."""
    ds = load_dataset(dataset, data_dir, train_limit, test_limit, seed)
    return (DataLoader(TensorDataset(ds.x_train, ds.y_train), batch_size=batch_size, shuffle=True,
                       generator=torch.Generator().manual_seed(seed)),
            DataLoader(TensorDataset(ds.x_test, ds.y_test), batch_size=1000))
