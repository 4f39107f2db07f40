"""ONNX export of any module, float or fake-quantized, through torch.onnx.export (TorchScript-based exporter).

A layer quantized by `quantize_aware` exports its weight as an integer initializer `<layer>.<weight>_quantized`
(int8 storage holding the k-bit levels: ±127, ±7, ±1) with `_scale` (per output channel, float32) and
`_zero_point` (int8 zeros) feeding DequantizeLinear(axis = the output-channel dim), and its float input (act_bits 8) as
QuantizeLinear → DequantizeLinear with uint8 `<layer>.input_scale` / `input_zero_point`. Binary layers store ±scale_c
in float32. Everything else (biases, norms, attention internals) is what torch exports for the float model, so the
graph's inputs and outputs are those of the same module exported without quantization.
"""
from __future__ import annotations

import inspect
import io
import json
from pathlib import Path

import onnx
import torch
from torch import nn

from .layers import exporting

BATCH_DIM = "N"


def _as_tuple(example_inputs) -> tuple:
    return tuple(example_inputs) if isinstance(example_inputs, (tuple, list)) else (example_inputs,)


def default_names(count: int, stem: str, single: str) -> list[str]:
    return [single] if count == 1 else [f"{stem}_{i}" for i in range(count)]


def build_model_proto(model: nn.Module, example_inputs, *, input_names: list[str] | None = None,
                      output_names: list[str] | None = None, dynamic_axes: dict | None = None, opset: int = 13,
                      metadata: dict | None = None) -> onnx.ModelProto:
    """The ONNX model of `model` (eval mode) on `example_inputs` (a tensor or a tuple of them).
    Names default to `input` / `logits` (input_0, ... when there are several); dim 0 of every input and output is
    the dynamic batch dim `N` unless dynamic_axes says otherwise."""
    if opset < 13:
        raise ValueError("opset >= 13 is needed for per-channel DequantizeLinear")
    args = _as_tuple(example_inputs)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        outputs = model(*args)
    n_out = len(outputs) if isinstance(outputs, (tuple, list)) else 1
    input_names = input_names or default_names(len(args), "input", "input")
    output_names = output_names or default_names(n_out, "output", "logits")
    if dynamic_axes is None:
        dynamic_axes = {n: {0: BATCH_DIM} for n in [*input_names, *output_names]}
    kwargs = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # the TorchScript exporter honours the symbolic() of the QDQ functions
    buf = io.BytesIO()
    try:
        # Traced with autograd on: under no_grad, torch 1.13's nn.MultiheadAttention takes a fused fast path that
        # has no ONNX export.
        with exporting(model):
            torch.onnx.export(model, args, buf, input_names=input_names, output_names=output_names,
                              dynamic_axes=dynamic_axes, opset_version=opset, do_constant_folding=True,
                              training=torch.onnx.TrainingMode.EVAL, **kwargs)
    finally:
        model.train(was_training)
    proto = onnx.load_from_string(buf.getvalue())
    proto.producer_name, proto.producer_version = "slimtrain", "1"
    for k, v in (metadata or {}).items():
        proto.metadata_props.append(onnx.StringStringEntryProto(
            key=k, value=v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))))
    if opset <= onnx.defs.onnx_opset_version():
        onnx.checker.check_model(proto)
    return proto


def export(model: nn.Module, example_inputs, path: str | Path, **kwargs) -> bytes:
    """Writes `model` as ONNX to `path` (QDQ for quantized layers, see the module doc) and returns the bytes.
    kwargs: input_names, output_names, dynamic_axes, opset (13 by default), metadata (dict of strings or JSON)."""
    data = build_model_proto(model, example_inputs, **kwargs).SerializeToString()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(data)
    return data
