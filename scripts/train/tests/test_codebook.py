"""Trained weight sharing (Deep Compression): k-means from a linear start, at most 2^bits values per layer (an exact 0
for pruned weights among them), centroid gradients that are the sums of their members' gradients, and storage."""
import torch

from slimtrain.codebook import kmeans_1d, share_weights, unshare
from slimtrain.models import build_model, make_spec, set_masks
from slimtrain.sizing import codebook_storage_report


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
