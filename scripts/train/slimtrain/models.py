"""Model zoo (MLPs incl. LeNet-300-100, a small CNN) built from layers that carry pruning masks and QAT settings."""
from __future__ import annotations

import copy
import json
import math

import torch
import torch.nn.functional as F
from torch import nn

from .quant import ActQuant, BinaryAct, binarize_weight, fake_quant_weight, soft_quant_weight

FLOAT_BITS = 32


class _MaskedQuantMixin:
    """Effective weight = quantize(weight * mask). weight_bits 32 = float, 8/4/2 = k-bit per-channel, 1 = binary.
    input_quant (an ActQuant) fake-quantizes the layer's input when activations are 8-bit."""

    weight: nn.Parameter
    bias: nn.Parameter | None

    def _init_slim(self) -> None:
        self.weight_bits = FLOAT_BITS
        # Quantization Networks' soft quantizer in training when set (its current temperature), else the STE.
        self.soft_temperature: float | None = None
        self.input_quant: ActQuant | None = None
        self.register_buffer("weight_mask", None)  # type: ignore[attr-defined]
        self.register_buffer("bias_mask", None)  # type: ignore[attr-defined]

    def effective_weight(self) -> torch.Tensor:
        w = self.weight
        mask = self.weight_mask
        if mask is not None:
            w = w * mask
        temperature = getattr(self, "soft_temperature", None)
        if temperature is not None and self.training and self.weight_bits < FLOAT_BITS:
            return soft_quant_weight(w, self.weight_bits, temperature)
        if self.weight_bits == 1:
            return binarize_weight(w, mask)
        if self.weight_bits < FLOAT_BITS:
            return fake_quant_weight(w, self.weight_bits)
        return w

    def effective_bias(self) -> torch.Tensor | None:
        if self.bias is None or self.bias_mask is None:
            return self.bias
        return self.bias * self.bias_mask

    def quantize_input(self, x: torch.Tensor) -> torch.Tensor:
        return self.input_quant(x) if self.input_quant is not None else x


class Dense(_MaskedQuantMixin, nn.Linear):
    def __init__(self, in_features: int, out_features: int):
        super().__init__(in_features, out_features)
        self._init_slim()

    def forward(self, x):
        return F.linear(self.quantize_input(x), self.effective_weight(), self.effective_bias())


class Conv(_MaskedQuantMixin, nn.Conv2d):
    def __init__(self, cin: int, cout: int, kernel: int, padding: int):
        super().__init__(cin, cout, kernel, padding=padding)
        self._init_slim()

    def forward(self, x):
        return F.conv2d(self.quantize_input(x), self.effective_weight(), self.effective_bias(), self.stride, self.padding)


class SlimNet(nn.Sequential):
    """A sequential model plus the spec that rebuilds it; input_shape excludes the batch dim."""

    def __init__(self, spec: dict, layers: list[nn.Module]):
        super().__init__(*layers)
        self.spec = spec
        self.input_shape = tuple(spec["input_shape"])

    def weighted_layers(self) -> list[tuple[str, _MaskedQuantMixin]]:
        return [(n, m) for n, m in self.named_children() if isinstance(m, (Dense, Conv))]

    def classifier(self) -> Dense:
        return self.weighted_layers()[-1][1]  # type: ignore[return-value]

    def shape_input(self, x: torch.Tensor) -> torch.Tensor:
        """Dataset images are [N, 1, H, W]; MLPs take [N, H*W]."""
        return x.reshape(x.shape[0], *self.input_shape)


# Named architectures; "mlp" and "cnn" take their sizes from flags (configurable student sizes).
PRESETS = {
    "mnist-mlp": {"arch": "mlp", "hidden": [128]},
    "lenet-300-100": {"arch": "mlp", "hidden": [300, 100]},
    "cnn": {"arch": "cnn", "channels": [16, 32], "fc": 64},
    "mlp": {"arch": "mlp", "hidden": [800, 800]},
}


def make_spec(name: str, image_shape: tuple[int, ...], classes: int, hidden: list[int] | None = None,
              channels: list[int] | None = None, fc: int | None = None, dropout: float = 0.0) -> dict:
    if name not in PRESETS:
        raise ValueError(f"unknown arch '{name}' ({', '.join(PRESETS)})")
    spec = {"name": name, **copy.deepcopy(PRESETS[name]), "classes": classes, "dropout": dropout}
    if spec["arch"] == "mlp":
        spec["input_shape"] = [int(math.prod(image_shape))]
        if hidden:
            spec["hidden"] = list(hidden)
    else:
        spec["input_shape"] = list(image_shape)
        if channels:
            spec["channels"] = list(channels)
        if fc:
            spec["fc"] = fc
    return spec


def build_model(spec: dict) -> SlimNet:
    layers: list[nn.Module] = []
    drop = float(spec.get("dropout", 0.0))
    if spec["arch"] == "mlp":
        width = spec["input_shape"][0]
        for h in spec["hidden"]:
            layers += [Dense(width, h), nn.ReLU()]
            if drop > 0:
                layers.append(nn.Dropout(drop))
            width = h
        layers.append(Dense(width, spec["classes"]))
    elif spec["arch"] == "cnn":
        cin, h, w = spec["input_shape"]
        for c in spec["channels"]:
            # 5x5 "same" convolutions, each followed by 2x2 max pooling (floor).
            layers += [Conv(cin, c, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2)]
            cin, h, w = c, h // 2, w // 2
        layers.append(nn.Flatten())
        layers += [Dense(cin * h * w, spec["fc"]), nn.ReLU()]
        if drop > 0:
            layers.append(nn.Dropout(drop))
        layers.append(Dense(spec["fc"], spec["classes"]))
    else:
        raise ValueError(f"unknown arch family '{spec['arch']}'")
    return SlimNet(spec, layers)


def prepare_qat(model: SlimNet, weight_bits: int, act_bits: int = FLOAT_BITS) -> SlimNet:
    """Switches a model to QAT in place: k-bit (8/4/2) or binary (1) weights on every Conv/Dense; activations
    8-bit (fake-quantized input of every Conv/Dense) or binary (ReLU -> sign; the first layer keeps real inputs)."""
    if weight_bits not in (1, 2, 4, 8, FLOAT_BITS):
        raise ValueError(f"--bits must be 8, 4, 2 or 1, not {weight_bits}")
    if act_bits not in (1, 8, FLOAT_BITS):
        raise ValueError(f"--act-bits must be 8, 1 or 32, not {act_bits}")
    for _, layer in model.weighted_layers():
        layer.weight_bits = weight_bits
        if act_bits == 8 and layer.input_quant is None:
            layer.input_quant = ActQuant().to(layer.weight.device)
    if act_bits == 1:
        for name, m in list(model.named_children()):
            if isinstance(m, nn.ReLU):
                setattr(model, name, BinaryAct())
    model.spec = {**model.spec, "weight_bits": weight_bits, "act_bits": act_bits}
    return model


def set_masks(model: SlimNet, masks: dict[str, torch.Tensor], bias_masks: dict[str, torch.Tensor] | None = None) -> None:
    for name, layer in model.weighted_layers():
        if name in masks:
            layer.weight_mask = masks[name].to(layer.weight.device, layer.weight.dtype)
        if bias_masks and name in bias_masks:
            layer.bias_mask = bias_masks[name].to(layer.weight.device, layer.weight.dtype)


def checkpoint_dict(model: SlimNet, extra: dict | None = None) -> dict:
    # Spec and extras travel as a JSON string: torch 1.13's weights_only unpickler rejects plain floats.
    meta = {"spec": model.spec, **(extra or {})}
    return {"format": "slimtrain/1", "meta": json.dumps(meta), "state_dict": model.state_dict()}


def _torch_load(path: str, device: str):
    # weights_only exists from torch 1.13 and is the default from 2.6: our checkpoints hold only tensors and plain data.
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except TypeError:
        return torch.load(path, map_location=device)


def load_checkpoint(path: str, device: str = "cpu") -> tuple[SlimNet, dict]:
    """Rebuilds a model (with its masks and QAT settings) from a slimtrain checkpoint."""
    ck = _torch_load(path, device)
    if not isinstance(ck, dict) or ck.get("format") != "slimtrain/1":
        raise ValueError(f"{path}: not a slimtrain checkpoint")
    meta = json.loads(ck["meta"])
    spec = meta["spec"]
    model = build_model(spec)
    if "weight_bits" in spec:
        prepare_qat(model, spec["weight_bits"], spec.get("act_bits", FLOAT_BITS))
    sd = ck["state_dict"]
    # Masks are None-buffers until set; create them so load_state_dict has somewhere to put them.
    for name, layer in model.weighted_layers():
        if f"{name}.weight_mask" in sd:
            layer.weight_mask = torch.ones_like(layer.weight)
        if f"{name}.bias_mask" in sd:
            layer.bias_mask = torch.ones_like(layer.bias)
    model.load_state_dict(sd)
    return model.to(device), meta
