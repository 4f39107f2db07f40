"""ONNX export written node by node (independent of torch's exporter, so torch 1.13 and 2.x give the same graph):
fp32, QDQ k-bit weights (int8 storage; int4 at opset >= 21), 8-bit activation QDQ, binary weights as +-scale fp32,
and weight-shared layers as a codebook read by Gather (uint4 indices at opset >= 21, else uint8)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from .models import FLOAT_BITS, Conv, Dense, SlimNet
from .quant import BinaryAct, binarize_weight, quantize_weight

INPUT_NAME, OUTPUT_NAME, BATCH_DIM = "input", "logits", "N"
INT4 = getattr(TensorProto, "INT4", 22)  # onnx >= 1.16 names it; the value is fixed by the spec
UINT4 = getattr(TensorProto, "UINT4", 21)
INT4_MIN_OPSET = 21
CODEBOOK_MAX_VALUES = 16  # what a 4-bit index addresses


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def _int4_tensor(values: np.ndarray, name: str, data_type: int = INT4) -> TensorProto:
    """Packed 4-bit integers (two's complement for INT4), element 0 in the low nibble (the ONNX INT4/UINT4 layout)."""
    flat = values.astype(np.int8).flatten()
    nib = (flat & 0x0F).astype(np.uint8)
    if len(nib) % 2:
        nib = np.append(nib, np.uint8(0))
    packed = (nib[0::2] | (nib[1::2] << 4)).astype(np.uint8)
    t = TensorProto(name=name, data_type=data_type, dims=list(values.shape))
    t.raw_data = packed.tobytes()
    return t


class _GraphBuilder:
    def __init__(self, opset: int, codebook: bool = False):
        self.opset = opset
        self.codebook = codebook
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[TensorProto] = []

    def init(self, array: np.ndarray, name: str) -> str:
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, name: str, **attrs) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=name, **attrs))
        return output

    def act_qdq(self, x: str, layer, prefix: str) -> str:
        scale, zp = layer.input_quant.qparams()
        s = self.init(np.array(float(scale), dtype=np.float32), f"{prefix}.input_scale")
        z = self.init(np.array(int(zp), dtype=np.uint8), f"{prefix}.input_zero_point")
        q = self.node("QuantizeLinear", [x, s, z], f"{prefix}.input_q", f"{prefix}.input_quantize")
        return self.node("DequantizeLinear", [q, s, z], f"{prefix}.input_dq", f"{prefix}.input_dequantize")

    def codebook_weight(self, values: np.ndarray, index: np.ndarray, prefix: str) -> str:
        """A weight that takes few distinct values (k-means weight sharing) as standard ONNX: its index into the
        codebook, widened to int64 (through a unit DequantizeLinear for uint4, which Cast does not read everywhere),
        then Gather from the float codebook; the layout slimserve's own codebook variants use."""
        table = self.init(values.astype(np.float32), f"{prefix}.weight_codebook")
        if self.opset >= INT4_MIN_OPSET:
            self.inits.append(_int4_tensor(index, f"{prefix}.weight_index", UINT4))
            unit = self.init(np.array(1, dtype=np.float32), f"{prefix}.weight_index_unit")
            idx = self.node("DequantizeLinear", [f"{prefix}.weight_index", unit], f"{prefix}.weight_index_float", f"{prefix}.weight_index_widen")
        else:
            idx = self.init(index.astype(np.uint8), f"{prefix}.weight_index")
        wide = self.node("Cast", [idx], f"{prefix}.weight_index_int64", f"{prefix}.weight_index_cast", to=TensorProto.INT64)
        return self.node("Gather", [table, wide], f"{prefix}.weight", f"{prefix}.weight_gather", axis=0)

    def weight(self, layer, prefix: str) -> str:
        w = layer.weight if layer.weight_mask is None else layer.weight * layer.weight_mask
        bits = layer.weight_bits
        if bits == FLOAT_BITS:
            flat = _np(w).astype(np.float32)
            if self.codebook:
                values, index = np.unique(flat, return_inverse=True)
                if len(values) <= CODEBOOK_MAX_VALUES:
                    return self.codebook_weight(values, index.reshape(flat.shape), prefix)
            return self.init(flat, f"{prefix}.weight")
        if bits == 1:
            # Exactly what the forward pass multiplies by: +-mean|w| per output channel (0 where pruned).
            return self.init(_np(binarize_weight(w, layer.weight_mask)).astype(np.float32), f"{prefix}.weight")
        q, scale = quantize_weight(w, bits)
        qn = _np(q).astype(np.int8)
        zero = np.zeros(qn.shape[0], dtype=np.int8)
        if self.opset >= INT4_MIN_OPSET and bits <= 4:
            self.inits.append(_int4_tensor(qn, f"{prefix}.weight_quantized"))
            self.inits.append(_int4_tensor(zero, f"{prefix}.weight_zero_point"))
        else:
            self.init(qn, f"{prefix}.weight_quantized")  # int8 storage holding 2^bits - 1 levels
            self.init(zero, f"{prefix}.weight_zero_point")
        self.init(_np(scale).astype(np.float32), f"{prefix}.weight_scale")
        return self.node("DequantizeLinear",
                         [f"{prefix}.weight_quantized", f"{prefix}.weight_scale", f"{prefix}.weight_zero_point"],
                         f"{prefix}.weight_dq", f"{prefix}.weight_dequantize", axis=0)


@torch.no_grad()
def build_onnx(model: SlimNet, opset: int = 13, metadata: dict | None = None, codebook: bool = False) -> onnx.ModelProto:
    """The model as ONNX; with `codebook`, float weights of at most 16 distinct values are stored as a codebook."""
    if opset < 13:
        raise ValueError("opset >= 13 is needed for per-channel DequantizeLinear")
    model = model.eval()
    g = _GraphBuilder(opset, codebook)
    x = INPUT_NAME
    children = list(model.named_children())
    for i, (name, m) in enumerate(children):
        last = i == len(children) - 1
        out = OUTPUT_NAME if last else f"{name}.out"
        if isinstance(m, (Dense, Conv)):
            xin = g.act_qdq(x, m, name) if m.input_quant is not None else x
            w = g.weight(m, name)
            inputs = [xin, w]
            b = m.effective_bias()
            if b is not None:
                inputs.append(g.init(_np(b).astype(np.float32), f"{name}.bias"))
            if isinstance(m, Dense):
                x = g.node("Gemm", inputs, out, name, transB=1)
            else:
                k = list(m.kernel_size)
                p = list(m.padding)
                x = g.node("Conv", inputs, out, name, kernel_shape=k, pads=p + p, strides=list(m.stride))
        elif isinstance(m, nn.ReLU):
            x = g.node("Relu", [x], out, name)
        elif isinstance(m, nn.MaxPool2d):
            k = [m.kernel_size] * 2 if isinstance(m.kernel_size, int) else list(m.kernel_size)
            s = [m.stride] * 2 if isinstance(m.stride, int) else list(m.stride)
            x = g.node("MaxPool", [x], out, name, kernel_shape=k, strides=s)
        elif isinstance(m, nn.Flatten):
            x = g.node("Flatten", [x], out, name, axis=1)
        elif isinstance(m, BinaryAct):
            # sign with sign(0) = +1, matching SignSTE.
            zero = g.init(np.array(0, dtype=np.float32), f"{name}.zero")
            one = g.init(np.array(1, dtype=np.float32), f"{name}.one")
            neg = g.init(np.array(-1, dtype=np.float32), f"{name}.minus_one")
            ge = g.node("GreaterOrEqual", [x, zero], f"{name}.nonnegative", f"{name}.compare")
            x = g.node("Where", [ge, one, neg], out, name)
        elif isinstance(m, nn.Dropout):
            if last:
                x = g.node("Identity", [x], out, name)
            continue  # inference: identity
        else:
            raise TypeError(f"no ONNX export for layer {name}: {type(m).__name__}")
    graph = helper.make_graph(
        g.nodes, "slimtrain",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, [BATCH_DIM, *model.input_shape])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [BATCH_DIM, model.spec["classes"]])],
        initializer=g.inits,
    )
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                                   producer_name="slimtrain", producer_version="1")
    onnx_model.ir_version = 10 if opset >= INT4_MIN_OPSET else 8
    for k, v in (metadata or {}).items():
        onnx_model.metadata_props.append(onnx.StringStringEntryProto(key=k, value=v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))))
    # The installed onnx checker knows opsets up to its own release; newer ones are checked by onnxruntime instead.
    if opset <= onnx.defs.onnx_opset_version():
        onnx.checker.check_model(onnx_model)
    return onnx_model


def export_onnx(model: SlimNet, path: str | Path, opset: int = 13, metadata: dict | None = None, codebook: bool = False) -> bytes:
    data = build_onnx(model, opset, metadata, codebook).SerializeToString()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(data)
    return data
