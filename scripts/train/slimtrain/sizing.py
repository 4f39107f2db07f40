"""Storage accounting in the style of Deep Compression: dense fp32, sparse (relative indices), quantized, Huffman-coded."""
from __future__ import annotations

import heapq
from collections import Counter

import numpy as np
import torch

from .models import Conv, SlimNet
from .quant import quantize_weight

# Deep Compression stores the gap to the previous nonzero in 8 bits for conv and 5 bits for fc layers;
# a gap larger than the index range is bridged with an explicit zero entry.
INDEX_BITS = {"conv": 8, "fc": 5}


def huffman_code_lengths(counts: dict) -> dict:
    """Code length in bits per symbol of a Huffman code for the given symbol counts (1 bit for a single symbol)."""
    if not counts:
        return {}
    if len(counts) == 1:
        return {next(iter(counts)): 1}
    heap = [(c, i, [s]) for i, (s, c) in enumerate(counts.items())]
    heapq.heapify(heap)
    lengths = {s: 0 for s in counts}
    tie = len(heap)
    while len(heap) > 1:
        c1, _, s1 = heapq.heappop(heap)
        c2, _, s2 = heapq.heappop(heap)
        for s in s1 + s2:
            lengths[s] += 1
        heapq.heappush(heap, (c1 + c2, tie, s1 + s2))
        tie += 1
    return lengths


def huffman_bits(symbols) -> int:
    counts = Counter(symbols)
    lengths = huffman_code_lengths(counts)
    return sum(counts[s] * lengths[s] for s in counts)


def relative_indices(flat_nonzero_positions: np.ndarray, index_bits: int) -> tuple[np.ndarray, int]:
    """Gaps between successive stored entries, with filler entries where a gap exceeds the index range.
    Returns (gaps incl. fillers, number of filler entries)."""
    limit = 2 ** index_bits
    gaps, fillers, prev = [], 0, -1
    for pos in flat_nonzero_positions.tolist():
        gap = pos - prev
        while gap > limit:  # an explicit zero stored `limit` positions on
            gaps.append(limit)
            fillers += 1
            gap -= limit
        gaps.append(gap)
        prev = pos
    return np.asarray(gaps, dtype=np.int64), fillers


def _sparse_layer(l, bias_float_bits: int = 32) -> tuple:
    """A layer's masked weight, its bias bits, its relative-index width, the flat weights, their nonzero positions,
    the index gaps and the filler entries bridging gaps past the index range."""
    w = l.weight if l.weight_mask is None else l.weight * l.weight_mask
    b = l.effective_bias()
    bias_bits = bias_float_bits * (b.numel() if b is not None else 0)
    ib = INDEX_BITS["conv" if isinstance(l, Conv) else "fc"]
    flat = w.detach().flatten().cpu().numpy()
    nz = np.flatnonzero(flat)
    gaps, fillers = relative_indices(nz, ib)
    return w, bias_bits, ib, flat, nz, gaps, fillers


@torch.no_grad()
def storage_report(model: SlimNet, bits: int) -> dict:
    """Bytes at each Deep Compression stage for the model's current (masked) weights, quantized to `bits` per-channel."""
    stages = {"dense_fp32": 0.0, "pruned_sparse": 0.0, "quantized": 0.0, "entropy_coded": 0.0}
    layers = {}
    for name, l in model.weighted_layers():
        w, bias_bits, ib, flat, nz, gaps, fillers = _sparse_layer(l)
        entries = len(nz) + fillers
        q, scale = quantize_weight(w, bits)
        qflat = q.flatten().cpu().numpy().astype(np.int64)
        # Values of the stored entries (fillers store level 0).
        stored_levels = np.concatenate([qflat[nz], np.zeros(fillers, dtype=np.int64)])
        scale_bits = 32 * scale.numel()
        dense = 32 * w.numel() + bias_bits
        sparse = entries * (32 + ib) + bias_bits
        quant = entries * (bits + ib) + scale_bits + bias_bits
        coded = huffman_bits(stored_levels.tolist()) + huffman_bits(gaps.tolist()) + scale_bits + bias_bits
        layers[name] = {"weights": int(w.numel()), "nonzero": int(len(nz)), "filler_entries": int(fillers),
                        "index_bits": ib, "dense_bytes": dense / 8, "sparse_bytes": sparse / 8,
                        "quantized_bytes": quant / 8, "entropy_coded_bytes": coded / 8}
        for k, v in zip(stages, (dense, sparse, quant, coded)):
            stages[k] += v / 8
    base = stages["dense_fp32"]
    return {"bits": bits, "bytes": stages, "compression": {k: base / v for k, v in stages.items()}, "layers": layers}


def codebook_storage_report(model: SlimNet, bias_float_bits: int = 32) -> dict:
    """Bytes of a weight-shared model (each layer's weights drawn from a small set of values, codebook.py) in Deep
    Compression's storage: relative indices of the nonzeros, each one's index into its layer's codebook (as many bits
    as the codebook needs), the codebook in fp32, then Huffman coding of the codebook indices and the gaps. Biases
    take `bias_float_bits` each (16 once they are rounded to float16: `half_biases`)."""
    stages = {"dense_fp32": 0.0, "pruned_sparse": 0.0, "quantized": 0.0, "entropy_coded": 0.0}
    layers = {}
    for name, l in model.weighted_layers():
        w, bias_bits, ib, flat, nz, gaps, fillers = _sparse_layer(l, bias_float_bits)
        values, levels = np.unique(flat[nz], return_inverse=True)
        bits = max(1, int(np.ceil(np.log2(len(values) + 1))))  # + 1: the filler entries' zero
        stored = np.concatenate([levels.astype(np.int64) + 1, np.zeros(fillers, dtype=np.int64)])
        entries = len(nz) + fillers
        codebook_bits = 32 * len(values)
        dense = 32 * w.numel() + bias_bits * 32 // bias_float_bits  # the dense baseline keeps float32 biases
        sparse = entries * (32 + ib) + bias_bits
        quant = entries * (bits + ib) + codebook_bits + bias_bits
        coded = huffman_bits(stored.tolist()) + huffman_bits(gaps.tolist()) + codebook_bits + bias_bits
        layers[name] = {"weights": int(w.numel()), "nonzero": int(len(nz)), "shared_values": int(len(values)), "index_bits": ib,
                        "codebook_index_bits": bits, "dense_bytes": dense / 8, "sparse_bytes": sparse / 8,
                        "quantized_bytes": quant / 8, "entropy_coded_bytes": coded / 8}
        for k, v in zip(stages, (dense, sparse, quant, coded)):
            stages[k] += v / 8
    base = stages["dense_fp32"]
    return {"bias_float_bits": bias_float_bits, "bytes": stages, "compression": {k: base / v for k, v in stages.items()}, "layers": layers}


@torch.no_grad()
def half_biases(model: SlimNet) -> None:
    """Every weighted layer's bias rounded to the nearest float16 value, in place (kept as float32 tensors, so the
    model trains, evaluates and exports as before, with values a float16 store holds exactly)."""
    for _, l in model.weighted_layers():
        if l.bias is not None:
            l.bias.copy_(l.bias.half().float())
