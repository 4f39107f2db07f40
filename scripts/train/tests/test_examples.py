"""The three examples (ResNet-18 on Fashion-MNIST, a transformer and an LSTM on synthetic tasks) at tiny sizes,
through the Python API and the CLI: 4- and 8-bit QAT, a distilled student, AGP to 80% then int8 QAT, and
onnxruntime-node running each export as the fake-quantized PyTorch model computes it."""
import copy
import json

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

import slimtrain as st
from conftest import FP32_ATOL
from examples import lstm_sequence, resnet18_fashion, text_transformer
from helpers import assert_deep_qdq_parity
from slimtrain.ortnode import ort_run
from slimtrain.usercode import load_checkpoint_into
from test_upload import TOKEN, FakeSlimserve

# Tiny configs: seconds each on 2 idle CPU cores. floor: validation accuracy every trained model must reach (chance
# is 0.25 on the synthetic tasks). ResNet-18 gets two optimizer steps per epoch, too few to learn: its tests check the
# export (levels, zeros, interface) and parity only; learning is what results/ shows.
EXAMPLES = {
    "resnet18": {"module": resnet18_fashion, "data": {"train_size": 64, "val_size": 64, "batch_size": 32},
                 "epochs": 1, "lr": 1e-3, "student_lr": 1e-3, "floor": None},
    "transformer": {"module": text_transformer, "data": {"train_size": 512, "val_size": 256}, "epochs": 3, "lr": 5e-3,
                    "student_lr": 1e-2, "floor": 0.6},
    "lstm": {"module": lstm_sequence, "data": {"train_size": 512, "val_size": 256, "batch_size": 32}, "epochs": 6,
             "lr": 1e-2, "student_lr": 1e-2, "floor": 0.45},
}
# What each example runs where (ResNet-18's exports and global sorts are the slow part, so it runs each method once):
# 4- and 8-bit QAT through the API for the transformer and the LSTM, 4-bit for ResNet-18, whose 8-bit QAT follows
# pruning (API and CLI); every example's CLI run prunes to 80% and then runs int8 QAT, the two small ones also run 4-bit
# QAT through the CLI.

NAMES = list(EXAMPLES)
API_QAT = [(n, b) for n in NAMES for b in (4, 8) if (n, b) != ("resnet18", 8)]


def _loaders(name):
    return EXAMPLES[name]["module"].loaders(**EXAMPLES[name]["data"])


def _fit(name, model, loader, epochs=None, **kw):
    cfg = EXAMPLES[name]
    return st.fit(model, loader, epochs=epochs or cfg["epochs"], lr=cfg["lr"], device="cpu", progress=False, **kw)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Each example's model trained once in float, with its fp32 export."""
    cache = {}

    def get(name):
        if name not in cache:
            torch.manual_seed(0)
            train, val = _loaders(name)
            model = EXAMPLES[name]["module"].model()
            _fit(name, model, train)
            path = tmp_path_factory.mktemp(name) / "fp32.onnx"
            x = torch.cat([b[0] for b in val])
            st.export(model, x[:2], path)
            cache[name] = (model, path, st.evaluate(model, val)["accuracy"])
        return cache[name]

    return get


def _val_inputs(name):
    _, val = _loaders(name)
    return torch.cat([b[0] for b in val])


def _io(path):
    g = onnx.load(path).graph
    return [(v.name, str(v.type)) for v in g.input], [(v.name, str(v.type)) for v in g.output]


def test_fp32_exports_run_in_onnxruntime_as_in_torch(trained):
    for name in NAMES:
        model, path, acc = trained(name)
        assert acc >= (EXAMPLES[name]["floor"] or 0), f"{name}: fp32 accuracy {acc:.3f}"
        x = _val_inputs(name)
        ref = st.predict(model, [(x, torch.zeros(len(x)))])[0].numpy()
        out = ort_run(path, {"input": x.numpy()})["logits"]
        np.testing.assert_allclose(out, ref, rtol=0, atol=FP32_ATOL * max(1.0, np.abs(ref).max()))


@pytest.mark.parametrize("name,bits", API_QAT)
def test_qat_through_the_api_keeps_accuracy_and_exports_qdq_matching_torch(trained, tmp_path, name, bits):
    fp32_model, fp32_path, fp32_acc = trained(name)
    model = copy.deepcopy(fp32_model)
    train, val = _loaders(name)
    st.quantize_aware(model, bits=bits, act_bits=8)
    _fit(name, model, train, epochs=1, val_loader=val)
    acc = st.evaluate(model, val)["accuracy"]
    if EXAMPLES[name]["floor"]:
        assert acc >= EXAMPLES[name]["floor"] and acc >= fp32_acc - 0.15, f"{name} w{bits}: {acc:.3f} (fp32 {fp32_acc:.3f})"
    x = _val_inputs(name)
    path = tmp_path / "q.onnx"
    st.export(model, x[:2], path)
    assert _io(path) == _io(fp32_path)  # the same interface as the float model
    levels = [numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer if t.name.endswith("_quantized")]
    assert levels and all(q.dtype == np.int8 and np.abs(q).max() <= 2 ** (bits - 1) - 1 for q in levels)
    assert max(np.abs(q).max() for q in levels) == 2 ** (bits - 1) - 1
    ref = st.predict(model, [(x, torch.zeros(len(x)))])[0].numpy()
    assert_deep_qdq_parity(path, {"input": x.numpy()}, ref)


@pytest.mark.parametrize("name", NAMES)
def test_distilled_smaller_student_learns_from_the_teacher(trained, name):
    teacher, _, teacher_acc = trained(name)
    train, val = _loaders(name)
    torch.manual_seed(0)
    student = EXAMPLES[name]["module"].student()
    assert sum(p.numel() for p in student.parameters()) < sum(p.numel() for p in teacher.parameters()) / 2
    cfg = EXAMPLES[name]
    st.distill(teacher, student, train, T=4.0, alpha=0.9, epochs=cfg["epochs"] + 1, lr=cfg["student_lr"], device="cpu",
               progress=False)
    acc = st.evaluate(student, val)["accuracy"]
    t_pred = st.predict(teacher, val)[0].argmax(1)
    s_pred = st.predict(student, val)[0].argmax(1)
    if cfg["floor"]:
        assert acc >= cfg["floor"] - 0.05, f"{name}: student {acc:.3f}, teacher {teacher_acc:.3f}"
        assert (t_pred == s_pred).float().mean() >= 0.5


@pytest.mark.parametrize("name", NAMES)
def test_agp_to_80_percent_then_int8_qat_keeps_the_zeros_in_the_export(trained, tmp_path, name):
    model = copy.deepcopy(trained(name)[0])
    train, val = _loaders(name)
    epochs = EXAMPLES[name]["epochs"]
    pruner = st.prune_gradually(model, st.AGP.over(0.8, epochs * len(train), steps=3), "unstructured")
    history = _fit(name, model, train, pruner=pruner)
    pruner.finish()
    assert [h["sparsity"] for h in history] == sorted(h["sparsity"] for h in history)
    assert pruner.report()["sparsity"] == pytest.approx(0.8, abs=0.005)
    st.quantize_aware(model, bits=8, act_bits=8)
    _fit(name, model, train, epochs=1)
    assert st.evaluate(model, val)["accuracy"] >= (EXAMPLES[name]["floor"] or 0.1) - 0.1
    x = _val_inputs(name)
    path = tmp_path / "pruned-int8.onnx"
    st.export(model, x[:2], path)
    levels = [numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer if t.name.endswith("_quantized")]
    zeros = sum(int((q == 0).sum()) for q in levels) / sum(q.size for q in levels)
    assert zeros >= 0.8
    ref = st.predict(model, [(x, torch.zeros(len(x)))])[0].numpy()
    assert_deep_qdq_parity(path, {"input": x.numpy()}, ref)


def test_onnx_teacher_gives_the_teachers_logits_and_loss_and_distils(trained):
    teacher, path, _ = trained("lstm")
    train, _ = lstm_sequence.loaders(train_size=128, batch_size=32)  # one onnxruntime-node process per batch
    x, y = next(iter(train))
    onnx_teacher = st.OnnxTeacher(path)  # onnxruntime-node: Debian has no onnxruntime for Python
    np.testing.assert_allclose(onnx_teacher(x).numpy(), teacher(x).detach().numpy(), rtol=0, atol=1e-4)
    torch.manual_seed(0)
    student = lstm_sequence.student()
    out = student(x)
    torch.testing.assert_close(st.DistillationLoss(onnx_teacher, 4.0, 0.9)(out, y, (x,)),
                               st.DistillationLoss(teacher, 4.0, 0.9)(out, y, (x,)), rtol=1e-4, atol=1e-5)
    history = st.distill(onnx_teacher, student, train, T=4.0, alpha=1.0, epochs=2, lr=1e-2, device="cpu", progress=False)
    assert history[1]["loss"] < history[0]["loss"]


# -- the CLI on the same code --------------------------------------------------------------------------------------

def _cli_args(name, *extra):
    mod = EXAMPLES[name]["module"].__name__
    return ["--model", f"{mod}:model", "--data", f"{mod}:loaders", "--data-args", json.dumps(EXAMPLES[name]["data"]),
            "--lr", str(EXAMPLES[name]["lr"]), "--device", "cpu", "--no-progress", *extra]


def _cli_parity(name, res, model_factory="model"):
    model = getattr(EXAMPLES[name]["module"], model_factory)()
    load_checkpoint_into(model, res["export"]["checkpoint"])
    x = _val_inputs(name)
    ref = st.predict(model, [(x, torch.zeros(len(x)))])[0].numpy()
    assert_deep_qdq_parity(res["export"]["onnx"], {"input": x.numpy()}, ref)
    assert st.evaluate(model, _loaders(name)[1])["accuracy"] == pytest.approx(res["final"]["accuracy"])


@pytest.mark.parametrize("name", NAMES)
def test_cli_qat_4_bit_and_prune_80_then_int8_on_user_code(run_cli, name):
    epochs = str(EXAMPLES[name]["epochs"])
    if name != "resnet18":
        res = run_cli("qat", *_cli_args(name, "--bits", "4", "--act-bits", "8", "--epochs", epochs), out="qat")
        assert res["final"]["accuracy"] >= EXAMPLES[name]["floor"]
        assert res["recipe"]["trained"]["bits"] == 4 and res["model"].endswith(":model")
        _cli_parity(name, res)
    res = run_cli("prune", *_cli_args(name, "--final-sparsity", "0.8", "--prune-steps", "3", "--epochs", epochs,
                                      "--qat-bits", "8", "--act-bits", "8", "--qat-epochs", "1"), out="prune")
    assert res["pruning"]["sparsity"] == pytest.approx(0.8, abs=0.005) and res["final_sparsity"] >= 0.8 - 0.005
    assert res["final"]["accuracy"] >= (EXAMPLES[name]["floor"] or 0.1) - 0.1
    _cli_parity(name, res)


def test_cli_distils_a_student_from_a_teacher_run_and_uploads_it(run_cli):
    name = "transformer"
    teacher = run_cli("train", *_cli_args(name, "--epochs", "3"), out="teacher")
    mod = "examples.text_transformer"
    server = FakeSlimserve()
    try:
        res = run_cli("distill", *_cli_args(name, "--epochs", "4"), "--lr", "1e-2", "--model", f"{mod}:student",
                      "--teacher", f"{mod}:model", "--teacher-init", teacher["export"]["checkpoint"],
                      "--temperature", "4", "--alpha", "0.9",
                      "--upload", server.url, "--parent", "parent-1", "--token", TOKEN, out="student")
    finally:
        server.close()
    assert res["teacher"]["val"]["accuracy"] == pytest.approx(teacher["final"]["accuracy"])
    assert res["final"]["accuracy"] >= EXAMPLES[name]["floor"]
    (req,) = server.requests
    with open(res["export"]["onnx"], "rb") as f:
        assert req["body"] == f.read()
    assert json.loads(req["headers"]["X-Slimserve-Recipe"])["trained"]["method"] == "distill"
    assert res["upload"]["id"] == "var-9"
