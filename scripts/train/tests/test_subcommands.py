"""Each subcommand learns on reduced digits configs, exports ONNX, and onnxruntime-node agrees with PyTorch."""
import json

import numpy as np
import onnx
import pytest

from conftest import DIGITS
from helpers import assert_learns, assert_onnx_matches_torch, initializers, op_types


def test_train_mlp_learns_and_exports_fp32_onnx_with_the_reference_interface(run_cli, digits):
    res = run_cli("train", *DIGITS, "--arch", "mnist-mlp", "--epochs", "6")
    assert_learns(res, 0.9)
    m = onnx.load(res["export"]["onnx"])
    assert [o.version for o in m.opset_import] == [13]
    (inp,), (out,) = m.graph.input, m.graph.output
    assert inp.name == "input" and [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim] == ["N", 64]
    assert out.name == "logits" and [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim] == ["N", 10]
    recipe = json.loads({p.key: p.value for p in m.metadata_props}["slimserve.recipe"])
    assert recipe["trained"]["method"] == "train"
    assert_onnx_matches_torch(res, digits, quantized=False)
    assert len(res["history"]) == 6 and res["environment"]["device"] == "cpu"


def test_train_cnn_with_configurable_size(run_cli, digits):
    res = run_cli("train", *DIGITS, "--arch", "cnn", "--channels", "8,16", "--fc", "32", "--epochs", "6")
    assert res["spec"]["channels"] == [8, 16] and res["spec"]["fc"] == 32
    assert_learns(res, 0.8)
    assert op_types(res).count("Conv") == 2
    assert_onnx_matches_torch(res, digits, quantized=False)


@pytest.mark.parametrize("arch,bits", [("lenet-300-100", 8), ("cnn", 4), ("lenet-300-100", 2)])
def test_qat_k_bit_exports_qdq_with_k_bit_levels_in_int8_storage(run_cli, digits, arch, bits):
    res = run_cli("qat", *DIGITS, "--arch", arch, "--bits", str(bits), "--act-bits", "8", "--epochs", "6")
    assert_learns(res, 0.8)
    ops = op_types(res)
    layers = ops.count("Gemm") + ops.count("Conv")
    assert ops.count("DequantizeLinear") == 2 * layers  # one for each weight, one for each input activation
    assert ops.count("QuantizeLinear") == layers
    qmax = 2 ** (bits - 1) - 1
    for name, arr in initializers(res).items():
        if name.endswith("weight_quantized"):
            assert arr.dtype == np.int8 and np.abs(arr).max() == qmax
        if name.endswith("input_zero_point"):
            assert arr.dtype == np.uint8
    assert_onnx_matches_torch(res, digits, quantized=True)


def test_qat_4_bit_at_opset_21_stores_int4(run_cli, digits):
    res = run_cli("qat", *DIGITS, "--arch", "lenet-300-100", "--bits", "4", "--epochs", "3", "--opset", "21")
    m = onnx.load(res["export"]["onnx"])
    int4 = [t for t in m.graph.initializer if t.name.endswith("weight_quantized")]
    assert int4 and all(t.data_type == 22 for t in int4)
    assert len(int4[0].raw_data) == (int4[0].dims[0] * int4[0].dims[1] + 1) // 2
    assert_onnx_matches_torch(res, digits, quantized=True)


@pytest.mark.parametrize("act_bits", ["32", "8", "1"])
def test_qat_binary_weights_export_two_values_per_output_channel(run_cli, digits, act_bits):
    res = run_cli("qat", *DIGITS, "--arch", "lenet-300-100", "--bits", "1", "--act-bits", act_bits, "--epochs", "8")
    assert_learns(res, 0.6)
    weights = {k: v for k, v in initializers(res).items() if k.endswith(".weight")}
    assert len(weights) == 3
    for w in weights.values():
        assert w.dtype == np.float32
        for row in w:
            magnitudes = np.unique(np.abs(row))
            assert len(magnitudes) == 1 and magnitudes[0] > 0
            assert set(np.sign(row)) <= {-1.0, 1.0}
    if act_bits == "1":
        assert op_types(res).count("Where") == 2 and "Relu" not in op_types(res)
    # Binary activations threshold at 0 and 8-bit ones round: both see the boundary effects of quantized graphs.
    assert_onnx_matches_torch(res, digits, quantized=act_bits != "32")


def test_distill_from_checkpoint_teacher_learns_with_soft_targets(run_cli, digits, tmp_path):
    teacher = run_cli("train", *DIGITS, "--arch", "lenet-300-100", "--epochs", "6", out="teacher")
    res = run_cli("distill", *DIGITS, "--teacher", teacher["export"]["checkpoint"], "--arch", "mlp", "--hidden", "64",
                  "--temperature", "4", "--alpha", "1.0", "--epochs", "8")
    assert res["spec"]["hidden"] == [64]
    assert_learns(res, 0.85)
    assert res["recipe"]["trained"]["temperature"] == 4
    assert_onnx_matches_torch(res, digits, quantized=False)


def test_distill_transfer_set_without_a_class_still_learns_it_from_the_teacher(run_cli, digits):
    teacher = run_cli("train", *DIGITS, "--arch", "lenet-300-100", "--epochs", "8", out="teacher")
    res = run_cli("distill", *DIGITS, "--teacher", teacher["export"]["checkpoint"], "--arch", "mlp", "--hidden", "64",
                  "--omit-classes", "3", "--val-size", "200", "--temperature", "8", "--alpha", "1.0", "--epochs", "10")
    assert res["transfer_set"]["omitted_classes"] == [3]
    assert res["transfer_set"]["size"] < len(digits.y_train) - 200 - 100  # the 3s are gone
    fix = res["bias_fix"]
    n3 = fix["before"]["n_class"]
    # Never shown a 3, the student still recognises some from the teacher's soft targets, and raising the bias helps.
    assert fix["before"]["errors_on_class"] < n3
    assert fix["after"]["errors"] <= fix["before"]["errors"] or fix["after"]["delta"] == 0


@pytest.mark.parametrize("mode,sparsity", [("unstructured", "0.8"), ("2:4", "0.5"), ("channel", "0.5")])
def test_prune_reaches_its_sparsity_learns_and_exports_zeros(run_cli, digits, mode, sparsity):
    res = run_cli("prune", *DIGITS, "--arch", "lenet-300-100", "--mode", mode, "--final-sparsity", sparsity,
                  "--prune-steps", "5", "--epochs", "6")
    assert_learns(res, 0.85)
    assert res["pruning"]["sparsity"] == pytest.approx(float(sparsity), abs=0.02)
    weights = [v for k, v in initializers(res).items() if k.endswith(".weight")]
    zeros = sum(int((w == 0).sum()) for w in weights) / sum(w.size for w in weights)
    assert zeros == pytest.approx(res["pruning"]["sparsity"], abs=1e-3)
    assert_onnx_matches_torch(res, digits, quantized=False)


def test_prune_then_qat_keeps_the_masks(run_cli, digits):
    res = run_cli("prune", *DIGITS, "--arch", "lenet-300-100", "--final-sparsity", "0.8", "--prune-steps", "4",
                  "--epochs", "5", "--qat-bits", "8", "--act-bits", "8", "--qat-epochs", "2")
    assert_learns(res, 0.85)
    q = [v for k, v in initializers(res).items() if k.endswith("weight_quantized")]
    zeros = sum(int((w == 0).sum()) for w in q) / sum(w.size for w in q)
    assert zeros >= 0.8
    assert res["recipe"]["trained"]["bits"] == 8
    assert_onnx_matches_torch(res, digits, quantized=True)


def test_qat_from_a_pruned_checkpoint_keeps_its_masks(run_cli, digits):
    pruned = run_cli("prune", *DIGITS, "--arch", "lenet-300-100", "--final-sparsity", "0.7", "--epochs", "4", out="pruned")
    res = run_cli("qat", *DIGITS, "--init", pruned["export"]["checkpoint"], "--bits", "4", "--epochs", "2")
    q = [v for k, v in initializers(res).items() if k.endswith("weight_quantized")]
    assert sum(int((w == 0).sum()) for w in q) / sum(w.size for w in q) >= 0.7
    assert res["final"]["accuracy"] >= 0.8
