"""An LSTM sequence classifier on a synthetic task: the frequency class (1, 2, 3 or 4 cycles) of a noisy sine wave
of 24 steps with a random phase and amplitude.

    model()    LSTM(1 → 32) on the sequence, Linear on the last hidden state (4.6k parameters)
    student()  GRU(1 → 12), Linear head
    loaders()  (train, validation) DataLoaders: float32 [N, 24, 1], labels int64 in 0..3
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

STEPS, CLASSES = 24, 4


class SequenceClassifier(nn.Module):
    def __init__(self, cell: str = "lstm", hidden: int = 32, classes: int = CLASSES):
        super().__init__()
        self.rnn = (nn.LSTM if cell == "lstm" else nn.GRU)(1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


def model(hidden: int = 32) -> nn.Module:
    return SequenceClassifier("lstm", hidden)


def student(hidden: int = 12) -> nn.Module:
    return SequenceClassifier("gru", hidden)


def make_task(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, CLASSES, (n,), generator=g)
    t = torch.arange(STEPS, dtype=torch.float32) / STEPS
    phase = torch.rand(n, 1, generator=g) * 2 * math.pi
    amp = 0.5 + torch.rand(n, 1, generator=g)
    x = amp * torch.sin(2 * math.pi * (labels[:, None] + 1) * t + phase) + 0.2 * torch.randn(n, STEPS, generator=g)
    return x[:, :, None], labels


def loaders(train_size: int = 2000, val_size: int = 500, batch_size: int = 64, seed: int = 0) -> tuple[DataLoader, DataLoader]:
    xtr, ytr = make_task(train_size, seed)
    xva, yva = make_task(val_size, seed + 1)
    return (DataLoader(TensorDataset(xtr, ytr), batch_size=batch_size, shuffle=True,
                       generator=torch.Generator().manual_seed(seed)),
            DataLoader(TensorDataset(xva, yva), batch_size=256))
