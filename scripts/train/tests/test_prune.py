"""AGP schedule and the three mask kinds."""
import pytest
import torch

from slimtrain.loop import fit
from slimtrain.models import build_model, make_spec
from slimtrain.prune import AGPSchedule, Pruner, agp_sparsity


def test_agp_schedule_starts_at_initial_ends_at_final_and_follows_the_cubic():
    s_i, s_f, n = 0.1, 0.92, 10
    values = [agp_sparsity(t, s_i, s_f, n) for t in range(n + 3)]
    assert values[0] == pytest.approx(s_i)
    assert values[n] == pytest.approx(s_f)
    assert values[n + 2] == pytest.approx(s_f)
    assert values[5] == pytest.approx(s_f + (s_i - s_f) * 0.5 ** 3)
    assert all(b >= a for a, b in zip(values, values[1:]))
    # prunes fast early, slowly late
    assert values[1] - values[0] > values[n] - values[n - 1]


def test_agp_events_fall_every_interval_and_stop_after_n():
    sched = AGPSchedule(0.0, 0.8, 4, every=5)
    events = {step: sched.target_at(step) for step in range(40) if sched.target_at(step) is not None}
    assert sorted(events) == [0, 5, 10, 15, 20]
    assert events[20] == pytest.approx(0.8)


def _lenet():
    torch.manual_seed(0)
    return build_model(make_spec("lenet-300-100", (1, 8, 8), 10))


@pytest.mark.parametrize("scope", ["global", "layer"])
def test_unstructured_masks_reach_the_exact_sparsity(scope):
    model = _lenet()
    pruner = Pruner(model, "unstructured", scope)
    pruner.prune_to(0.75)
    report = pruner.report()
    assert report["sparsity"] == pytest.approx(0.75, abs=1e-4)
    if scope == "layer":
        assert all(v["sparsity"] == pytest.approx(0.75, abs=1e-3) for v in report["layers"].values())


def test_unstructured_pruning_removes_the_smallest_magnitudes():
    model = _lenet()
    w0 = model[0].weight.detach().clone()
    Pruner(model, "unstructured", "layer").prune_to(0.5)
    kept, dropped = w0[model[0].weight_mask.bool()].abs(), w0[~model[0].weight_mask.bool()].abs()
    assert dropped.max() <= kept.min()


def test_two_four_at_half_sparsity_leaves_two_of_every_four():
    model = _lenet()
    pruner = Pruner(model, "2:4")
    pruner.prune_to(0.25)
    assert pruner.report()["sparsity"] == pytest.approx(0.25, abs=1e-3)
    pruner.prune_to(0.5)
    for _, layer in model.weighted_layers():
        zeros_per_group = (layer.weight == 0).reshape(-1, 4).sum(1)
        assert torch.all(zeros_per_group == 2)


def test_two_four_skips_layers_whose_fan_in_is_not_a_multiple_of_four():
    torch.manual_seed(0)
    cnn = build_model(make_spec("cnn", (1, 8, 8), 10))  # first conv: 1 x 5 x 5 = 25 inputs per filter
    pruner = Pruner(cnn, "2:4")
    assert pruner.skipped == ["0"]


def test_channel_pruning_zeroes_whole_output_channels_and_their_bias_but_never_the_classes():
    model = _lenet()
    pruner = Pruner(model, "channel")
    pruner.prune_to(0.5)
    for name, layer in model.weighted_layers()[:-1]:
        dead = (layer.weight == 0).all(1)
        assert int(dead.sum()) == layer.weight.shape[0] // 2
        assert torch.all(layer.bias[dead] == 0)
    assert model.classifier().weight_mask is None


def test_masks_survive_retraining_and_sparsity_hits_the_final_target(digits):
    model = _lenet()
    pruner = Pruner(model, "unstructured", "global")
    steps_per_epoch = -(-len(digits.y_train) // 64)
    sched = AGPSchedule(0.0, 0.9, 5, every=steps_per_epoch // 2)
    fit(model, digits.x_train, digits.y_train, epochs=4, batch_size=64, lr=3e-3, device="cpu", pruner=pruner,
        schedule=sched, progress=False)
    assert pruner.sparsity == pytest.approx(0.9)
    assert pruner.report()["sparsity"] == pytest.approx(0.9, abs=1e-4)
    # latent weights under the mask are exactly zero after the optimizer steps
    for _, layer in model.weighted_layers():
        assert torch.all(layer.weight[layer.weight_mask == 0] == 0)
