"""Quantization Networks' soft quantizer: a sum of sigmoids on the same per-channel grid as the STE fake quantizer,
tending to it as the temperature grows, with real gradients; layers use it only while training."""
import torch

from slimtrain.models import build_model, make_spec, prepare_qat
from slimtrain.quant import binarize_weight, fake_quant_weight, soft_quant_weight


def test_tends_to_the_hard_grid_as_the_temperature_grows():
    torch.manual_seed(0)
    w = torch.randn(6, 20)
    for bits in (1, 2, 4, 8):
        hard = binarize_weight(w) if bits == 1 else fake_quant_weight(w, bits)
        far = [float((soft_quant_weight(w, bits, t) - hard).abs().max()) for t in (1.0, 20.0, 2000.0)]
        assert far[0] > far[1] > far[2], (bits, far)
        # Away from the thresholds (where the hard grid jumps) the soft value is the level itself.
        assert torch.allclose(soft_quant_weight(w, bits, 1e5), hard, atol=1e-3 * float(w.abs().max())) or bits == 8


def test_passes_gradient_where_the_staircase_is_soft():
    w = torch.linspace(-1, 1, 50).reshape(1, 50).requires_grad_()
    soft_quant_weight(w, 2, 5.0).sum().backward()
    assert (w.grad.abs() > 0).all()


def test_built_in_layers_use_it_while_training_and_the_hard_grid_in_evaluation():
    torch.manual_seed(1)
    model = prepare_qat(build_model(make_spec("lenet-300-100", (1, 8, 8), 10)), 2)
    _, layer = model.weighted_layers()[0]
    layer.soft_temperature = 3.0
    model.train()
    soft = layer.effective_weight().detach()
    model.eval()
    hard = layer.effective_weight().detach()
    assert torch.equal(hard, fake_quant_weight(layer.weight.detach(), 2))
    assert not torch.equal(soft, hard)


def test_any_module_layers_use_it_while_training_too():
    from slimtrain.layers import quantize_aware

    torch.manual_seed(2)
    model = quantize_aware(torch.nn.Sequential(torch.nn.Linear(16, 8)), bits=4)
    layer = model[0]
    layer.soft_temperature = 2.0
    model.train()
    soft = layer.effective("weight").detach()
    model.eval()
    assert torch.equal(layer.effective("weight").detach(), fake_quant_weight(layer.weight.detach(), 4))
    assert not torch.equal(soft, layer.effective("weight").detach())
