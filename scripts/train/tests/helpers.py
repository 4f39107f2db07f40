"""Assertions shared by the subcommand tests."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

from conftest import (CHANCE, DEEP_QDQ_ARGMAX_AGREEMENT, DEEP_QDQ_MAX_REL, DEEP_QDQ_ROWS_EXACT, FP32_ATOL,
                      QDQ_ARGMAX_AGREEMENT, QDQ_ATOL, QDQ_MAX_REL, QDQ_ROWS_EXACT, torch_logits)
from slimtrain.ortnode import ort_run


def assert_learns(res: dict, floor: float = 0.6) -> None:
    """Clearly above chance and well above the untrained (or initial) model it started from."""
    start, end = res["initial"]["accuracy"], res["final"]["accuracy"]
    assert end >= floor > CHANCE + 0.3, f"accuracy {end:.3f} below {floor}"
    assert end >= start + 0.3, f"accuracy {end:.3f} not clearly above its start {start:.3f}"


def model_input(digits, res: dict) -> np.ndarray:
    shape = res["spec"]["input_shape"]
    return digits.x_test.numpy().reshape(len(digits.x_test), *shape)


def assert_onnx_matches_torch(res: dict, digits, quantized: bool) -> np.ndarray:
    """onnxruntime-node outputs of the exported model against PyTorch's on the test set."""
    x = model_input(digits, res)
    ref = torch_logits(res["export"]["checkpoint"], digits.x_test.numpy())
    path = res["export"]["onnx"]
    if not quantized:
        out = ort_run(path, {"input": x})["logits"]
        np.testing.assert_allclose(out, ref, rtol=0, atol=FP32_ATOL)
        return out
    literal = ort_run(path, {"input": x}, level="disabled")["logits"]
    rows_exact = (np.abs(literal - ref).max(1) <= QDQ_ATOL).mean()
    assert rows_exact >= QDQ_ROWS_EXACT, f"only {rows_exact:.3f} of examples within {QDQ_ATOL}"
    for out in (literal, ort_run(path, {"input": x}, level="basic")["logits"]):
        assert np.abs(out - ref).max() <= QDQ_MAX_REL * np.abs(ref).max()
        assert (out.argmax(1) == ref.argmax(1)).mean() >= QDQ_ARGMAX_AGREEMENT
    return literal


def onnx_graph(res: dict):
    return onnx.load(res["export"]["onnx"]).graph


def initializers(res: dict) -> dict:
    return {t.name: numpy_helper.to_array(t) for t in onnx_graph(res).initializer}


def op_types(res: dict) -> list[str]:
    return [n.op_type for n in onnx_graph(res).node]


def assert_qdq_parity(path, feeds: dict, ref: np.ndarray) -> None:
    """A fake-quantized model's export against its PyTorch outputs, with the QDQ tolerances of the built-in models."""
    literal = ort_run(path, feeds, level="disabled")["logits"]
    rows_exact = (np.abs(literal - ref).max(1) <= QDQ_ATOL).mean()
    assert rows_exact >= QDQ_ROWS_EXACT, f"only {rows_exact:.3f} of examples within {QDQ_ATOL}"
    for out in (literal, ort_run(path, feeds, level="basic")["logits"]):
        assert np.abs(out - ref).max() <= QDQ_MAX_REL * np.abs(ref).max()
        assert (out.argmax(1) == ref.argmax(1)).mean() >= QDQ_ARGMAX_AGREEMENT


def assert_deep_qdq_parity(path, feeds: dict, ref: np.ndarray) -> None:
    """A fake-quantized user model's export against its PyTorch outputs, with the deep-graph tolerances of conftest.py."""
    scale = max(1.0, float(np.abs(ref).max()))
    literal = ort_run(path, feeds, level="disabled")["logits"]
    rows_exact = (np.abs(literal - ref).max(1) <= QDQ_ATOL * scale).mean()
    assert rows_exact >= DEEP_QDQ_ROWS_EXACT, f"only {rows_exact:.3f} of examples within {QDQ_ATOL} (relative)"
    for out in (literal, ort_run(path, feeds, level="basic")["logits"]):
        assert np.abs(out - ref).max() <= DEEP_QDQ_MAX_REL * scale
        assert (out.argmax(1) == ref.argmax(1)).mean() >= DEEP_QDQ_ARGMAX_AGREEMENT
