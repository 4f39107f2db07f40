"""The committed reference models and MNIST subsets are what test/fixtures/models/README.md says they are."""
import json

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from conftest import REPO_ROOT
from slimtrain.data import find_mnist_dir, images_to_float, read_idx
from slimtrain.ortnode import ort_run

FIXTURES = REPO_ROOT / "test" / "fixtures"
MODELS = FIXTURES / "models"
REPORT = json.loads((MODELS / "reference.json").read_text())
# Accuracy floors on the full 10k test set (targets: MLPs ~98%, CNN ~99%).
FLOORS = {"mnist-mlp": 0.975, "lenet-300-100": 0.975, "mnist-cnn": 0.985, "lenet-300-100-pruned92": 0.975}


def _dims(v):
    return [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]


def test_every_reference_model_is_committed_and_documented():
    assert set(REPORT["models"]) == set(FLOORS)
    readme = (MODELS / "README.md").read_text()
    for name in FLOORS:
        assert (MODELS / f"{name}.onnx").exists() and f"{name}.onnx" in readme


def test_fixtures_total_under_6_mb():
    files = [*MODELS.rglob("*.onnx"), *(FIXTURES / "data").glob("*.npz")]
    assert sum(p.stat().st_size for p in files) < 6_000_000


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_model_interface_is_fp32_opset_13_input_to_logits_with_symbolic_batch(name):
    m = onnx.load(MODELS / f"{name}.onnx")
    onnx.checker.check_model(m)
    assert [(o.domain, o.version) for o in m.opset_import] == [("", 13)]
    (inp,), (out,) = m.graph.input, m.graph.output
    expected = ["N", 1, 28, 28] if name == "mnist-cnn" else ["N", 784]
    assert inp.name == "input" and _dims(inp) == expected and inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert out.name == "logits" and _dims(out) == ["N", 10]
    assert all(t.data_type == onnx.TensorProto.FLOAT for t in m.graph.initializer)


def test_subsets_are_the_first_1000_official_test_images_scaled_to_unit_interval():
    flat = np.load(FIXTURES / "data" / "mnist-test-1000.npz")
    img = np.load(FIXTURES / "data" / "mnist-test-1000-img.npz")
    assert flat["input"].dtype == np.float32 and flat["input"].shape == (1000, 784)
    assert img["input"].dtype == np.float32 and img["input"].shape == (1000, 1, 28, 28)
    assert flat["labels"].dtype == np.int64 and flat["labels"].shape == (1000,)
    d = find_mnist_dir()
    np.testing.assert_array_equal(flat["input"], images_to_float(read_idx(d / "t10k-images-idx3-ubyte")[:1000]).reshape(1000, 784))
    np.testing.assert_array_equal(img["input"].reshape(1000, 784), flat["input"])
    np.testing.assert_array_equal(flat["labels"], read_idx(d / "t10k-labels-idx1-ubyte")[:1000])
    np.testing.assert_array_equal(img["labels"], flat["labels"])


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_recorded_accuracy_is_reproduced_by_onnxruntime_on_the_subset(name):
    info = REPORT["models"][name]
    data = np.load(FIXTURES / "data" / info["dataset"])
    logits = ort_run(MODELS / f"{name}.onnx", {"input": data["input"]})["logits"]
    errors = int((logits.argmax(1) != data["labels"]).sum())
    assert errors == info["onnxruntime"]["subset_1000"]["errors"]
    assert info["onnxruntime"]["test_10k"]["accuracy"] >= FLOORS[name]


def test_pruned_lenet_is_92_percent_sparse_in_its_weights():
    m = onnx.load(MODELS / "lenet-300-100-pruned92.onnx")
    weights = [numpy_helper.to_array(t) for t in m.graph.initializer if t.name.endswith(".weight")]
    zeros = sum(int((w == 0).sum()) for w in weights) / sum(w.size for w in weights)
    assert zeros == pytest.approx(0.92, abs=0.002)


def _fashion_fixture(name: str, report_file: str, doc: str) -> onnx.ModelProto:
    """A Fashion-MNIST fixture model: named in its doc, [N, 1, 28, 28] -> [N, 10], and onnxruntime-node makes as many
    errors on the committed subset as its report recorded, at >= 87% on the 10k test set."""
    info = json.loads((MODELS / report_file).read_text())["models"][name]
    assert f"{name}.onnx" in (MODELS / doc).read_text()
    m = onnx.load(MODELS / f"{name}.onnx")
    onnx.checker.check_model(m)
    (inp,), (out,) = m.graph.input, m.graph.output
    assert _dims(inp) == ["N", 1, 28, 28] and _dims(out) == ["N", 10]
    data = np.load(FIXTURES / "data" / "fashion-test-1000-img.npz")
    logits = ort_run(MODELS / f"{name}.onnx", {"input": data["input"]})["logits"]
    assert int((logits.argmax(1) != data["labels"]).sum()) == info["onnxruntime"]["subset_1000"]["errors"]
    assert info["onnxruntime"]["test_10k"]["accuracy"] >= 0.87
    return m


def test_the_fashion_cnn_is_documented_and_reproduces_its_recorded_accuracy():
    from slimtrain.data import load_idx_dir
    from slimtrain.reference import FASHION_DIR

    _fashion_fixture("fashion-cnn", "fashion-reference.json", "FASHION.md")
    data = np.load(FIXTURES / "data" / "fashion-test-1000-img.npz")
    _, _, images, labels = load_idx_dir(FASHION_DIR)
    np.testing.assert_array_equal(data["input"].reshape(1000, 784), images_to_float(images[:1000]).reshape(1000, 784))
    np.testing.assert_array_equal(data["labels"], labels[:1000])


def test_the_separable_cnn_is_documented_depthwise_and_reproduces_its_recorded_accuracy():
    m = _fashion_fixture("fashion-separable-cnn", "separable-reference.json", "SEPARABLE.md")
    # torch.onnx folded every BatchNorm into its convolution; the depthwise ones have one group per channel.
    assert "BatchNormalization" not in [n.op_type for n in m.graph.node]
    depthwise = [n for n in m.graph.node if n.op_type == "Conv" and any(a.name == "group" and a.i > 1 for a in n.attribute)]
    assert len(depthwise) == 4


DEEP = MODELS / "deep-compression"


def test_deep_compression_pair_is_documented_with_its_command():
    readme = (DEEP / "README.md").read_text()
    for name in ("lenet-300-100-dense.onnx", "lenet-300-100-shared.onnx"):
        assert (DEEP / name).exists() and name in readme
    assert "train.py experiment deep-compression --models test/fixtures/models/deep-compression" in readme


def test_deep_compression_shared_model_is_92_percent_zeros_8_values_a_layer_and_within_0_1_point_of_its_parent():
    shared = onnx.load(DEEP / "lenet-300-100-shared.onnx")
    inits = {t.name: t for t in shared.graph.initializer}
    codebooks = [numpy_helper.to_array(t) for name, t in inits.items() if name.endswith(".weight_codebook")]
    assert len(codebooks) == 3 and all(len(c) <= 8 and 0.0 in c.tolist() for c in codebooks)
    # uint4 indices, two a byte, low nibble first; the pruned weights are those whose codebook value is 0.
    zeros = total = 0
    for name, t in inits.items():
        if name.endswith(".weight_index"):
            packed = np.frombuffer(t.raw_data, dtype=np.uint8)
            index = np.stack([packed & 0x0F, packed >> 4], axis=1).reshape(-1)[: int(np.prod(t.dims))]
            table = numpy_helper.to_array(inits[name.replace("_index", "_codebook")])
            zeros += int((table[index] == 0).sum())
            total += index.size
    assert zeros / total == pytest.approx(0.92, abs=0.002)
    d = find_mnist_dir()
    x = images_to_float(read_idx(d / "t10k-images-idx3-ubyte")).reshape(-1, 784)
    y = read_idx(d / "t10k-labels-idx1-ubyte").astype(np.int64)
    errors = {f: int((ort_run(DEEP / f"lenet-300-100-{f}.onnx", {"input": x})["logits"].argmax(1) != y).sum()) for f in ("dense", "shared")}
    assert errors["shared"] - errors["dense"] <= 10  # 0.1 points of 10,000
