"""Trained quantization by weight sharing (Deep Compression, Han et al. 2016): each layer's surviving weights are
clustered by k-means (linear initialisation over [min, max], which the paper found best: it keeps the rare large
weights represented), every weight becomes its cluster's centroid, and fine-tuning moves the centroids by the summed
gradients of their members (a parametrization weight = centroids[index]: autograd's gradient of an index gather is
exactly that sum). Pruned weights keep index 0, whose centroid is 0 and stays there under the mask."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize

from .models import SlimNet


def kmeans_1d(values: torch.Tensor, k: int, iterations: int = 100) -> tuple[torch.Tensor, torch.Tensor]:
    """k centroids (ascending) of the values from a linear start, Lloyd steps until no centroid moves; each value's index."""
    v = values.detach().flatten().double()
    c = torch.linspace(float(v.min()), float(v.max()), k, dtype=torch.float64)
    nearest = lambda cents: torch.argmin((v[:, None] - cents[None, :]).abs(), dim=1)  # noqa: E731
    for _ in range(iterations):
        idx = nearest(c)
        sums = torch.zeros_like(c).scatter_add_(0, idx, v)
        counts = torch.bincount(idx, minlength=k).double()
        moved = torch.where(counts > 0, sums / counts.clamp(min=1), c)
        if torch.equal(moved, c):
            break
        c = moved
    c = c.float().double()  # assign against the float32 values the model will hold
    return c.float(), nearest(c)


class SharedWeights(nn.Module):
    """The parametrization weight = centroids[index]."""

    def __init__(self, index: torch.Tensor, centroids: torch.Tensor):
        super().__init__()
        self.register_buffer("index", index)
        self._initial = centroids

    def forward(self, centroids: torch.Tensor) -> torch.Tensor:
        return centroids[self.index]

    def right_inverse(self, _weight: torch.Tensor) -> torch.Tensor:
        return self._initial


def share_weights(model: SlimNet, bits: int, iterations: int = 100) -> dict:
    """Every weighted layer's weight shared among 2^bits values (2^bits - 1 and an exact 0 where the layer is pruned),
    in place; returns per layer the centroids' count and the weights' error before any fine-tuning."""
    report = {}
    for name, layer in model.weighted_layers():
        w = layer.weight.detach()
        mask = layer.weight_mask
        kept = torch.ones_like(w, dtype=torch.bool) if mask is None else mask.bool()
        k = 2 ** bits - (0 if mask is None else 1)
        centroids, idx = kmeans_1d(w[kept], k, iterations)
        index = torch.zeros(w.shape, dtype=torch.long, device=w.device)
        offset = 0 if mask is None else 1
        index[kept] = idx.to(w.device) + offset
        table = centroids.to(w.device) if mask is None else torch.cat([torch.zeros(1, device=w.device), centroids.to(w.device)])
        parametrize.register_parametrization(layer, "weight", SharedWeights(index, table))
        shared = layer.weight.detach()
        err = ((shared - w) * kept).pow(2).sum() / (w * kept).pow(2).sum().clamp(min=1e-30)
        report[name] = {"centroids": int(table.numel()), "relative_squared_error": float(err)}
    return report


def unshare(model: SlimNet) -> None:
    """The shared values made plain weights again (export, sizing): each layer holds at most 2^bits distinct values."""
    for _, layer in model.weighted_layers():
        if parametrize.is_parametrized(layer, "weight"):
            parametrize.remove_parametrizations(layer, "weight", leave_parametrized=True)
