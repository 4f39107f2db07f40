"""Gradual magnitude pruning: the AGP cubic schedule and masks (unstructured, 2:4, output-channel)."""
from __future__ import annotations

import torch

from .models import SlimNet

MODES = ("unstructured", "2:4", "channel")


def agp_sparsity(step: int, s_i: float, s_f: float, n_steps: int) -> float:
    """Zhu & Gupta (2017): s_t = s_f + (s_i - s_f) * (1 - t / n)^3 for pruning step t in [0, n]; s_f from step n on."""
    if n_steps <= 0 or step >= n_steps:
        return s_f
    if step <= 0:
        return s_i
    return s_f + (s_i - s_f) * (1.0 - step / n_steps) ** 3


def _smallest(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Boolean mask of exactly k smallest entries (ties broken by position)."""
    flat = scores.flatten()
    keep = torch.ones_like(flat, dtype=torch.bool)
    if k > 0:
        keep[torch.sort(flat, stable=True).indices[:k]] = False
    return keep.view_as(scores)


def nm_groups_ok(weight: torch.Tensor, m: int = 4) -> bool:
    """N:M sparsity groups M consecutive weights along the input (reduction) dim of each output row."""
    return weight[0].numel() % m == 0


class Pruner:
    """Holds the masks of a model's Conv/Dense weights and tightens them to a target sparsity.
    Pruned weights never come back: scores are magnitudes of the already-masked weights."""

    def __init__(self, model: SlimNet, mode: str = "unstructured", scope: str = "global"):
        if mode not in MODES:
            raise ValueError(f"prune mode must be one of {MODES}")
        if scope not in ("global", "layer"):
            raise ValueError("scope must be global or layer")
        self.model, self.mode, self.scope = model, mode, scope
        layers = model.weighted_layers()
        if mode == "channel":
            layers = layers[:-1]  # the classifier's rows are the classes: never removed
        elif mode == "2:4":
            self.skipped = [n for n, l in layers if not nm_groups_ok(l.weight)]
            layers = [(n, l) for n, l in layers if nm_groups_ok(l.weight)]
        self.skipped = getattr(self, "skipped", [])
        self.layers = layers
        for _, layer in self.layers:
            if layer.weight_mask is None:
                layer.weight_mask = torch.ones_like(layer.weight)
            if mode == "channel" and layer.bias_mask is None:
                layer.bias_mask = torch.ones_like(layer.bias)
        self.sparsity = 0.0

    @torch.no_grad()
    def prune_to(self, sparsity: float) -> None:
        if self.mode == "unstructured":
            self._unstructured(sparsity)
        elif self.mode == "2:4":
            self._two_four(sparsity)
        else:
            self._channel(sparsity)
        self.apply()
        self.sparsity = sparsity

    def _unstructured(self, s: float) -> None:
        scores = [(l.weight * l.weight_mask).abs() for _, l in self.layers]
        if self.scope == "layer":
            for (_, l), sc in zip(self.layers, scores):
                l.weight_mask.copy_(_smallest(sc, round(s * sc.numel())).to(l.weight_mask.dtype))
            return
        flat = torch.cat([sc.flatten() for sc in scores])
        keep = _smallest(flat, round(s * flat.numel()))
        i = 0
        for (_, l), sc in zip(self.layers, scores):
            l.weight_mask.copy_(keep[i : i + sc.numel()].view_as(sc).to(l.weight_mask.dtype))
            i += sc.numel()

    def _two_four(self, s: float) -> None:
        # Each group of 4 may lose its 2 smallest weights; the globally smallest such candidates go first,
        # so sparsity grows gradually and at s = 0.5 every group is exactly 2:4.
        s = min(s, 0.5)
        cand_scores, cand_masks, sizes = [], [], []
        for _, l in self.layers:
            g = (l.weight * l.weight_mask).abs().reshape(-1, 4)
            order = torch.argsort(g, dim=1)
            cand = torch.zeros_like(g, dtype=torch.bool)
            cand.scatter_(1, order[:, :2], True)
            cand_masks.append(cand)
            cand_scores.append(g[cand])
            sizes.append(g.numel())
        flat = torch.cat(cand_scores)
        total = sum(sizes)
        k = min(round(s * total), flat.numel())
        pruned = ~_smallest(flat, k)
        i = 0
        for (_, l), cand in zip(self.layers, cand_masks):
            n = int(cand.sum())
            keep = torch.ones_like(cand)
            keep[cand] = ~pruned[i : i + n]
            i += n
            l.weight_mask.copy_(keep.reshape(l.weight.shape).to(l.weight_mask.dtype))

    def _channel(self, s: float) -> None:
        for _, l in self.layers:
            norms = (l.weight * l.weight_mask).flatten(1).norm(dim=1)
            keep = _smallest(norms, round(s * norms.numel())).to(l.weight_mask.dtype)
            l.weight_mask.copy_(keep.view(-1, *([1] * (l.weight.dim() - 1))).expand_as(l.weight))
            l.bias_mask.copy_(keep)

    @torch.no_grad()
    def apply(self) -> None:
        """Zeroes the latent weights under the masks (called after every optimizer step so Adam's momentum cannot revive them)."""
        for _, l in self.layers:
            l.weight.mul_(l.weight_mask)
            if l.bias_mask is not None:
                l.bias.mul_(l.bias_mask)

    def report(self) -> dict:
        per_layer = {}
        zeros = total = 0
        for name, l in self.model.weighted_layers():
            w = l.weight if l.weight_mask is None else l.weight * l.weight_mask
            z = int((w == 0).sum())
            per_layer[name] = {"sparsity": z / w.numel(), "weights": w.numel()}
            zeros += z
            total += w.numel()
        return {"mode": self.mode, "scope": self.scope, "target": self.sparsity,
                "sparsity": zeros / total, "layers": per_layer, "skipped_layers": self.skipped}


class AGPSchedule:
    """Maps optimizer steps to pruning events: n_steps + 1 events, every `every` steps from step 0."""

    def __init__(self, s_i: float, s_f: float, n_steps: int, every: int):
        self.s_i, self.s_f, self.n, self.every = s_i, s_f, n_steps, max(1, every)

    def target_at(self, step: int) -> float | None:
        """The sparsity to prune to before this optimizer step, or None when no pruning event falls here."""
        if step % self.every or step // self.every > self.n:
            return None
        return agp_sparsity(step // self.every, self.s_i, self.s_f, self.n)
