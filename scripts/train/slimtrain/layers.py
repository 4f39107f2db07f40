"""Fake-quantized, maskable versions of torch's weighted layers, swapped into any nn.Module in place.

`quantize_aware(model, bits, act_bits, exclude)` turns every Linear, Conv1d, Conv2d, ConvTranspose2d, Embedding,
LSTM, GRU and MultiheadAttention of a model into its Slim* subclass (the instance keeps its parameters, names and state_dict keys; only
its class changes). A Slim layer computes with quantize(weight * mask): k-bit (8/4/2) symmetric per output channel
with the round-to-nearest STE, or binary (1 bit: sign · mean|w| per channel, hard-tanh STE), using slimtrain/quant.py.
With act_bits 8 its float input is fake-quantized to uint8 (an ActQuant at the module boundary). Masks come from
slimtrain/sparsity.py and stay in force when the bits change later (prune first, then QAT).

While `exporting(model)` is active, each layer reads its weights from integer buffers through DequantizeLinear and its
input through QuantizeLinear/DequantizeLinear, so torch.onnx.export writes a standard QDQ graph (slimtrain/onnx_export.py).
"""
from __future__ import annotations

import contextlib
import fnmatch
import inspect

import torch
import torch.nn.functional as F
from torch import nn

from .quant import ACT_LEVELS, ActQuant, ThresholdBinaryAct, binarize_weight, fake_quant_weight, qmax_for, quantize_weight, soft_quant_weight

FLOAT_BITS = 32
WEIGHT_BITS = (1, 2, 4, 8, FLOAT_BITS)
ACT_BITS = (1, 8, FLOAT_BITS)


def _along(axis: int, fn, w: torch.Tensor, *rest):
    """Applies a dim-0 per-channel function to w with `axis` as its channel dim (ConvTranspose keeps outputs in dim 1)."""
    if axis == 0:
        return fn(w, *rest)
    moved = [t.transpose(0, axis) if isinstance(t, torch.Tensor) else t for t in rest]
    out = fn(w.transpose(0, axis), *moved)
    if isinstance(out, torch.Tensor):
        return out.transpose(0, axis)
    return (out[0].transpose(0, axis), *out[1:])  # (levels, per-channel scale)


class DequantizeWeight(torch.autograd.Function):
    """q · scale per channel in PyTorch; DequantizeLinear(q, scale, zero_point, axis) in ONNX."""

    @staticmethod
    def forward(ctx, q, scale, zero_point, axis):  # type: ignore[override]
        shape = [1] * q.dim()
        shape[axis] = -1
        return (q.to(torch.float32) - zero_point.to(torch.float32).reshape(shape)) * scale.reshape(shape)

    @staticmethod
    def symbolic(g, q, scale, zero_point, axis):
        return g.op("DequantizeLinear", q, scale, zero_point, axis_i=axis)


class QuantDequant(torch.autograd.Function):
    """uint8 per-tensor fake quantization (the ActQuant maths in eval mode); QuantizeLinear → DequantizeLinear in ONNX."""

    @staticmethod
    def forward(ctx, x, scale, zero_point):  # type: ignore[override]
        zp = zero_point.to(torch.float32)
        q = torch.clamp(torch.round(x / scale) + zp, 0, ACT_LEVELS)
        return (q - zp) * scale

    @staticmethod
    def symbolic(g, x, scale, zero_point):
        q = g.op("QuantizeLinear", x, scale, zero_point)
        return g.op("DequantizeLinear", q, scale, zero_point)


class SlimLayer:
    """Mixin of the Slim* layers: per-weight bits and masks, an optional input quantizer, the export switch."""

    slim_weights: tuple[str, ...] = ("weight",)
    channel_axis = 0  # the output-channel dim of the weights
    quantizes_input = True

    def _init_slim(self) -> None:
        self.weight_bits = FLOAT_BITS
        # Quantization Networks' soft quantizer in training when set (its current temperature), else the STE.
        self.soft_temperature: float | None = None
        self.input_quant: ActQuant | ThresholdBinaryAct | None = None
        self.slim_export = False
        for name in [*self.slim_weights, "bias"]:
            if not hasattr(self, f"{name}_mask"):
                self.register_buffer(f"{name}_mask", None)  # type: ignore[attr-defined]

    def mask_of(self, name: str) -> torch.Tensor | None:
        return getattr(self, f"{name}_mask")

    def effective(self, name: str) -> torch.Tensor:
        """The weight the layer computes with: quantize(weight · mask)."""
        w = getattr(self, name)
        if self.slim_export and self.weight_bits != FLOAT_BITS:
            if self.weight_bits == 1:
                return getattr(self, f"{name}_binarized")
            return DequantizeWeight.apply(getattr(self, f"{name}_quantized"), getattr(self, f"{name}_scale"),
                                          getattr(self, f"{name}_zero_point"), self.channel_axis)
        mask = self.mask_of(name)
        if mask is not None and not self.slim_export:  # exporting: masked weights were zeroed in place
            w = w * mask
        temperature = getattr(self, "soft_temperature", None)
        if temperature is not None and self.training and self.weight_bits < FLOAT_BITS:
            return _along(self.channel_axis, soft_quant_weight, w, self.weight_bits, temperature)
        if self.weight_bits == 1:
            return _along(self.channel_axis, binarize_weight, w, mask)
        if self.weight_bits < FLOAT_BITS:
            return _along(self.channel_axis, fake_quant_weight, w, self.weight_bits)
        return w

    def quantize_input(self, x: torch.Tensor) -> torch.Tensor:
        if self.input_quant is None:
            return x
        if self.slim_export and isinstance(self.input_quant, ActQuant):
            return QuantDequant.apply(x, self.input_scale, self.input_zero_point)
        return self.input_quant(x)  # a binary input exports as itself (Sub, then SignSTE.symbolic)

    def effective_bias(self) -> torch.Tensor | None:
        bias = getattr(self, "bias", None)
        mask = getattr(self, "bias_mask", None)
        if not isinstance(bias, torch.Tensor) or mask is None or self.slim_export:
            return bias
        return bias * mask

    # -- export ------------------------------------------------------------------------------------------------------

    @torch.no_grad()
    def begin_export(self) -> None:
        """Zeroes masked weights in place and registers the integer weights and activation qparams as buffers."""
        for name in self.slim_weights:
            w = getattr(self, name)
            mask = self.mask_of(name)
            if mask is not None:
                w.mul_(mask)
            if self.weight_bits == 1:
                self.register_buffer(f"{name}_binarized", _along(self.channel_axis, binarize_weight, w, mask).detach().clone())
            elif self.weight_bits < FLOAT_BITS:
                q, scale = _along(self.channel_axis, quantize_weight, w, self.weight_bits)
                self.register_buffer(f"{name}_quantized", q.to(torch.int8))
                self.register_buffer(f"{name}_scale", scale.to(torch.float32))
                self.register_buffer(f"{name}_zero_point", torch.zeros(scale.shape, dtype=torch.int8, device=w.device))
        bias_mask = getattr(self, "bias_mask", None)
        if bias_mask is not None:
            self.bias.mul_(bias_mask)
        if isinstance(self.input_quant, ActQuant):
            scale, zp = self.input_quant.qparams()
            self.register_buffer("input_scale", scale.to(torch.float32).reshape(()))
            self.register_buffer("input_zero_point", zp.to(torch.uint8).reshape(()))
        self.slim_export = True

    def end_export(self) -> None:
        self.slim_export = False
        for suffix in ("_binarized", "_quantized", "_scale", "_zero_point"):
            for name in self.slim_weights:
                self._buffers.pop(f"{name}{suffix}", None)  # type: ignore[attr-defined]
        self._buffers.pop("input_scale", None)  # type: ignore[attr-defined]
        self._buffers.pop("input_zero_point", None)  # type: ignore[attr-defined]


class SlimLinear(SlimLayer, nn.Linear):
    def forward(self, x):
        return F.linear(self.quantize_input(x), self.effective("weight"), self.effective_bias())


class SlimConv1d(SlimLayer, nn.Conv1d):
    def forward(self, x):
        return self._conv_forward(self.quantize_input(x), self.effective("weight"), self.effective_bias())


class SlimConv2d(SlimLayer, nn.Conv2d):
    def forward(self, x):
        return self._conv_forward(self.quantize_input(x), self.effective("weight"), self.effective_bias())


class SlimConvTranspose2d(SlimLayer, nn.ConvTranspose2d):
    channel_axis = 1  # weight [in, out / groups, kh, kw]

    def forward(self, x, output_size=None):
        pad = self._output_padding(x, output_size, self.stride, self.padding, self.kernel_size, 2, self.dilation)
        return F.conv_transpose2d(self.quantize_input(x), self.effective("weight"), self.effective_bias(), self.stride,
                                  self.padding, pad, self.groups, self.dilation)


class SlimEmbedding(SlimLayer, nn.Embedding):
    quantizes_input = False  # its input is indices

    def forward(self, x):
        return F.embedding(x, self.effective("weight"), self.padding_idx, None, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)


class _SlimRecurrent(SlimLayer):
    """LSTM / GRU: every weight_ih_l* / weight_hh_l* is fake-quantized (per gate row); biases stay fp32."""

    def _init_slim(self) -> None:
        self.slim_weights = tuple(n for n in self._flat_weights_names if n.startswith("weight_"))  # type: ignore[attr-defined]
        super()._init_slim()

    def forward(self, x, hx=None):
        saved = self._flat_weights  # type: ignore[has-type]
        self._flat_weights = [self.effective(n) if n in self.slim_weights else w  # type: ignore[attr-defined]
                              for n, w in zip(self._flat_weights_names, saved)]  # type: ignore[attr-defined]
        try:
            if isinstance(x, torch.Tensor):
                x = self.quantize_input(x)
            return super().forward(x, hx)  # type: ignore[misc]
        finally:
            self._flat_weights = saved


class SlimLSTM(_SlimRecurrent, nn.LSTM):
    pass


class SlimGRU(_SlimRecurrent, nn.GRU):
    pass


class SlimMultiheadAttention(SlimLayer, nn.MultiheadAttention):
    """Attention's input projection (in_proj_weight, or q/k/v_proj_weight where key and value sizes differ) is
    fake-quantized per output row, and its out_proj becomes a SlimLinear whose weight attention reads directly. With
    act_bits 8 the query, key and value are fake-quantized at the module boundary (one range; one quantization where
    they are the same tensor); out_proj's input, inside attention, stays float."""

    def _init_slim(self) -> None:
        self.slim_weights = ("in_proj_weight",) if self._qkv_same_embed_dim else ("q_proj_weight", "k_proj_weight", "v_proj_weight")
        super()._init_slim()
        to_slim(self.out_proj)
        self.out_proj.quantizes_input = False

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None, average_attn_weights=True,
                is_causal=False):
        # is_causal (torch >= 2.0, passed by TransformerEncoderLayer) is a hint that attn_mask is the causal mask.
        if is_causal and attn_mask is None:
            raise RuntimeError("Need attn_mask if specifying the is_causal hint")
        hint = {"is_causal": is_causal} if _MHA_TAKES_IS_CAUSAL else {}
        # Same tensors stay the same objects: attention then projects them with one MatMul, as torch's own forward does.
        q = self.quantize_input(query)
        k = q if key is query else self.quantize_input(key)
        v = k if value is key else self.quantize_input(value)
        batched = self.batch_first and query.dim() == 3
        if batched:
            q = q.transpose(1, 0)
            k = q if key is query else k.transpose(1, 0)
            v = k if value is key else v.transpose(1, 0)
        out = self.out_proj
        separate = {} if self._qkv_same_embed_dim else dict(
            use_separate_proj_weight=True, q_proj_weight=self.effective("q_proj_weight"),
            k_proj_weight=self.effective("k_proj_weight"), v_proj_weight=self.effective("v_proj_weight"))
        attn, weights = F.multi_head_attention_forward(
            q, k, v, self.embed_dim, self.num_heads, self.effective("in_proj_weight") if self._qkv_same_embed_dim else None,
            self.in_proj_bias, self.bias_k, self.bias_v, self.add_zero_attn, self.dropout,
            out.effective("weight") if isinstance(out, SlimLayer) else out.weight,
            out.effective_bias() if isinstance(out, SlimLayer) else out.bias,
            training=self.training, key_padding_mask=key_padding_mask, need_weights=need_weights, attn_mask=attn_mask,
            average_attn_weights=average_attn_weights, **hint, **separate)
        return (attn.transpose(1, 0) if batched else attn), weights


# The layers act_bits 1 binarizes the input of (BNN practice); recurrent, embedding and attention inputs stay float.
BINARY_INPUT_LAYERS = (SlimLinear, SlimConv1d, SlimConv2d, SlimConvTranspose2d)


def binary_input(layer: SlimLayer) -> ThresholdBinaryAct:
    if isinstance(layer, SlimLinear):
        return ThresholdBinaryAct(layer.in_features, -1)
    return ThresholdBinaryAct(layer.in_channels, 1)  # type: ignore[attr-defined]

_MHA_TAKES_IS_CAUSAL = "is_causal" in inspect.signature(F.multi_head_attention_forward).parameters

# Most specific first: a subclass of a listed type gets the same treatment as its base.
SLIM_CLASSES: dict[type, type] = {
    nn.ConvTranspose2d: SlimConvTranspose2d, nn.Conv1d: SlimConv1d, nn.Conv2d: SlimConv2d, nn.Linear: SlimLinear,
    nn.Embedding: SlimEmbedding, nn.LSTM: SlimLSTM, nn.GRU: SlimGRU, nn.MultiheadAttention: SlimMultiheadAttention,
}


def _excluded(name: str, exclude) -> bool:
    return any(name == p or name.startswith(p + ".") or fnmatch.fnmatchcase(name, p) for p in exclude or ())


def slim_layers(model: nn.Module) -> list[tuple[str, SlimLayer]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, SlimLayer)]


def make_slim(model: nn.Module, exclude=()) -> list[str]:
    """Swaps the class of every supported layer (not under `exclude`) to its Slim* subclass, in place.
    An nn.MultiheadAttention swaps its own out_proj (attention reads that weight directly, not through forward); an
    excluded one keeps its out_proj float too."""
    skip = set()
    for name, m in model.named_modules():
        if isinstance(m, nn.MultiheadAttention):
            skip |= {f"{name}.{c}" if name else c for c, _ in m.named_children()}
    swapped = []
    for name, m in model.named_modules():
        if isinstance(m, SlimLayer) or name in skip or _excluded(name, exclude):
            continue
        if to_slim(m):
            swapped.append(name)
    unfuse_encoders(model)
    return swapped


def unfuse_encoders(model: nn.Module) -> None:
    """Keeps torch off its fused encoder kernel for layers that hold Slim layers: in eval mode without autograd,
    nn.TransformerEncoderLayer (and nn.TransformerEncoder) would read self_attn's and linear1/linear2's float weights
    straight into one fused op, so the model would compute in float where it should quantize. The fused path is taken
    only when activation_relu_or_gelu is set, which nothing else reads."""
    for m in model.modules():
        if isinstance(m, nn.TransformerEncoderLayer) and any(isinstance(c, SlimLayer) for c in m.modules()):
            m.activation_relu_or_gelu = 0


def to_slim(m: nn.Module) -> bool:
    """Changes the class of one supported layer to its Slim* subclass (a subclass of a supported type only when it
    keeps the base forward); False when the layer is not supported."""
    if isinstance(m, SlimLayer):
        return True
    for base, slim in SLIM_CLASSES.items():
        if type(m) is base or (isinstance(m, base) and type(m).forward is base.forward):
            m.__class__ = slim
            m._init_slim()  # type: ignore[attr-defined]
            return True
    return False


def _act_bits(layer: SlimLayer) -> int:
    return 8 if isinstance(layer.input_quant, ActQuant) else 1 if isinstance(layer.input_quant, ThresholdBinaryAct) else FLOAT_BITS


def slim_state(model: nn.Module) -> dict:
    """What a checkpoint needs besides the state_dict to rebuild the Slim layers: bits, input quantizer, masks."""
    return {name: {"bits": l.weight_bits, "act_bits": _act_bits(l),
                   "masks": [w for w in l.slim_weights if l.mask_of(w) is not None],
                   "bias_mask": getattr(l, "bias_mask", None) is not None}
            for name, l in slim_layers(model)}


def restore_slim(model: nn.Module, state: dict) -> nn.Module:
    """Turns the layers named in `state` (from slim_state) back into Slim layers with their settings and mask
    buffers, so that load_state_dict finds a place for every saved tensor."""
    for name, s in state.items():
        layer = model.get_submodule(name) if name else model
        if not to_slim(layer):
            raise ValueError(f"{name}: {type(layer).__name__} is not a layer slimtrain quantizes")
        layer.weight_bits = s["bits"]
        if s["act_bits"] == 8 and layer.input_quant is None:
            layer.input_quant = ActQuant()
        elif s["act_bits"] == 1:
            layer.input_quant = binary_input(layer)
        for w in s["masks"]:
            setattr(layer, f"{w}_mask", torch.ones_like(getattr(layer, w)))
        if s["bias_mask"]:
            layer.bias_mask = torch.ones_like(layer.bias)
    unfuse_encoders(model)
    return model


def quantize_aware(model: nn.Module, bits: int = 8, act_bits: int = FLOAT_BITS, exclude=()) -> nn.Module:
    """Prepares any module for QAT, in place, and returns it.

    bits: 8, 4, 2 (per-output-channel symmetric, STE) or 1 (binary, hard-tanh STE; call `clip_binary(model)` after each
    optimizer step to keep the latent weights in [-1, 1]); 32 leaves weights in float.
    act_bits: 8 fake-quantizes every float input of a swapped layer (uint8, EMA range); 1 binarizes the input of every
    Linear and convolution (sign(x − t) with a learned threshold per input channel, hard-tanh STE, as BNNs do; the other layers keep float inputs, and a first layer that
    reads the data is usually excluded); 32 leaves inputs in float.
    exclude: layer names (or fnmatch patterns, e.g. "fc", "encoder.*") to keep in float, e.g. a first or last layer.
    Masks from `prune_gradually` are kept. The model's layers are listed in `model.slim_report`.
    """
    if bits not in WEIGHT_BITS:
        raise ValueError(f"bits must be one of {WEIGHT_BITS}, not {bits}")
    if act_bits not in ACT_BITS:
        raise ValueError(f"act_bits must be 8, 1 or 32, not {act_bits}")
    if bits not in (1, FLOAT_BITS):
        qmax_for(bits)
    make_slim(model, exclude)
    quantized = []
    for name, layer in slim_layers(model):
        if _excluded(name, exclude):
            continue
        layer.weight_bits = bits
        if act_bits == 8 and layer.quantizes_input:
            if not isinstance(layer.input_quant, ActQuant):
                layer.input_quant = ActQuant().to(next(iter(layer.parameters())).device)
        elif act_bits == 1 and layer.quantizes_input and isinstance(layer, BINARY_INPUT_LAYERS):
            if not isinstance(layer.input_quant, ThresholdBinaryAct):
                layer.input_quant = binary_input(layer).to(next(iter(layer.parameters())).device)
        else:
            layer.input_quant = None
        quantized.append(name)
    model.slim_report = {"bits": bits, "act_bits": act_bits, "quantized": quantized,  # type: ignore[assignment]
                         "float_parameters": float_parameters(model)}
    return model


def float_parameters(model: nn.Module) -> list[str]:
    """Parameters a quantized export still stores in float: biases, norms, and weights of layers not swapped."""
    covered = set()
    for name, layer in slim_layers(model):
        if layer.weight_bits != FLOAT_BITS:
            covered |= {f"{name}.{w}" if name else w for w in layer.slim_weights}
    return [n for n, _ in model.named_parameters() if n not in covered]


@torch.no_grad()
def clip_binary(model: nn.Module) -> None:
    """BinaryConnect: keeps the real-valued latent weights of 1-bit layers in [-1, 1], where the STE passes gradient."""
    for _, layer in slim_layers(model):
        if layer.weight_bits == 1:
            for name in layer.slim_weights:
                getattr(layer, name).clamp_(-1, 1)


@contextlib.contextmanager
def exporting(model: nn.Module):
    """Inside the block every Slim layer computes from its integer weights through DequantizeWeight (eval mode)."""
    layers = [m for _, m in slim_layers(model)]
    try:
        for m in layers:
            m.begin_export()
        yield model
    finally:
        for m in layers:
            m.end_export()
