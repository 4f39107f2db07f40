"""Deep Compression storage accounting."""
import pytest
import torch

from slimtrain.models import build_model, make_spec, prepare_qat
from slimtrain.prune import Pruner
from slimtrain.sizing import huffman_bits, huffman_code_lengths, relative_indices, storage_report


def test_huffman_lengths_are_optimal_for_a_skewed_source():
    lengths = huffman_code_lengths({"a": 8, "b": 4, "c": 2, "d": 2})
    assert lengths == {"a": 1, "b": 2, "c": 3, "d": 3}
    assert huffman_bits(["x"] * 5) == 5


def test_relative_indices_insert_fillers_for_long_gaps():
    gaps, fillers = relative_indices(torch.tensor([0, 3, 80]).numpy(), index_bits=5)
    assert gaps.tolist() == [1, 3, 32, 32, 13] and fillers == 2


def test_storage_shrinks_stage_by_stage_for_a_sparse_quantized_lenet():
    torch.manual_seed(0)
    model = build_model(make_spec("lenet-300-100", (1, 28, 28), 10))
    Pruner(model, "unstructured").prune_to(0.92)
    prepare_qat(model, 4)
    r = storage_report(model, 4)["bytes"]
    assert r["dense_fp32"] == pytest.approx(266610 * 4)
    assert r["dense_fp32"] > r["pruned_sparse"] > r["quantized"] > r["entropy_coded"]
