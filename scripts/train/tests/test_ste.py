"""Straight-through estimators and fake quantizers, tested directly."""
import torch

from slimtrain.models import Dense, build_model, make_spec, prepare_qat
from slimtrain.quant import ActQuant, SignSTE, binarize_weight, fake_quant_weight, quantize_weight


def test_sign_ste_gradient_is_one_inside_unit_interval_and_zero_outside():
    w = torch.tensor([-3.0, -1.0001, -1.0, -0.5, 0.0, 0.3, 1.0, 1.0001, 2.5], requires_grad=True)
    SignSTE.apply(w).sum().backward()
    assert w.grad.tolist() == [0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]


def test_sign_ste_forward_is_binary_with_sign_of_zero_positive():
    w = torch.tensor([-2.0, -1e-8, 0.0, 1e-8, 5.0])
    assert SignSTE.apply(w).tolist() == [-1.0, -1.0, 1.0, 1.0, 1.0]


def test_ste_passes_the_upstream_gradient_unchanged_where_it_passes():
    w = torch.tensor([0.2, -0.7, 1.5], requires_grad=True)
    (SignSTE.apply(w) * torch.tensor([3.0, -2.0, 4.0])).sum().backward()
    assert w.grad.tolist() == [3.0, -2.0, 0.0]


def test_binarized_weight_is_sign_times_mean_abs_per_output_channel():
    w = torch.tensor([[0.5, -0.1, 0.3, -0.3], [-2.0, 1.0, 0.0, 1.0]])
    wb = binarize_weight(w)
    assert torch.allclose(wb, torch.tensor([[0.3, -0.3, 0.3, -0.3], [-1.0, 1.0, 1.0, 1.0]]))
    for row in wb:
        assert len(torch.unique(row.abs())) == 1


def test_binarized_weight_gradient_is_hard_tanh_ste_scaled_by_channel_scale():
    w = torch.tensor([[0.5, -1.5, 0.25, -0.25]], requires_grad=True)
    binarize_weight(w).sum().backward()
    scale = 2.5 / 4
    assert torch.allclose(w.grad, torch.tensor([[scale, 0.0, scale, scale]]))


def test_k_bit_weights_use_at_most_2k_minus_1_levels_per_channel_and_identity_gradient():
    torch.manual_seed(0)
    w = torch.randn(6, 50, requires_grad=True)
    for bits, levels in [(8, 255), (4, 15), (2, 3)]:
        q, scale = quantize_weight(w, bits)
        assert q.abs().max() <= levels // 2
        assert all(len(torch.unique(row)) <= levels for row in q)
        fq = fake_quant_weight(w, bits)
        assert torch.allclose(fq, q * scale[:, None])
        if bits > 2:  # the channel's largest |w| is represented exactly
            assert torch.allclose(fq.abs().amax(1), w.detach().abs().amax(1))
    w.grad = None
    fake_quant_weight(w, 4).sum().backward()
    assert torch.equal(w.grad, torch.ones_like(w))


def test_act_quant_uses_uint8_levels_and_clips_gradient_outside_observed_range():
    aq = ActQuant()
    aq.train()
    aq(torch.tensor([0.0, 2.55]))  # observes the range [0, 2.55]: scale 0.01, zero point 0
    aq.eval()
    x = torch.tensor([0.004, 0.006, 1.234, 3.0, -1.0], requires_grad=True)
    y = aq(x)
    assert torch.allclose(y, torch.tensor([0.0, 0.01, 1.23, 2.55, 0.0]), atol=1e-6)
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0, 0.0, 0.0]


def test_prepare_qat_binary_activations_replace_relu_and_keep_real_valued_input():
    model = prepare_qat(build_model(make_spec("lenet-300-100", (1, 8, 8), 10)), 1, 1)
    names = [type(m).__name__ for m in model]
    assert names == ["Dense", "BinaryAct", "Dense", "BinaryAct", "Dense"]
    h = model[1](model[0](torch.rand(4, 64)))
    assert set(h.unique().tolist()) <= {-1.0, 1.0}
    assert all(isinstance(m, Dense) and m.weight_bits == 1 for m in model if isinstance(m, Dense))


def test_ternary_weights_round_at_seven_tenths_of_the_channels_mean_magnitude():
    """Ternary Weight Networks' threshold: |w| below 0.7 mean|w| is 0, above it +-1.4 mean|w| (per channel); with the
    channel's largest |w| as the scale, about 95% of Gaussian weights would round to 0 instead of about 45%."""
    torch.manual_seed(1)
    w = torch.randn(4, 400) * torch.tensor([[0.1], [1.0], [3.0], [0.01]])
    q, scale = quantize_weight(w, 2)
    mean = w.abs().mean(1)
    assert torch.allclose(scale, 1.4 * mean)
    expect = torch.where(w.abs() > 0.7 * mean[:, None], torch.sign(w), torch.zeros_like(w))
    assert torch.equal(q, expect)
    zeros = (q == 0).float().mean().item()
    assert 0.35 < zeros < 0.55, zeros
