"""Gradual pruning of any nn.Module: AGP cubic schedule (slimtrain/prune.py), unstructured, N:M and output-channel masks.

`prune_gradually(model, AGP(...), "unstructured" | "2:4" | "channel")` swaps the model's weighted layers for their
Slim* versions (slimtrain/layers.py), gives every weight a mask buffer and returns a `GradualPruner`; call its
`step()` after each optimizer step. Masks stay on the layers (and in their state_dict), so a later `quantize_aware`
quantizes only the kept weights. LSTM/GRU weights and attention's input projections take part in unstructured and N:M
pruning (each weight matrix is a unit); channel pruning covers Linear/Conv/ConvTranspose outputs (attention's out_proj
among them) except the classifier (the last of them by default).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .layers import SlimLayer, SlimLSTM, SlimGRU, SlimEmbedding, SlimMultiheadAttention, _excluded, make_slim, slim_layers
from .prune import AGPSchedule, Pruner, _smallest


@dataclass
class AGP:
    """Zhu & Gupta's schedule: s_t = s_f + (s_i − s_f)(1 − t/n)³ at pruning events t = 0..n, one every `every`
    optimizer steps (event 0 when pruning starts), s_f from event n on."""

    final_sparsity: float
    steps: int = 10
    every: int = 1
    initial_sparsity: float = 0.0

    @classmethod
    def over(cls, final_sparsity: float, total_steps: int, steps: int = 10, ramp: float = 0.6,
             initial_sparsity: float = 0.0) -> "AGP":
        """n + 1 events spread over the first `ramp` of `total_steps` optimizer steps."""
        return cls(final_sparsity, steps, max(1, int(ramp * total_steps) // max(1, steps)), initial_sparsity)

    def schedule(self) -> AGPSchedule:
        return AGPSchedule(self.initial_sparsity, self.final_sparsity, self.steps, self.every)


class WeightSlot:
    """One prunable weight of a Slim layer, with the attributes prune.Pruner works on (all updated in place)."""

    def __init__(self, layer: SlimLayer, name: str, with_bias: bool):
        self.layer, self.name, self.with_bias = layer, name, with_bias

    @property
    def weight(self) -> torch.Tensor:
        return getattr(self.layer, self.name)

    @property
    def weight_mask(self) -> torch.Tensor:
        return self.layer.mask_of(self.name)

    @property
    def bias(self):
        return getattr(self.layer, "bias", None) if self.with_bias else None

    @property
    def bias_mask(self):
        return getattr(self.layer, "bias_mask", None) if self.with_bias else None

    @property
    def axis(self) -> int:
        return self.layer.channel_axis


class _SlotList:
    def __init__(self, slots: list[tuple[str, WeightSlot]]):
        self.slots = slots

    def weighted_layers(self):
        return self.slots


def parse_structure(structure: str) -> tuple[str, int, int]:
    """'unstructured' | 'channel' | 'N:M' (at most N nonzero weights in every M consecutive ones) → (kind, n, m)."""
    if structure in ("unstructured", "channel"):
        return structure, 0, 0
    try:
        n, m = (int(v) for v in structure.split(":"))
    except ValueError:
        raise ValueError(f"structure must be unstructured, channel or N:M (e.g. 2:4), not {structure!r}") from None
    if not 0 < n < m:
        raise ValueError(f"N:M needs 0 < N < M, not {structure}")
    return "n:m", n, m


class GradualPruner(Pruner):
    """prune.Pruner over the weights of any module. `step()` after every optimizer step zeroes pruned latent weights
    (Adam's momentum would move them) and prunes further at the schedule's events."""

    def __init__(self, model: nn.Module, agp: AGP, structure: str = "unstructured", scope: str = "global",
                 exclude=(), keep_outputs: list[str] | None = None):
        kind, self.n, self.m = parse_structure(structure)
        if scope not in ("global", "layer"):
            raise ValueError("scope must be global or layer")
        if kind == "n:m" and agp.final_sparsity > (self.m - self.n) / self.m + 1e-9:
            raise ValueError(f"{structure} allows at most {(self.m - self.n) / self.m:.0%} sparsity")
        make_slim(model, exclude)
        layers = [(n, l) for n, l in slim_layers(model) if not _excluded(n, exclude)]
        slots: list[tuple[str, WeightSlot]] = []
        self.skipped: list[str] = []
        if kind == "channel":
            plain = [(n, l) for n, l in layers if not isinstance(l, (SlimLSTM, SlimGRU, SlimEmbedding, SlimMultiheadAttention))]
            keep = set(keep_outputs) if keep_outputs is not None else {plain[-1][0]} if plain else set()
            self.skipped = [n for n, _ in layers if n in keep or (n, _) not in plain]
            for name, l in plain:
                if name in keep:
                    continue
                if isinstance(getattr(l, "bias", None), torch.Tensor) and l.bias_mask is None:
                    l.bias_mask = torch.ones_like(l.bias)
                slots.append((name, WeightSlot(l, "weight", True)))
        else:
            for name, l in layers:
                for w in l.slim_weights:
                    full = f"{name}.{w}" if w != "weight" else name
                    if kind == "n:m" and getattr(l, w)[0].numel() % self.m:
                        self.skipped.append(full)
                        continue
                    slots.append((full, WeightSlot(l, w, False)))
        for _, s in slots:
            if s.weight_mask is None:
                setattr(s.layer, f"{s.name}_mask", torch.ones_like(s.weight))
        self.model = _SlotList(slots)
        self.mode, self.scope, self.layers, self.sparsity = structure, scope, slots, 0.0
        self.kind, self.agp, self.schedule, self.steps = kind, agp, agp.schedule(), 0
        self._event()

    def _event(self) -> None:
        target = self.schedule.target_at(self.steps)
        if target is not None and (target > self.sparsity or self.steps == 0 and target > 0):
            self.prune_to(target)

    def step(self) -> None:
        """Call after each optimizer step."""
        self.apply()
        self.steps += 1
        self._event()

    def finish(self) -> None:
        """Lands on the final sparsity when training ended before the schedule did (no retraining after it)."""
        if self.sparsity < self.agp.final_sparsity:
            self.prune_to(self.agp.final_sparsity)

    @torch.no_grad()
    def prune_to(self, sparsity: float) -> None:
        if self.kind == "unstructured":
            self._unstructured(sparsity)
        elif self.kind == "n:m":
            self._n_m(sparsity)
        else:
            self._channel(sparsity)
        self.apply()
        self.sparsity = sparsity

    def _n_m(self, s: float) -> None:
        # Each group of M may lose its M − N smallest weights; the globally smallest such candidates go first, so
        # sparsity grows gradually and at (M − N) / M every group is exactly N:M (prune.Pruner's 2:4, for any N:M).
        n, m = self.n, self.m
        s = min(s, (m - n) / m)
        cand_scores, cand_masks, total = [], [], 0
        for _, l in self.layers:
            g = (l.weight * l.weight_mask).abs().reshape(-1, m)
            cand = torch.zeros_like(g, dtype=torch.bool)
            cand.scatter_(1, torch.argsort(g, dim=1)[:, : m - n], True)
            cand_masks.append(cand)
            cand_scores.append(g[cand])
            total += g.numel()
        if not cand_scores:
            return
        flat = torch.cat(cand_scores)
        pruned = ~_smallest(flat, min(round(s * total), flat.numel()))
        i = 0
        for (_, l), cand in zip(self.layers, cand_masks):
            c = int(cand.sum())
            keep = torch.ones_like(cand)
            keep[cand] = ~pruned[i : i + c]
            i += c
            l.weight_mask.copy_(keep.reshape(l.weight.shape).to(l.weight_mask.dtype))

    def _channel(self, s: float) -> None:
        for _, l in self.layers:
            w = (l.weight * l.weight_mask).transpose(0, l.axis)
            keep = _smallest(w.flatten(1).norm(dim=1), round(s * w.shape[0])).to(l.weight_mask.dtype)
            shape = [1] * l.weight.dim()
            shape[l.axis] = -1
            l.weight_mask.copy_(keep.view(shape).expand_as(l.weight))
            if l.bias_mask is not None and l.bias_mask.numel() == keep.numel():
                l.bias_mask.copy_(keep)


def prune_gradually(model: nn.Module, schedule: AGP, structure: str = "unstructured", scope: str = "global",
                    exclude=(), keep_outputs: list[str] | None = None) -> GradualPruner:
    """Gradual magnitude pruning of any module, in place. Returns the pruner; call `pruner.step()` after each
    optimizer step (slimtrain.fit does) and `pruner.report()` for the sparsity per weight.
    structure: 'unstructured', 'N:M' (e.g. '2:4') or 'channel'; scope: 'global' (one threshold) or 'layer'
    (unstructured only); exclude: layer names or fnmatch patterns left dense; keep_outputs: layers whose output
    channels are never removed in channel mode (default: the last Linear/Conv, the classifier)."""
    return GradualPruner(model, schedule, structure, scope, exclude, keep_outputs)
