"""Trained weight sharing (Deep Compression): k-means from a linear start, at most 2^bits values per layer (an exact 0
for pruned weights among them), centroid gradients that are the sums of their members' gradients, and storage."""
import onnx
import pytest
import torch

from slimtrain.codebook import kmeans_1d, share_weights, unshare
from slimtrain.graph_export import export_onnx
from slimtrain.models import build_model, make_spec, set_masks
from slimtrain.ortnode import ort_run
from slimtrain.sizing import codebook_storage_report, half_biases


def _model():
    torch.manual_seed(3)
    return build_model(make_spec("lenet-300-100", (1, 8, 8), 10))


def test_kmeans_finds_separated_clusters_and_assigns_each_value_to_its_nearest():
    g = torch.Generator().manual_seed(0)
    centers = torch.tensor([-1.0, 0.2, 3.0])
    v = centers[torch.randint(0, 3, (3000,), generator=g)] + 0.01 * torch.randn(3000, generator=g)
    c, idx = kmeans_1d(v, 3)
    assert torch.allclose(c, centers, atol=0.01)
    assert torch.equal(idx, torch.argmin((v[:, None] - c[None, :]).abs(), dim=1))


def test_each_layer_shares_at_most_2_to_the_bits_values_and_pruned_weights_stay_zero():
    model = _model()
    masks = {name: (torch.rand_like(l.weight) > 0.7).float() for name, l in model.weighted_layers()}
    set_masks(model, masks)
    report = share_weights(model, 3)
    for name, l in model.weighted_layers():
        w = l.weight.detach()
        kept = masks[name].bool()
        assert len(torch.unique(w[kept])) <= 7
        assert report[name]["centroids"] == 8
        assert report[name]["relative_squared_error"] < 0.05
    model(torch.rand(4, 64)).sum().backward()
    for _, l in model.weighted_layers():
        # Training moves the shared values (the parametrization's original), 8 per layer.
        assert l.parametrizations.weight.original.grad.shape == (8,)
    unshare(model)
    for name, l in model.weighted_layers():
        assert not hasattr(l, "parametrizations") or "weight" not in l.parametrizations
        assert len(torch.unique((l.weight * masks[name]).detach())) <= 8


def test_centroid_gradient_is_the_sum_of_member_gradients():
    model = _model()
    share_weights(model, 2)
    name, layer = model.weighted_layers()[0]
    index = layer.parametrizations.weight[0].index
    w = layer.weight  # parametrized: centroids[index]
    upstream = torch.randn_like(w)
    (w * upstream).sum().backward()
    expected = torch.zeros(4).scatter_add_(0, index.flatten(), upstream.flatten())
    assert torch.allclose(layer.parametrizations.weight.original.grad, expected, atol=1e-5)


def test_storage_counts_codebooks_and_indices_smaller_than_dense():
    model = _model()
    masks = {name: (torch.rand_like(l.weight) > 0.9).float() for name, l in model.weighted_layers()}
    set_masks(model, masks)
    share_weights(model, 4)
    unshare(model)
    r = codebook_storage_report(model)
    assert r["compression"]["entropy_coded"] > r["compression"]["pruned_sparse"] > 1
    for layer in r["layers"].values():
        assert layer["shared_values"] <= 15
        assert layer["codebook_index_bits"] <= 4


def _shared(bits: int = 3):
    model = _model()
    set_masks(model, {name: (torch.rand_like(l.weight) > 0.8).float() for name, l in model.weighted_layers()})
    share_weights(model, bits)
    unshare(model)
    return model.eval()


@pytest.mark.parametrize("opset, index_type", [(21, 21), (13, onnx.TensorProto.UINT8)])
def test_codebook_export_is_a_gather_from_the_shared_values_that_onnxruntime_runs_as_torch_does(tmp_path, opset, index_type):
    model = _shared()
    x = torch.rand(5, 64)
    with torch.no_grad():
        expected = model(x).numpy()
    path = tmp_path / "shared.onnx"
    raw = export_onnx(model, path, opset, codebook=True)
    plain = export_onnx(model, tmp_path / "plain.onnx", opset)
    graph = onnx.load_from_string(raw).graph
    gathers = [n for n in graph.node if n.op_type == "Gather"]
    assert len(gathers) == 3  # one codebook per weighted layer
    index = {t.name: t for t in graph.initializer}
    for name, l in model.weighted_layers():
        table = onnx.numpy_helper.to_array(index[f"{name}.weight_codebook"])
        assert sorted(table.tolist()) == sorted(torch.unique(l.weight).tolist())
        assert index[f"{name}.weight_index"].data_type == index_type
    # uint4 indices: about an eighth of the float file; uint8: about a quarter.
    assert len(raw) < len(plain) * (0.14 if opset == 21 else 0.27)
    got = ort_run(path, {"input": x.numpy()})["logits"]
    assert abs(got - expected).max() < 1e-5


def test_layers_with_more_values_than_a_4_bit_index_stay_float(tmp_path):
    model = _model().eval()  # not shared: thousands of distinct values per layer
    graph = onnx.load_from_string(export_onnx(model, tmp_path / "m.onnx", 21, codebook=True)).graph
    assert not [n for n in graph.node if n.op_type == "Gather"]


def test_float16_biases_are_counted_at_2_bytes_and_the_dense_baseline_keeps_4():
    model = _shared()
    full = codebook_storage_report(model)
    half_biases(model)
    for _, l in model.weighted_layers():
        assert torch.equal(l.bias, l.bias.half().float())
    half = codebook_storage_report(model, bias_float_bits=16)
    biases = sum(l.bias.numel() for _, l in model.weighted_layers())
    assert half["bytes"]["dense_fp32"] == full["bytes"]["dense_fp32"]
    assert full["bytes"]["entropy_coded"] - half["bytes"]["entropy_coded"] == pytest.approx(2 * biases)
