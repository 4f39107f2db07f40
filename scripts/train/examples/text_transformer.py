"""A small transformer text classifier on a synthetic task: which of four marker tokens occurs most often in a
sequence of 16 tokens (the rest drawn from 27 filler tokens). Attention is written with Linear projections, so every
weight matrix is a Linear or an Embedding that slimtrain quantizes.

    model()    2 blocks, d = 32, 2 heads (27k parameters);  student()  1 block, d = 16
    loaders()  (train, validation) DataLoaders: token ids int64 [N, 16], labels int64 in 0..3
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

VOCAB, SEQ_LEN, CLASSES = 32, 16, 4
MARKERS = torch.arange(1, CLASSES + 1)  # token ids 1..4; 0 is unused, 5..31 are filler


class Block(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.ff1, self.ff2 = nn.Linear(d, 2 * d), nn.Linear(2 * d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).reshape(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        att = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d // self.heads), dim=-1)
        x = x + self.proj((att @ v).transpose(1, 2).reshape(b, t, d))
        return x + self.ff2(F.gelu(self.ff1(self.ln2(x))))


class TextClassifier(nn.Module):
    def __init__(self, d: int = 32, heads: int = 2, layers: int = 2, classes: int = CLASSES):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, d)
        self.pos = nn.Parameter(torch.randn(1, SEQ_LEN, d) * 0.02)
        self.blocks = nn.Sequential(*[Block(d, heads) for _ in range(layers)])
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.tok(ids) + self.pos[:, : ids.shape[1]])
        return self.head(self.ln(h).mean(1))


def model(d: int = 32, heads: int = 2, layers: int = 2) -> nn.Module:
    return TextClassifier(d, heads, layers)


def student(d: int = 16, heads: int = 2, layers: int = 1) -> nn.Module:
    return TextClassifier(d, heads, layers)


def make_task(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequences whose most frequent marker (k + 1 copies; every other marker at most k) is the label."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(CLASSES + 1, VOCAB, (n, SEQ_LEN), generator=g)
    labels = torch.randint(0, CLASSES, (n,), generator=g)
    for i in range(n):
        k = int(torch.randint(1, 4, (1,), generator=g))
        tokens = [int(labels[i]) + 1] * (k + 1)
        for c in range(1, CLASSES + 1):
            if c != int(labels[i]) + 1:
                tokens += [c] * int(torch.randint(0, k + 1, (1,), generator=g))
        pos = torch.randperm(SEQ_LEN, generator=g)[: len(tokens)]
        ids[i, pos] = torch.tensor(tokens)
    return ids, labels


def loaders(train_size: int = 4000, val_size: int = 1000, batch_size: int = 64, seed: int = 0) -> tuple[DataLoader, DataLoader]:
    xtr, ytr = make_task(train_size, seed)
    xva, yva = make_task(val_size, seed + 1)
    return (DataLoader(TensorDataset(xtr, ytr), batch_size=batch_size, shuffle=True,
                       generator=torch.Generator().manual_seed(seed)),
            DataLoader(TensorDataset(xva, yva), batch_size=256))
