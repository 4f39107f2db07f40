#!/usr/bin/python3
"""The model zoo: real architectures exported the way users' exporters write them, for the compression tests
(`--size small`, built by the test suite) and the benchmark (`--size full`).

Each model is written as `<name>.onnx` with `<name>.sample.npz` (one seeded input and PyTorch's own output on it, so
that a test can check the ONNX export against the framework) and described in `manifest.json`: inputs and outputs
with the concrete sizes to test with, parameter count, weight bytes and the exporter style it stands for.

Usage: /usr/bin/python3 scripts/zoo/zoo.py --size small|full --out DIR [--set core|families] [--only NAME,...]

`--set families` writes, instead of the core zoo, other architectures as torch.onnx exports them: torchvision's CNN
families at opset 13 (EfficientNet's SiLU as Sigmoid then Mul, MobileNetV3's HardSwish as HardSigmoid then Mul,
squeeze-and-excitation gates, DenseNet's standalone BatchNormalization, ShuffleNet's channel split and shuffle,
GoogLeNet's inception pools, RegNet's grouped convolutions, SqueezeNet's fire modules, ConvNeXt's channel LayerNorm
through permutes), its vision transformers at opset 14 (ViT; Swin's shifted windows: roll, ScatterND, Mod), and a
YOLO-style detector, for the kernel engine's coverage tests.

Manifest inputs: `dtype` float32 or int64, `shape` (the concrete sizes), `range` [lo, hi] for int64 inputs (token
ids; an int64 scalar chooses a branch), `scale` for float inputs whose values are not unit normal (a recurrent state).

Everything is seeded and single-process (two threads), so the same torch build writes the same files.
"""
import argparse
import json
import math
import os
import sys
import time
import warnings

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from onnx import helper, numpy_helper, TensorProto

SEED = 20240611

# Sizes per model: "small" keeps each file within ~2 MB and the whole zoo within a minute on two cores (weights still
# dominate the file, so compression ratios measured on it mean something); "full" is the published architecture.
SIZES = {
    "small": {
        "mobilenet_v2": dict(width_mult=0.35, num_classes=100, image=64, batch=2),
        "resnet18": dict(width=12, num_classes=100, image=64, batch=2),
        "transformer": dict(d=64, heads=4, ffn=256, vocab=1000, max_seq=64, seq=16, batch=2),
        "lstm": dict(features=32, hidden=128, classes=10, seq=20, batch=2),
        "gru": dict(features=32, hidden=128, classes=10, seq=20, batch=2),
        "cnn_constants": dict(channels=(32, 64, 128), classes=100, image=32, batch=2),
        "cnn_if": dict(channels=(48, 96), fc=256, classes=10, image=32, batch=2),
        "tied_embedding": dict(vocab=2000, d=128, seq=16, batch=2),
        "convtranspose": dict(channels=(64, 128), image=64, batch=1),
    },
    "full": {
        "mobilenet_v2": dict(width_mult=1.0, num_classes=1000, image=224, batch=1),
        "resnet18": dict(width=64, num_classes=1000, image=224, batch=1),
        "transformer": dict(d=384, heads=12, ffn=1536, vocab=8192, max_seq=512, seq=128, batch=1),
        "lstm": dict(features=80, hidden=512, classes=40, seq=100, batch=1),
        "gru": dict(features=80, hidden=512, classes=40, seq=100, batch=1),
        "cnn_constants": dict(channels=(64, 128, 256, 512), classes=1000, image=128, batch=1),
        "cnn_if": dict(channels=(128, 256), fc=1024, classes=100, image=64, batch=1),
        "tied_embedding": dict(vocab=16000, d=512, seq=128, batch=1),
        "convtranspose": dict(channels=(64, 128, 256), image=256, batch=1),
    },
}


def seeded(name):
    """A fresh seed per model, so that generating one model alone (--only) gives the same bytes as the whole zoo."""
    seed = SEED + sum(ord(c) * (i + 1) for i, c in enumerate(name))
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def warm_batchnorm(model, shape, batches=8):
    """Runs seeded batches in train mode so that BatchNorm's running statistics are those of the activations (a
    randomly initialised network otherwise explodes or vanishes layer by layer), then switches to eval mode."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the warm-up batches
    model.train()
    with torch.no_grad():
        for _ in range(batches):
            model(torch.randn(*shape))
    model.eval()


def export_torch(model, args, path, input_names, output_names, dynamic_axes=None, opset=13, fold=True):
    torch.onnx.export(
        model, args, path, input_names=input_names, output_names=output_names, dynamic_axes=dynamic_axes,
        opset_version=opset, do_constant_folding=fold, training=torch.onnx.TrainingMode.EVAL,
    )


def run_torch(model, inputs):
    with torch.no_grad():
        out = model(*[torch.from_numpy(x) for x in inputs])
    return [o.numpy() for o in (out if isinstance(out, tuple) else (out,))]


# ---- the models -----------------------------------------------------------------------------------------------


def image_input(c, batch, image):
    return {"name": "image", "dtype": "float32", "shape": [batch, 3, image, image]}


def mobilenet_v2(c, rng):
    model = torchvision.models.mobilenet_v2(weights=None, width_mult=c["width_mult"], num_classes=c["num_classes"])
    shape = [c["batch"], 3, c["image"], c["image"]]
    warm_batchnorm(model, [8, 3, c["image"], c["image"]])
    x = rng.standard_normal(shape).astype(np.float32)
    return dict(
        model=model, sample=[x], style="torch.onnx, BatchNorm folded into Conv (torchvision MobileNetV2)",
        inputs=[{"name": "image", "dtype": "float32", "shape": shape}], outputs=["logits"],
        dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
    )


class NarrowResNet(torchvision.models.resnet.ResNet):
    """torchvision's ResNet-18 (BasicBlock, [2, 2, 2, 2]) with the stage widths scaled from 64 to `width`."""

    def __init__(self, width, num_classes):
        nn.Module.__init__(self)
        block, self._norm_layer, self.dilation, self.groups, self.base_width = (
            torchvision.models.resnet.BasicBlock, nn.BatchNorm2d, 1, 1, 64)
        self.inplanes = width
        self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, width, 2)
        self.layer2 = self._make_layer(block, width * 2, 2, stride=2)
        self.layer3 = self._make_layer(block, width * 4, 2, stride=2)
        self.layer4 = self._make_layer(block, width * 8, 2, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(width * 8, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")


def resnet18(c, rng):
    if c["width"] == 64:
        model = torchvision.models.resnet18(weights=None, num_classes=c["num_classes"])
    else:
        model = NarrowResNet(c["width"], c["num_classes"])
    shape = [c["batch"], 3, c["image"], c["image"]]
    warm_batchnorm(model, [8, 3, c["image"], c["image"]])
    x = rng.standard_normal(shape).astype(np.float32)
    return dict(
        model=model, sample=[x], style="torch.onnx, BatchNorm folded into Conv (torchvision ResNet-18)",
        inputs=[{"name": "image", "dtype": "float32", "shape": shape}], outputs=["logits"],
        dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
    )


# Which of the six encoder layers are one module object: layers 1-2 and 4-5 share their parameters (torch writes
# one initializer read by both), layers 0 and 3 have their own.
TRANSFORMER_LAYERS = [0, 1, 1, 2, 3, 3]


class TokenEncoder(nn.Module):
    """Token and learned position embeddings, a 6-layer nn.TransformerEncoder (post-norm, GELU) and a final norm."""

    def __init__(self, c):
        super().__init__()
        self.tokens = nn.Embedding(c["vocab"], c["d"])
        self.positions = nn.Parameter(torch.randn(c["max_seq"], c["d"]) * 0.02)
        nn.init.normal_(self.tokens.weight, std=0.02)

        def layer():
            return nn.TransformerEncoderLayer(c["d"], c["heads"], c["ffn"], dropout=0.0, activation="gelu",
                                              batch_first=True)

        distinct = [layer() for _ in range(max(TRANSFORMER_LAYERS) + 1)]
        self.encoder = nn.TransformerEncoder(layer(), len(TRANSFORMER_LAYERS), enable_nested_tensor=False)
        # nn.TransformerEncoder deep-copies one layer (identical copies, which torch would deduplicate all into one);
        # each distinct layer here is initialised on its own, and reused objects are truly shared.
        self.encoder.layers = nn.ModuleList([distinct[i] for i in TRANSFORMER_LAYERS])
        self.norm = nn.LayerNorm(c["d"])

    def forward(self, ids):
        x = self.tokens(ids) + self.positions[: ids.shape[1]]
        return self.norm(self.encoder(x))


def transformer(c, rng):
    model = TokenEncoder(c).eval()
    shape = [c["batch"], c["seq"]]
    ids = rng.integers(0, c["vocab"], size=shape, dtype=np.int64)
    return dict(
        model=model, sample=[ids], opset=14, grad=True,
        style="torch.onnx, nn.TransformerEncoder with shared and unshared layers (shared initializers), dynamic batch and sequence",
        inputs=[{"name": "ids", "dtype": "int64", "shape": shape, "range": [0, c["vocab"] - 1]}], outputs=["hidden"],
        dynamic_axes={"ids": {0: "batch", 1: "sequence"}, "hidden": {0: "batch", 1: "sequence"}},
    )


class RecurrentClassifier(nn.Module):
    """A 2-layer LSTM or GRU over [batch, seq, features]; logits from the last step. The GRU takes its initial state
    as an input and returns its final state, as streaming models do."""

    def __init__(self, cell, c):
        super().__init__()
        self.cell = cell
        self.rnn = (nn.LSTM if cell == "lstm" else nn.GRU)(c["features"], c["hidden"], num_layers=2, batch_first=True)
        self.head = nn.Linear(c["hidden"], c["classes"])

    def forward(self, x, h0=None):
        if self.cell == "lstm":
            y, _ = self.rnn(x)
            return self.head(y[:, -1])
        y, h = self.rnn(x, h0)
        return self.head(y[:, -1]), h


def recurrent(cell):
    def build(c, rng):
        model = RecurrentClassifier(cell, c).eval()
        shape = [c["batch"], c["seq"], c["features"]]
        x = rng.standard_normal(shape).astype(np.float32)
        inputs = [{"name": "features", "dtype": "float32", "shape": shape}]
        sample = [x]
        outputs = ["logits"]
        axes = {"features": {0: "batch", 1: "sequence"}, "logits": {0: "batch"}}
        if cell == "gru":
            h_shape = [2, c["batch"], c["hidden"]]
            inputs.append({"name": "state", "dtype": "float32", "shape": h_shape, "scale": 0.1})
            sample.append((rng.standard_normal(h_shape) * 0.1).astype(np.float32))
            outputs.append("next_state")
            axes.update(state={1: "batch"}, next_state={1: "batch"})
        return dict(
            model=model, sample=sample, inputs=inputs, outputs=outputs, dynamic_axes=axes,
            style=f"torch.onnx, 2-layer {cell.upper()} (W, R, B initializers, gates stacked)"
            + (", state as an input and an output" if cell == "gru" else ""),
        )

    return build


class SmallCnn(nn.Module):
    """Conv-BN-ReLU stages (stride 2 after the first), global pooling, a hidden and an output layer."""

    def __init__(self, channels, classes):
        super().__init__()
        layers, prev = [], 3
        for i, ch in enumerate(channels):
            layers += [nn.Conv2d(prev, ch, 3, stride=1 if i == 0 else 2, padding=1, bias=False), nn.BatchNorm2d(ch),
                       nn.ReLU()]
            prev = ch
        self.features = nn.Sequential(*layers)
        self.hidden = nn.Linear(prev, prev * 2)
        self.out = nn.Linear(prev * 2, classes)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1).flatten(1)
        return self.out(F.relu(self.hidden(x)))


def cnn_constants(c, rng):
    model = SmallCnn(c["channels"], c["classes"])
    shape = [c["batch"], 3, c["image"], c["image"]]
    warm_batchnorm(model, [8] + shape[1:])
    x = rng.standard_normal(shape).astype(np.float32)
    return dict(
        model=model, sample=[x], opset=11, rewrite=constants_rewrite,
        style="paddle2onnx (every weight a Constant node, no initializers) and tf2onnx (Identity in front of weights)",
        inputs=[{"name": "image", "dtype": "float32", "shape": shape}], outputs=["logits"],
        dynamic_axes={"image": {0: "p2o.DynamicDimension.0"}, "logits": {0: "p2o.DynamicDimension.0"}},
    )


def constants_rewrite(m):
    """Every initializer becomes a Constant node at the top of the graph; every other weight of rank >= 2 is read
    through an Identity node (the Constant writes `<name>__const`, the Identity the name the consumers read)."""
    g = m.graph
    nodes, heavy = [], 0
    for init in g.initializer:
        if len(init.dims) >= 2 and heavy % 2 == 1:
            nodes.append(helper.make_node("Constant", [], [init.name + "__const"], value=init, name=init.name + "__const"))
            nodes.append(helper.make_node("Identity", [init.name + "__const"], [init.name], name=init.name + "__identity"))
        else:
            nodes.append(helper.make_node("Constant", [], [init.name], value=init, name=init.name + "__const"))
        heavy += len(init.dims) >= 2
    for n in nodes:
        if n.op_type == "Constant":
            n.attribute[0].t.name = ""  # Constant's tensor takes its name from the node's output
    kept = list(g.node)
    del g.node[:]
    g.node.extend(nodes + kept)
    del g.initializer[:]
    # Initializers were also listed as graph inputs by older exporters; none may remain.
    names = {n.output[0] for n in nodes}
    kept_inputs = [i for i in g.input if i.name not in names]
    del g.input[:]
    g.input.extend(kept_inputs)


def cnn_if(c, rng):
    """Two branches of one `If`, each a Conv-ReLU-Conv-ReLU-pool-MatMul network on its own weights (He-initialised,
    held as the branch's initializers), reading the outer graph's image; the int64 scalar `branch` chooses (> 0: the
    second branch), as a sample rate or a mode flag does in streaming models."""
    c1, c2 = c["channels"]
    classes, fc = c["classes"], c["fc"]

    def he(shape, fan_in):
        return (rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)).astype(np.float32)

    def branch(tag):
        w = {
            f"{tag}.conv1.weight": he([c1, 3, 3, 3], 27),
            f"{tag}.conv1.bias": np.zeros(c1, np.float32),
            f"{tag}.conv2.weight": he([c2, c1, 3, 3], c1 * 9),
            f"{tag}.conv2.bias": np.zeros(c2, np.float32),
            f"{tag}.fc1.weight": he([c2, fc], c2),
            f"{tag}.fc2.weight": he([fc, classes], fc) / 2,
        }
        nodes = [
            helper.make_node("Conv", ["image", f"{tag}.conv1.weight", f"{tag}.conv1.bias"], [f"{tag}.c1"],
                             pads=[1, 1, 1, 1]),
            helper.make_node("Relu", [f"{tag}.c1"], [f"{tag}.r1"]),
            helper.make_node("Conv", [f"{tag}.r1", f"{tag}.conv2.weight", f"{tag}.conv2.bias"], [f"{tag}.c2"],
                             pads=[1, 1, 1, 1], strides=[2, 2]),
            helper.make_node("Relu", [f"{tag}.c2"], [f"{tag}.r2"]),
            helper.make_node("GlobalAveragePool", [f"{tag}.r2"], [f"{tag}.pool"]),
            helper.make_node("Flatten", [f"{tag}.pool"], [f"{tag}.flat"]),
            helper.make_node("MatMul", [f"{tag}.flat", f"{tag}.fc1.weight"], [f"{tag}.h"]),
            helper.make_node("Relu", [f"{tag}.h"], [f"{tag}.hr"]),
            helper.make_node("MatMul", [f"{tag}.hr", f"{tag}.fc2.weight"], [f"{tag}.logits"]),
        ]
        graph = helper.make_graph(
            nodes, f"{tag}_branch", [], [helper.make_tensor_value_info(f"{tag}.logits", TensorProto.FLOAT, None)],
            initializer=[numpy_helper.from_array(v, k) for k, v in w.items()])
        return graph, w

    then_graph, then_w = branch("second")
    else_graph, else_w = branch("first")
    nodes = [
        helper.make_node("Constant", [], ["zero"], value=numpy_helper.from_array(np.array(0, np.int64), "zero")),
        helper.make_node("Greater", ["branch", "zero"], ["second"]),
        helper.make_node("If", ["second"], ["logits"], then_branch=then_graph, else_branch=else_graph),
    ]
    shape = [c["batch"], 3, c["image"], c["image"]]
    graph = helper.make_graph(
        nodes, "cnn_if",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, "height", "width"]),
         helper.make_tensor_value_info("branch", TensorProto.INT64, [])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", classes])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="slimserve-zoo")
    onnx.checker.check_model(model, full_check=True)

    x = rng.standard_normal(shape).astype(np.float32)
    sample_branch = np.array(1, np.int64)
    w = then_w if sample_branch > 0 else else_w
    with torch.no_grad():  # the reference: the chosen branch computed by torch
        t = torch.from_numpy
        h = F.relu(F.conv2d(t(x), t(w["second.conv1.weight"]), t(w["second.conv1.bias"]), padding=1))
        h = F.relu(F.conv2d(h, t(w["second.conv2.weight"]), t(w["second.conv2.bias"]), padding=1, stride=2))
        h = F.relu(F.adaptive_avg_pool2d(h, 1).flatten(1) @ t(w["second.fc1.weight"]))
        y = (h @ t(w["second.fc2.weight"])).numpy()
    params = sum(v.size for v in list(then_w.values()) + list(else_w.values()))
    return dict(
        onnx=model, sample=[x, sample_branch], reference=[y], parameters=params,
        style="weights inside both branches of an If chosen by an int64 scalar input (onnx helper)",
        inputs=[{"name": "image", "dtype": "float32", "shape": shape},
                {"name": "branch", "dtype": "int64", "shape": [], "range": [0, 1]}],
        outputs=["logits"],
    )


class TiedLanguageModel(nn.Module):
    """Embedding -> Linear/GELU/LayerNorm -> logits through the embedding table itself (weight tying)."""

    def __init__(self, c):
        super().__init__()
        self.embed = nn.Embedding(c["vocab"], c["d"])
        self.hidden = nn.Linear(c["d"], c["d"])
        self.norm = nn.LayerNorm(c["d"])

    def forward(self, ids):
        h = self.norm(F.gelu(self.hidden(self.embed(ids))))
        return F.linear(h, self.embed.weight)


def tied_embedding(c, rng):
    model = TiedLanguageModel(c).eval()
    nn.init.normal_(model.embed.weight, std=0.05)
    shape = [c["batch"], c["seq"]]
    ids = rng.integers(0, c["vocab"], size=shape, dtype=np.int64)
    # Constant folding (the exporter's default) would fold Transpose(table) into a second initializer
    # `onnx::MatMul_N` [d, vocab] and so untie the weights in the file; exported unfolded, the one table is read by
    # Gather and, through a Transpose node, by the output MatMul.
    return dict(
        model=model, sample=[ids], opset=13, fold=False,
        style="torch.onnx without constant folding, nn.Embedding tied to the output projection (one table read by Gather and by Transpose -> MatMul)",
        inputs=[{"name": "ids", "dtype": "int64", "shape": shape, "range": [0, c["vocab"] - 1]}], outputs=["logits"],
        dynamic_axes={"ids": {0: "batch", 1: "sequence"}, "logits": {0: "batch", 1: "sequence"}},
    )


class ConvAutoencoder(nn.Module):
    """Strided Conv encoder and a ConvTranspose2d decoder back to the input's size (kernel 4, stride 2, padding 1)."""

    def __init__(self, channels):
        super().__init__()
        enc, prev = [], 3
        for ch in channels:
            enc += [nn.Conv2d(prev, ch, 4, stride=2, padding=1), nn.ReLU()]
            prev = ch
        dec = []
        for ch in list(reversed(channels))[1:] + [3]:
            dec += [nn.ConvTranspose2d(prev, ch, 4, stride=2, padding=1), nn.ReLU()]
            prev = ch
        self.encoder = nn.Sequential(*enc)
        self.decoder = nn.Sequential(*dec[:-1])  # no ReLU on the reconstruction

    def forward(self, x):
        return self.decoder(self.encoder(x))


def convtranspose(c, rng):
    model = ConvAutoencoder(c["channels"]).eval()
    shape = [c["batch"], 3, c["image"], c["image"]]
    x = rng.standard_normal(shape).astype(np.float32)
    return dict(
        model=model, sample=[x], style="torch.onnx, Conv encoder and ConvTranspose decoder",
        inputs=[{"name": "image", "dtype": "float32", "shape": shape}], outputs=["reconstruction"],
        dynamic_axes={"image": {0: "batch", 2: "height", 3: "width"},
                      "reconstruction": {0: "batch", 2: "height", 3: "width"}},
    )


MODELS = {
    "mobilenet_v2": mobilenet_v2,
    "resnet18": resnet18,
    "transformer": transformer,
    "lstm": recurrent("lstm"),
    "gru": recurrent("gru"),
    "cnn_constants": cnn_constants,
    "cnn_if": cnn_if,
    "tied_embedding": tied_embedding,
    "convtranspose": convtranspose,
}


# A YOLO-style detector (Ultralytics' layout, written here: no download): Conv-BN-SiLU blocks, C2f (a channel split
# and concatenation), SPPF (three 5x5 max pools), nearest upsampling, and a DFL box head (Softmax over 16 bins, then a
# fixed 1x1 Conv that takes their expectation), class scores through Sigmoid.
class ConvBnSilu(nn.Sequential):
    def __init__(self, c1, c2, k=1, s=1):
        super().__init__(nn.Conv2d(c1, c2, k, s, k // 2, bias=False), nn.BatchNorm2d(c2), nn.SiLU())


class YoloBottleneck(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.a, self.b = ConvBnSilu(c, c, 3), ConvBnSilu(c, c, 3)

    def forward(self, x):
        return x + self.b(self.a(x))


class C2f(nn.Module):
    def __init__(self, c1, c2, n=1):
        super().__init__()
        self.c = c2 // 2
        self.cv1, self.cv2 = ConvBnSilu(c1, 2 * self.c), ConvBnSilu((2 + n) * self.c, c2)
        self.m = nn.ModuleList(YoloBottleneck(self.c) for _ in range(n))

    def forward(self, x):
        y = list(self.cv1(x).chunk(2, 1))
        y.extend(m(y[-1]) for m in self.m)
        return self.cv2(torch.cat(y, 1))


class Sppf(nn.Module):
    def __init__(self, c1, c2):
        super().__init__()
        self.cv1, self.cv2, self.pool = ConvBnSilu(c1, c1 // 2), ConvBnSilu(c1 * 2, c2), nn.MaxPool2d(5, 1, 2)

    def forward(self, x):
        x = self.cv1(x)
        y1 = self.pool(x)
        y2 = self.pool(y1)
        return self.cv2(torch.cat((x, y1, y2, self.pool(y2)), 1))


class TinyYolo(nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.stem = nn.Sequential(ConvBnSilu(3, 16, 3, 2), ConvBnSilu(16, 32, 3, 2), C2f(32, 32))
        self.p3 = nn.Sequential(ConvBnSilu(32, 64, 3, 2), C2f(64, 64))
        self.p4 = nn.Sequential(ConvBnSilu(64, 128, 3, 2), Sppf(128, 128))
        self.up, self.neck = nn.Upsample(scale_factor=2, mode="nearest"), C2f(192, 64)
        self.box = nn.Sequential(ConvBnSilu(64, 64, 3), nn.Conv2d(64, 64, 1))
        self.cls = nn.Sequential(ConvBnSilu(64, 64, 3), nn.Conv2d(64, classes, 1))
        self.dfl = nn.Conv2d(16, 1, 1, bias=False).requires_grad_(False)
        self.dfl.weight.data[:] = torch.arange(16, dtype=torch.float).view(1, 16, 1, 1)

    def forward(self, x):
        p3 = self.p3(self.stem(x))
        f = self.neck(torch.cat([self.up(self.p4(p3)), p3], 1))
        b, c = self.box(f).flatten(2), self.cls(f).flatten(2)
        n, _, a = b.shape
        boxes = self.dfl(b.view(n, 4, 16, a).transpose(2, 1).softmax(1)).view(n, 4, a)
        return torch.cat((boxes, c.sigmoid()), 1)


class KeywordSpotter(nn.Module):
    """A keyword spotter on 40 log-mel bands, in the TC-ResNet / QuartzNet style: a Conv1d stem, dilated depthwise-
    separable 1-D blocks with BatchNorm, ReLU and residuals, a 1-D max pooling, the mean over time, a linear head."""

    def __init__(self, classes, width):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv1d(40, width, 3, padding=1), nn.BatchNorm1d(width), nn.ReLU())
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv1d(width, width, 5, padding=2 * d, dilation=d, groups=width), nn.Conv1d(width, width, 1),
                          nn.BatchNorm1d(width), nn.ReLU())
            for d in (1, 2, 4))
        self.pool = nn.MaxPool1d(3, stride=2, padding=1)
        self.head = nn.Linear(width, classes)

    def forward(self, x):
        x = self.stem(x)
        for i, block in enumerate(self.blocks):
            x = x + block(x)
            if i == 0:
                x = self.pool(x)
        return self.head(x.mean(-1))


def vit(c):
    model = torchvision.models.VisionTransformer(image_size=c["image"], patch_size=c["image"] // 8, num_layers=4, num_heads=4,
                                                 hidden_dim=128, mlp_dim=256, num_classes=c["num_classes"])
    nn.init.normal_(model.heads.head.weight, std=0.02)  # torchvision starts the head at zero: every logit would be 0
    return model


def convnext(c):
    cfg = torchvision.models.convnext.CNBlockConfig
    return torchvision.models.ConvNeXt([cfg(48, 96, 2), cfg(96, 192, 2), cfg(192, None, 2)], num_classes=c["num_classes"])


def swin(c):
    return torchvision.models.SwinTransformer(patch_size=[4, 4], embed_dim=48, depths=[2, 2], num_heads=[3, 6],
                                              window_size=[4, 4], num_classes=c["num_classes"])


# Other architectures (--set families): torchvision's CNN families at their published widths, its vision transformers
# (ViT, Swin) and ConvNeXt at small widths, the YOLO-style detector, and a 1-D keyword spotter; small runs them on
# 64 x 64 images (the detector on 128 x 128; the spotter on 64 frames of 40 bands, full on 224 frames). Each is
# (builder, opset): the transformers at opset 14, which their attention needs.
FAMILY_BUILDERS = {
    "efficientnet_b0": (lambda c: torchvision.models.efficientnet_b0(num_classes=c["num_classes"]), 13),
    "mobilenet_v3_large": (lambda c: torchvision.models.mobilenet_v3_large(num_classes=c["num_classes"]), 13),
    "shufflenet_v2": (lambda c: torchvision.models.shufflenet_v2_x1_0(num_classes=c["num_classes"]), 13),
    "densenet121": (lambda c: torchvision.models.densenet121(num_classes=c["num_classes"]), 13),
    "googlenet": (lambda c: torchvision.models.googlenet(num_classes=c["num_classes"], aux_logits=False, init_weights=True), 13),
    "regnet_y_400mf": (lambda c: torchvision.models.regnet_y_400mf(num_classes=c["num_classes"]), 13),
    "squeezenet": (lambda c: torchvision.models.squeezenet1_1(num_classes=c["num_classes"]), 13),
    "convnext": (convnext, 13),
    "vit": (vit, 14),
    "swin": (swin, 14),
    "yolo": (lambda c: TinyYolo(20), 13),
    "kws": (lambda c: KeywordSpotter(35, 64 if c["image"] < 100 else 128), 13),
}

FAMILY_SIZES = {
    "small": dict(num_classes=100, image=64, batch=2),
    "full": dict(num_classes=1000, image=224, batch=1),
}


def family(name):
    builder, opset = FAMILY_BUILDERS[name]

    def make(c, rng):
        model = builder(c)
        image = c["image"] * 2 if name == "yolo" else c["image"]
        # The input is an image batch, or the keyword spotter's [batch, 40 bands, frames].
        sample = [40, c["image"]] if name == "kws" else [3, image, image]
        input_name = "features" if name == "kws" else "image"
        shape = [c["batch"], *sample]
        warm_batchnorm(model, [8, *sample])
        x = rng.standard_normal(shape).astype(np.float32)
        return dict(
            model=model, sample=[x], opset=opset, grad=name == "vit",  # ViT's attention exports off its fused path
            style=f"torch.onnx at opset {opset}, BatchNorm folded into Conv where it follows one ({name})",
            inputs=[{"name": input_name, "dtype": "float32", "shape": shape}], outputs=["logits"],
            dynamic_axes={input_name: {0: "batch"}, "logits": {0: "batch"}},
        )
    return make


FAMILIES = {name: family(name) for name in FAMILY_BUILDERS}
SETS = {"core": MODELS, "families": FAMILIES}


# ---- writing ---------------------------------------------------------------------------------------------------


def weight_bytes(graph):
    """Bytes of float weights in initializers and Constant nodes, subgraphs included."""
    total = sum(len(i.raw_data) or 4 * int(np.prod(i.dims)) for i in graph.initializer if i.data_type == TensorProto.FLOAT)
    for n in graph.node:
        for a in n.attribute:
            if a.type == onnx.AttributeProto.TENSOR and a.t.data_type == TensorProto.FLOAT:
                total += len(a.t.raw_data) or 4 * int(np.prod(a.t.dims))
            if a.type == onnx.AttributeProto.GRAPH:
                total += weight_bytes(a.g)
    return total


def build(name, size, out, models=MODELS):
    rng = seeded(name)
    spec = models[name](SIZES[size][name] if models is MODELS else FAMILY_SIZES[size], rng)
    path = os.path.join(out, f"{name}.onnx")
    if "onnx" in spec:
        model, reference = spec["onnx"], spec["reference"]
        params = spec["parameters"]
    else:
        torch_model = spec["model"].eval()
        params = sum(p.numel() for p in torch_model.parameters())
        sample = tuple(torch.from_numpy(x) for x in spec["sample"])
        names = [i["name"] for i in spec["inputs"]]
        # With gradients enabled nn.TransformerEncoder keeps off its fused fast path, which does not export.
        with torch.set_grad_enabled(spec.get("grad", False)):
            export_torch(torch_model, sample, path, names, spec["outputs"], spec.get("dynamic_axes"),
                         opset=spec.get("opset", 13), fold=spec.get("fold", True))
        model = onnx.load(path)
        if "rewrite" in spec:
            spec["rewrite"](model)
        reference = run_torch(torch_model, spec["sample"])
    onnx.checker.check_model(model)
    model.producer_name = model.producer_name or "slimserve-zoo"
    onnx.save(model, path)
    np.savez(os.path.join(out, f"{name}.sample.npz"),
             **{f"input_{i['name']}": x for i, x in zip(spec["inputs"], spec["sample"])},
             **{f"output_{o}": y for o, y in zip(spec["outputs"], reference)})
    return {
        "name": name,
        "file": f"{name}.onnx",
        "sample": f"{name}.sample.npz",
        "style": spec["style"],
        "opset": next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
        "parameters": int(params),
        "weightBytes": weight_bytes(model.graph),
        "fileBytes": os.path.getsize(path),
        "inputs": spec["inputs"],
        "outputs": [{"name": o, "dtype": "float32", "shape": list(y.shape)} for o, y in zip(spec["outputs"], reference)],
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", choices=sorted(SIZES), default="small")
    p.add_argument("--out", required=True, help="directory to write the models and manifest.json to")
    p.add_argument("--set", choices=sorted(SETS), default="core", help="the core zoo, or the other architectures")
    p.add_argument("--only", default="", help=f"comma-separated names among: {', '.join([*MODELS, *FAMILIES])}")
    a = p.parse_args(argv)
    models = SETS[a.set]
    names = [n for n in a.only.split(",") if n] or list(models)
    unknown = [n for n in names if n not in models]
    if unknown:
        p.error(f"unknown model(s) {', '.join(unknown)}; the {a.set} set has {', '.join(models)}")
    torch.set_num_threads(2)
    warnings.filterwarnings("ignore")  # the exporter's notes on dynamic shapes and RNN batch sizes are expected
    os.makedirs(a.out, exist_ok=True)
    entries = []
    for name in names:
        start = time.time()
        entries.append(build(name, a.size, a.out, models))
        e = entries[-1]
        print(f"{name}: {e['fileBytes'] / 1e6:.2f} MB, {e['parameters']} parameters, {time.time() - start:.1f} s",
              file=sys.stderr)
    manifest = {
        "size": a.size,
        "set": a.set,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "onnx": onnx.__version__,
        "models": entries,
    }
    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
