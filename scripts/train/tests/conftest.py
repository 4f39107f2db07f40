"""Shared fixtures: the slimtrain package on sys.path, 2 CPU threads, sklearn digits, an in-process CLI runner."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

TRAIN_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = TRAIN_DIR.parents[1]
sys.path.insert(0, str(TRAIN_DIR))

from slimtrain.cli import main  # noqa: E402
from slimtrain.data import load_dataset  # noqa: E402

torch.set_num_threads(2)

CHANCE = 0.1  # ten classes
# Reduced digits config every subcommand test uses: ~1.3k training images, 8x8 pixels.
DIGITS = ["--dataset", "digits", "--batch-size", "32", "--lr", "3e-3", "--no-progress", "--device", "cpu"]

# Tolerances for onnxruntime-node against PyTorch on the same inputs:
FP32_ATOL = 1e-4  # fp32 graphs: only summation order differs
# QDQ graphs compute the same fake-quant maths, but a pre-activation within float rounding (~1e-6) of a quantization
# boundary can round to the neighbouring level in one engine and not the other, moving that example's logits by a few
# levels. At level 'basic' onnxruntime 1.30 may also use integer kernels, and it re-quantizes fp32 weights feeding a
# Gemm/Conv whose input is QDQ to int8 per tensor (so binary +-scale_c weights with 8-bit activations are approximated).
QDQ_ATOL = 1e-4              # for at least QDQ_ROWS_EXACT of the examples, graph run literally (level 'disabled')
QDQ_ROWS_EXACT = 0.99
QDQ_MAX_REL = 0.01           # every example, both levels: |ort - torch| <= 1% of the largest |logit|
QDQ_ARGMAX_AGREEMENT = 0.99  # predicted classes, at both levels
# Deep graphs of user models (ResNet-18's 21 quantized convolutions, a transformer's LayerNorm/Softmax/Erf before every
# quantized input): a float difference of ~1e-6 between the engines moves an activation across a rounding boundary in
# some examples, and that one level travels through every later layer. Weight-only QDQ stays exact (test_any_module).
DEEP_QDQ_ROWS_EXACT = 0.75   # examples within QDQ_ATOL (relative to the largest |logit|), graph run literally
DEEP_QDQ_MAX_REL = 0.05      # every example, both levels: |ort - torch| <= 5% of the largest |logit|
DEEP_QDQ_ARGMAX_AGREEMENT = 0.95


@pytest.fixture(scope="session")
def digits():
    return load_dataset("digits")


@pytest.fixture
def run_cli(tmp_path):
    """Runs a subcommand in-process and returns its results.json as a dict."""

    def run(command: str, *args: str, out: str = "run") -> dict:
        out_dir = tmp_path / out
        assert main([command, *args, "--out", str(out_dir)]) == 0
        return json.loads((out_dir / "results.json").read_text())

    return run


def torch_logits(model_path: str, x: np.ndarray) -> np.ndarray:
    from slimtrain.loop import predict
    from slimtrain.models import load_checkpoint

    model, _ = load_checkpoint(model_path)
    return predict(model, torch.from_numpy(x)).numpy()
