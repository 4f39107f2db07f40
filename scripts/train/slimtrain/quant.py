"""Fake quantization for QAT: straight-through estimators, k-bit per-channel weights, binary weights, 8-bit/binary activations."""
from __future__ import annotations

import torch
from torch import nn

ACT_LEVELS = 255  # activations use asymmetric uint8: q in [0, 255]


class SignSTE(torch.autograd.Function):
    """sign(x) forward (sign(0) = +1, so every value is binary); hard-tanh gradient backward:
    the incoming gradient passes where |x| <= 1 and is zero elsewhere (BinaryConnect / BNN)."""

    @staticmethod
    def forward(ctx, x):  # type: ignore[override]
        ctx.save_for_backward(x)
        return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype)

    @staticmethod
    def symbolic(g, x):
        # ONNX Sign maps 0 to 0; x >= 0 ? 1 : -1 keeps every value binary, as forward does.
        zero, one, minus_one = (g.op("Constant", value_t=torch.tensor(v, dtype=torch.float32)) for v in (0.0, 1.0, -1.0))
        return g.op("Where", g.op("GreaterOrEqual", x, zero), one, minus_one)


class RoundSTE(torch.autograd.Function):
    """round-half-to-even forward (what ONNX QuantizeLinear does), identity gradient backward."""

    @staticmethod
    def forward(ctx, x):  # type: ignore[override]
        return torch.round(x)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        return grad


def _channel_dims(w: torch.Tensor) -> tuple[int, ...]:
    # Output channel is dim 0 for both Linear [out, in] and Conv [out, in, kh, kw].
    return tuple(range(1, w.dim()))


def qmax_for(bits: int) -> int:
    """Symmetric signed range [-qmax, qmax]: 8 -> 127, 4 -> 7, 2 -> 1 (ternary)."""
    if bits not in (2, 4, 8):
        raise ValueError(f"k-bit weights support 8, 4, 2 (and 1 = binary), not {bits}")
    return 2 ** (bits - 1) - 1


def weight_scale(w: torch.Tensor, bits: int) -> torch.Tensor:
    """Per-output-channel scale, shape [out]: at 8 and 4 bits the largest |w| maps to qmax; at 2 bits (ternary) the
    scale is 1.4 mean|w|, so that rounding's threshold (half the scale) is 0.7 mean|w|, as in Ternary Weight Networks
    (Li et al. 2016). The largest |w| as the ternary scale puts the threshold so high that most weights are zero."""
    a = w.detach().abs()
    ref = 1.4 * a.mean(dim=_channel_dims(w)) if bits == 2 else a.amax(dim=_channel_dims(w)) / qmax_for(bits)
    # An all-zero channel (pruned) keeps scale 1 so it quantizes to exact zeros without dividing by 0.
    return torch.where(ref > 0, ref, torch.ones_like(ref))


def _per_channel(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.reshape(-1, *([1] * (like.dim() - 1)))


def quantize_weight(w: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer levels q (as float, in [-qmax, qmax]) and scale [out] with w ~ q * scale."""
    scale = weight_scale(w, bits)
    qmax = qmax_for(bits)
    q = torch.clamp(torch.round(w.detach() / _per_channel(scale, w)), -qmax, qmax)
    return q, scale


def fake_quant_weight(w: torch.Tensor, bits: int) -> torch.Tensor:
    """k-bit symmetric per-channel fake quantization; the scale is treated as a constant, so the gradient is the identity."""
    scale = _per_channel(weight_scale(w, bits), w)
    qmax = qmax_for(bits)
    return torch.clamp(RoundSTE.apply(w / scale), -qmax, qmax) * scale


def soft_quant_weight(w: torch.Tensor, bits: int, temperature: float) -> torch.Tensor:
    """Quantization Networks (Yang et al. 2019): the staircase written as a sum of sigmoids of `temperature`, one per
    step between adjacent levels of the same per-channel grid as fake_quant_weight (sign x mean|w| for 1 bit). It is
    differentiable everywhere, with no straight-through estimate, and tends to the hard grid as the temperature
    grows; evaluation and export use the hard grid."""
    if bits == 1:
        scale = _per_channel(binary_scale(w), w)
        return (2 * torch.sigmoid(temperature * w / scale) - 1) * scale
    scale = _per_channel(weight_scale(w, bits), w)
    qmax = qmax_for(bits)
    thresholds = torch.arange(-qmax + 0.5, qmax, 1.0, device=w.device, dtype=w.dtype)
    steps = torch.sigmoid(temperature * ((w / scale).unsqueeze(-1) - thresholds)).sum(-1)
    return (steps - qmax) * scale


def binary_scale(w: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Per-output-channel mean |w| (over kept weights when pruned), shape [out]."""
    a = w.detach().abs()
    dims = _channel_dims(w)
    if mask is None:
        return a.mean(dim=dims)
    kept = mask.sum(dim=dims)
    return (a * mask).sum(dim=dims) / kept.clamp(min=1)


def binarize_weight(w: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """W_b = sign(W) * mean(|W|) per output channel: two values per channel, +-scale_c. Gradient: hard-tanh STE (times scale_c)."""
    wb = SignSTE.apply(w) * _per_channel(binary_scale(w, mask), w)
    return wb * mask if mask is not None else wb


class ActQuant(nn.Module):
    """8-bit activation fake quantizer (asymmetric uint8), range from an EMA of batch min/max as in
    PyTorch's MovingAverageMinMaxObserver; frozen in eval mode. Exported as QuantizeLinear/DequantizeLinear."""

    def __init__(self, momentum: float = 0.01):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_min", torch.zeros(()))
        self.register_buffer("running_max", torch.zeros(()))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))

    def observe(self, x: torch.Tensor) -> None:
        lo, hi = x.detach().min(), x.detach().max()
        if not bool(self.initialized):
            self.running_min.copy_(lo)
            self.running_max.copy_(hi)
            self.initialized.fill_(True)
        else:
            self.running_min.mul_(1 - self.momentum).add_(self.momentum * lo)
            self.running_max.mul_(1 - self.momentum).add_(self.momentum * hi)

    def qparams(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(scale float32 scalar, zero_point float scalar in [0, 255]); the range always contains 0."""
        lo = torch.clamp(self.running_min, max=0.0)
        hi = torch.clamp(self.running_max, min=0.0)
        span = hi - lo
        scale = torch.where(span > 0, span / ACT_LEVELS, torch.ones_like(span))
        zero_point = torch.clamp(torch.round(-lo / scale), 0, ACT_LEVELS)
        return scale, zero_point

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.observe(x)
        scale, zp = self.qparams()
        # Same maths as QuantizeLinear then DequantizeLinear; clamp zeroes the gradient outside the range.
        q = torch.clamp(RoundSTE.apply(x / scale) + zp, 0, ACT_LEVELS)
        return (q - zp) * scale


class BinaryAct(nn.Module):
    """Binary activation (BNN): sign forward, hard-tanh STE backward. Replaces ReLU when --act-bits 1."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return SignSTE.apply(x)


class ThresholdBinaryAct(nn.Module):
    """Binary input of a layer in any module: sign(x − t_c), one learned threshold per input channel (ReActNet's RSign),
    hard-tanh STE for x and t. A layer's input often follows a ReLU, where sign(x) would be +1 everywhere; each
    threshold starts at its channel's mean over the first training batch."""

    def __init__(self, channels: int, channel_dim: int):
        super().__init__()
        self.channel_dim = channel_dim  # 1 for [N, C, ...] convolution inputs, -1 for a Linear's features
        self.threshold = nn.Parameter(torch.zeros(channels))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))

    def _shaped(self, x: torch.Tensor) -> torch.Tensor:
        if self.channel_dim == -1:
            return self.threshold
        return self.threshold.reshape(-1, *([1] * (x.dim() - self.channel_dim - 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and not bool(self.initialized):
            with torch.no_grad():
                dims = [d for d in range(x.dim()) if d != (self.channel_dim % x.dim())]
                self.threshold.copy_(x.detach().mean(dim=dims))
                self.initialized.fill_(True)
        return SignSTE.apply(x - self._shaped(x))
