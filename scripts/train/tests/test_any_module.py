"""The API on arbitrary modules: layer swapping, masks (unstructured, N:M, channel), checkpoints, QDQ export."""
import numpy as np
import pytest
import torch
from onnx import numpy_helper
import onnx
from torch import nn

import slimtrain as st
from slimtrain.layers import SlimConvTranspose2d, SlimEmbedding, SlimLinear, SlimLSTM, SlimMultiheadAttention, slim_layers
from helpers import assert_deep_qdq_parity, assert_qdq_parity
from slimtrain.ortnode import ort_run
from slimtrain.usercode import load_checkpoint_into, save_checkpoint


class Zoo(nn.Module):
    """Every supported layer kind (attention among them), plus a norm that stays float."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(12, 8)
        self.lstm = nn.LSTM(8, 8, batch_first=True)
        self.gru = nn.GRU(8, 8, batch_first=True)
        self.att = nn.MultiheadAttention(8, 2, batch_first=True)
        self.conv1d = nn.Conv1d(8, 8, 3, padding=1)
        self.up = nn.ConvTranspose2d(8, 4, 2, stride=2)
        self.conv2d = nn.Conv2d(4, 4, 3, padding=1)
        self.norm = nn.LayerNorm(8)
        self.fc = nn.Linear(4 * 2 * 16, 3)

    def forward(self, ids):
        h, _ = self.lstm(self.emb(ids))
        h, _ = self.gru(h)
        h = self.norm(h + self.att(h, h, h)[0])
        h = self.conv1d(h.transpose(1, 2))                      # [B, 8, 8]
        h = self.up(h.reshape(len(ids), 8, 1, 8)).relu()        # [B, 4, 2, 16]
        return self.fc(self.conv2d(h).flatten(1))


def _zoo():
    torch.manual_seed(0)
    return Zoo(), torch.randint(0, 12, (64, 8), generator=torch.Generator().manual_seed(1))


def test_quantize_aware_swaps_supported_layers_in_place_and_keeps_parameters():
    model, _ = _zoo()
    params = dict(model.named_parameters())
    keys = set(model.state_dict())
    st.quantize_aware(model, bits=4, act_bits=8, exclude=["conv2d"])
    assert isinstance(model.fc, SlimLinear) and isinstance(model.up, SlimConvTranspose2d)
    assert isinstance(model.emb, SlimEmbedding) and isinstance(model.lstm, SlimLSTM)
    assert type(model.conv2d) is nn.Conv2d  # excluded
    assert isinstance(model.att, SlimMultiheadAttention) and isinstance(model.att.out_proj, SlimLinear)
    assert all(p is params[n] for n, p in model.named_parameters())
    assert keys <= set(model.state_dict())
    report = model.slim_report
    assert set(report["quantized"]) == {"emb", "lstm", "gru", "att", "att.out_proj", "conv1d", "up", "fc"}
    assert "conv2d.weight" in report["float_parameters"] and "att.in_proj_bias" in report["float_parameters"]
    assert "att.in_proj_weight" not in report["float_parameters"] and "att.out_proj.weight" not in report["float_parameters"]
    assert "lstm.weight_hh_l0" not in report["float_parameters"]
    assert model.emb.input_quant is None and model.fc.input_quant is not None
    # Attention's inputs are quantized at its boundary; out_proj's input lies inside attention.
    assert model.att.input_quant is not None and model.att.out_proj.input_quant is None


@pytest.mark.parametrize("bits", [8, 4, 2])
def test_export_stores_k_bit_levels_per_output_channel_and_runs_as_torch_does(tmp_path, bits):
    model, ids = _zoo()
    st.export(model, ids, tmp_path / "fp32.onnx")
    st.quantize_aware(model, bits=bits, act_bits=8)
    model.train()
    for _ in range(3):
        model(ids)  # the activation ranges
    model.eval()
    st.export(model, ids, tmp_path / "q.onnx")
    fp32, q = onnx.load(tmp_path / "fp32.onnx").graph, onnx.load(tmp_path / "q.onnx").graph
    assert [(v.name, str(v.type)) for v in q.input] == [(v.name, str(v.type)) for v in fp32.input]
    assert [(v.name, str(v.type)) for v in q.output] == [(v.name, str(v.type)) for v in fp32.output]
    inits = {t.name: numpy_helper.to_array(t) for t in q.initializer}
    qmax = 2 ** (bits - 1) - 1
    quantized = {n[: -len("_quantized")] for n in inits if n.endswith("_quantized")}
    assert quantized == {"emb.weight", "lstm.weight_ih_l0", "lstm.weight_hh_l0", "gru.weight_ih_l0", "gru.weight_hh_l0",
                         "att.in_proj_weight", "att.out_proj.weight", "conv1d.weight", "up.weight", "conv2d.weight",
                         "fc.weight"}
    for name in quantized:
        levels, scale = inits[f"{name}_quantized"], inits[f"{name}_scale"]
        axis = 1 if name == "up.weight" else 0  # ConvTranspose2d keeps output channels in dim 1
        assert levels.dtype == np.int8 and np.abs(levels).max() == qmax
        per_channel = np.moveaxis(np.abs(levels), axis, 0).reshape(levels.shape[axis], -1).max(1)
        assert (per_channel == qmax).all() and scale.shape == (levels.shape[axis],)
        # the levels times the scale are the weights PyTorch computes with
        layer = model.get_submodule(name.rsplit(".", 1)[0])
        shape = [1] * levels.ndim
        shape[axis] = -1
        np.testing.assert_allclose(levels * scale.reshape(shape), layer.effective(name.rsplit(".", 1)[1]).detach().numpy(),
                                   rtol=0, atol=1e-7)
    assert {n.op_type for n in q.node} >= {"DequantizeLinear", "QuantizeLinear", "LSTM", "GRU", "ConvTranspose"}
    # Eight quantized inputs in a row: a float difference between the engines can move an activation across a rounding
    # boundary (one example of 64 did with torch 2.11), so the deep-graph tolerances apply.
    assert_deep_qdq_parity(tmp_path / "q.onnx", {"input": ids.numpy()}, model(ids).detach().numpy())


def test_one_bit_layers_hold_two_values_per_channel_and_clip_latent_weights():
    model, ids = _zoo()
    st.quantize_aware(model, bits=1, exclude=["emb", "lstm", "gru"])
    opt = torch.optim.SGD(model.parameters(), lr=5.0)
    model(ids).sum().backward()
    opt.step()
    st.clip_binary(model)
    assert model.fc.weight.abs().max() <= 1 and model.up.weight.abs().max() <= 1
    w = model.fc.effective("weight").detach()
    assert all(len(np.unique(np.abs(row))) == 1 for row in w.numpy())
    up = model.up.effective("weight").detach().transpose(0, 1).reshape(4, -1)
    assert all(len(np.unique(np.abs(row))) == 1 for row in up.numpy())


def _weights(model):
    return {n: getattr(l, w) * l.mask_of(w) for n, l in slim_layers(model) for w in l.slim_weights if l.mask_of(w) is not None}


def test_agp_pruning_reaches_its_target_gradually_and_masks_survive_qat():
    model, ids = _zoo()
    pruner = st.prune_gradually(model, st.AGP(0.8, steps=4, every=2), "unstructured", exclude=["conv2d"])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    seen = []
    for _ in range(12):
        loss = model(ids).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        pruner.step()
        seen.append(pruner.report()["sparsity"])
    assert seen == sorted(seen) and seen[0] < 0.5 and seen[-1] == pytest.approx(0.8, abs=0.01)
    assert "conv2d" not in pruner.report()["layers"] and "lstm.weight_hh_l0" in pruner.report()["layers"]
    zero_before = {n: (w == 0) for n, w in _weights(model).items()}
    st.quantize_aware(model, bits=8, act_bits=8)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(3):
        loss = model(ids).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    for name, layer in slim_layers(model):
        for w in layer.slim_weights:
            key = name if w == "weight" else f"{name}.{w}"
            if key in zero_before:
                assert (layer.effective(w).detach()[zero_before[key]] == 0).all()


def test_n_m_pruning_keeps_at_most_n_of_every_m_weights():
    model, _ = _zoo()
    pruner = st.prune_gradually(model, st.AGP(0.5, steps=0), "2:4")
    assert pruner.sparsity == 0.5
    for name, w in _weights(model).items():
        groups = (w.reshape(-1, 4) != 0).sum(1)
        assert (groups <= 2).all(), name
    with pytest.raises(ValueError):
        st.prune_gradually(_zoo()[0], st.AGP(0.8), "2:4")
    other, _ = _zoo()
    st.prune_gradually(other, st.AGP(0.75, steps=0), "1:4")
    assert all(((w.reshape(-1, 4) != 0).sum(1) <= 1).all() for w in _weights(other).values())


def test_channel_pruning_removes_whole_output_channels_but_not_the_classifiers():
    model, ids = _zoo()
    pruner = st.prune_gradually(model, st.AGP(0.5, steps=0), "channel")
    assert "fc" in pruner.report()["skipped_layers"] and "lstm" in pruner.report()["skipped_layers"]
    conv = model.conv1d.weight * model.conv1d.weight_mask
    dead = (conv.flatten(1) == 0).all(1)
    assert int(dead.sum()) == 4 and (model.conv1d.bias * model.conv1d.bias_mask)[dead].abs().sum() == 0
    up = (model.up.weight * model.up.weight_mask).transpose(0, 1).flatten(1)  # ConvTranspose: outputs in dim 1
    assert int((up == 0).all(1).sum()) == 2
    assert (model.fc.weight_mask is None) or bool(model.fc.weight_mask.all())


def test_checkpoint_restores_masks_and_quantization_into_a_fresh_model(tmp_path):
    model, ids = _zoo()
    st.prune_gradually(model, st.AGP(0.6, steps=0), "unstructured")
    st.quantize_aware(model, bits=4, act_bits=8)
    model.train()
    model(ids)
    model.eval()
    save_checkpoint(model, tmp_path / "m.pt", {})
    fresh, _ = _zoo()
    load_checkpoint_into(fresh, str(tmp_path / "m.pt"))
    fresh.eval()
    assert fresh.fc.weight_bits == 4 and fresh.fc.weight_mask is not None
    torch.testing.assert_close(fresh(ids), model(ids), rtol=0, atol=0)


def test_built_in_architectures_run_through_the_user_code_path(run_cli, digits):
    res = run_cli("qat", "--model", "slimtrain.builtin:model", "--data", "slimtrain.builtin:loaders",
                  "--model-args", '{"arch": "cnn", "image_shape": [1, 8, 8], "channels": [8, 16], "fc": 32}',
                  "--data-args", '{"dataset": "digits", "batch_size": 32}', "--bits", "4", "--act-bits", "8",
                  "--epochs", "6", "--lr", "3e-3", "--device", "cpu", "--no-progress")
    assert res["final"]["accuracy"] >= 0.8 and res["final"]["accuracy"] >= res["initial"]["accuracy"] + 0.3
    assert res["data"] == "slimtrain.builtin:loaders" and res["recipe"]["trained"]["bits"] == 4
    from slimtrain import builtin

    model = builtin.model("cnn", [1, 8, 8], channels=[8, 16], fc=32)
    load_checkpoint_into(model, res["export"]["checkpoint"])
    x = digits.x_test.numpy()
    ref = st.predict(model, [(torch.from_numpy(x), torch.zeros(len(x)))])[0].numpy()
    assert_qdq_parity(res["export"]["onnx"], {"input": x}, ref)


class Encoder(nn.Module):
    """torch's own transformer encoder (its fused eval path included), mean-pooled into 3 classes."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(12, 8)
        layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, 2)
        self.fc = nn.Linear(8, 3)

    def forward(self, ids):
        return self.fc(self.enc(self.emb(ids)).mean(1))


def test_a_torch_transformer_encoder_quantizes_attention_and_computes_quantized_in_eval_without_autograd(tmp_path):
    torch.manual_seed(0)
    model = Encoder()
    ids = torch.randint(0, 12, (32, 8), generator=torch.Generator().manual_seed(1))
    model.eval()
    with torch.no_grad():
        fp32 = model(ids)
    st.quantize_aware(model, bits=2)
    attention = model.enc.layers[0].self_attn
    assert isinstance(attention, SlimMultiheadAttention) and isinstance(attention.out_proj, SlimLinear)
    with torch.no_grad():
        fast = model(ids)  # without autograd torch would take its fused kernel, on the float weights
    slow = model(ids).detach()
    torch.testing.assert_close(fast, slow, rtol=0, atol=1e-6)
    assert (fast - fp32).abs().max() > 1e-3  # 2-bit weights change the answer: the quantized weights were used
    st.export(model, ids, tmp_path / "q.onnx")
    names = {t.name for t in onnx.load(tmp_path / "q.onnx").graph.initializer}
    # The two layers start as copies of one, so the exporter writes their equal tensors once, under layer 0's names.
    assert {"enc.layers.0.self_attn.in_proj_weight_quantized", "enc.layers.0.self_attn.out_proj.weight_quantized"} <= names
    out = ort_run(tmp_path / "q.onnx", {"input": ids.numpy()}, level="disabled")["logits"]
    np.testing.assert_allclose(out, slow.numpy(), rtol=0, atol=1e-4 * max(1.0, float(slow.abs().max())))


def test_quantized_attention_takes_the_is_causal_hint_that_torch_2_encoder_layers_pass():
    torch.manual_seed(0)
    attention = nn.MultiheadAttention(8, 2, batch_first=True)
    st.quantize_aware(attention, bits=4, act_bits=8)
    attention.eval()
    x = torch.randn(3, 5, 8, generator=torch.Generator().manual_seed(2))
    causal = torch.triu(torch.full((5, 5), float("-inf")), diagonal=1)
    with_hint, _ = attention(x, x, x, attn_mask=causal, need_weights=False, is_causal=True)
    without, _ = attention(x, x, x, attn_mask=causal, need_weights=False)
    unmasked, _ = attention(x, x, x, need_weights=False)
    torch.testing.assert_close(with_hint, without, rtol=0, atol=1e-6)
    assert (with_hint - unmasked).abs().max() > 1e-3  # the mask is applied
    with pytest.raises(RuntimeError, match="attn_mask"):
        attention(x, x, x, is_causal=True)


def _bnn():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8),
                         nn.Flatten(), nn.Linear(8 * 6 * 6, 4))


def test_binary_activations_binarize_linear_and_conv_inputs_train_through_the_ste_and_export_as_where(tmp_path):
    model = _bnn()
    st.quantize_aware(model, bits=1, act_bits=1, exclude=["0"])  # the first conv reads the data, as in BNNs
    assert model[0].__class__ is nn.Conv2d and model.slim_report["quantized"] == ["2", "5"]
    x = torch.randn(16, 1, 6, 6, generator=torch.Generator().manual_seed(3))
    for layer in (model[2], model[5]):
        seen = layer.quantize_input(torch.randn(64, 8, 6, 6) if layer is model[2] else torch.randn(64, 288))
        assert set(seen.unique().tolist()) == {-1.0, 1.0}
    model.train()
    model(x).square().sum().backward()
    assert model[0].weight.grad.abs().sum() > 0  # the hard-tanh STE passes gradient through the binary activation
    model.eval()
    st.export(model, x[:2], tmp_path / "bnn.onnx")
    ops = [n.op_type for n in onnx.load(tmp_path / "bnn.onnx").graph.node]
    assert ops.count("Where") == 2 and ops.count("GreaterOrEqual") == 2 and ops.count("Sub") == 2 and "Sign" not in ops
    with torch.no_grad():
        ref = model(x).numpy()
    out = ort_run(tmp_path / "bnn.onnx", {"input": x.numpy()}, level="disabled")["logits"]
    # +-1 inputs times +-scale weights: equal sums, unless a float pre-activation within rounding of 0 flips a sign.
    rows_exact = (np.abs(out - ref).max(1) <= 1e-4 * max(1.0, np.abs(ref).max())).mean()
    assert rows_exact >= 0.9


def test_binary_activations_leave_recurrent_and_embedding_inputs_float_and_survive_a_checkpoint(tmp_path):
    model, ids = _zoo()
    st.quantize_aware(model, bits=1, act_bits=1)
    assert model.lstm.input_quant is None and model.emb.input_quant is None and model.att.input_quant is None
    assert model.fc.input_quant is not None and model.conv2d.input_quant is not None
    model.eval()
    with torch.no_grad():
        ref = model(ids)
    save_checkpoint(model, tmp_path / "bnn.pt", {})
    fresh, _ = _zoo()
    load_checkpoint_into(fresh, str(tmp_path / "bnn.pt"))
    fresh.eval()
    assert fresh.fc.input_quant is not None
    with torch.no_grad():
        torch.testing.assert_close(fresh(ids), ref, rtol=0, atol=0)


def test_a_binary_input_after_a_relu_carries_information_through_its_learned_threshold():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    st.quantize_aware(model, bits=1, act_bits=1, exclude=["0"])
    x = torch.randn(256, 4, generator=torch.Generator().manual_seed(1))
    model.train()
    model(x)  # the first training batch sets each channel's threshold
    hidden = torch.relu(model[0](x))
    binary = model[2].quantize_input(hidden)
    # sign(relu(h)) would be +1 everywhere; thresholds at the channel means split every live channel
    live = hidden.gt(0).any(0)
    assert live.sum() >= 8
    assert (binary[:, live].eq(-1).any(0) & binary[:, live].eq(1).any(0)).all()
    assert "2.input_quant.threshold" in dict(model.named_parameters())  # trained with the weights
