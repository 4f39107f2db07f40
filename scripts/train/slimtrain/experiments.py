"""The seed's experiments: Hinton's omitted digit and seen-only-7-and-8 students, Deep Compression on LeNet-300-100, a
binary-weight CNN."""
from __future__ import annotations

import copy
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from .codebook import share_weights, unshare
from .data import load_dataset, omit_classes
from .distill import choose_bias, evaluate_with_bias, make_distill_loss, teacher_logits_from_model
from .graph_export import export_onnx
from .loop import evaluate, fit, seed_everything
from .models import build_model, make_spec, prepare_qat
from .ortnode import ort_run
from .reference import PRUNE92, prune_gradually, train_recipe
from .sizing import codebook_storage_report, half_biases, storage_report

# Reduced configs run on 2 CPU cores; --full uses the paper's network sizes and many more epochs (for a GPU).
CONFIGS = {
    "omitted-digit": {
        "reduced": {"teacher_hidden": [1200, 1200], "teacher_dropout": 0.0, "teacher_epochs": 6,
                    "student_hidden": [800, 800], "student_epochs": 10, "temperature": 20.0, "alpha": 0.9,
                    "lr": 1e-3, "batch_size": 128, "val_size": 5000, "omit": 3, "seed": 11},
        "full": {"teacher_hidden": [1200, 1200], "teacher_dropout": 0.5, "teacher_epochs": 60,
                 "student_hidden": [800, 800], "student_epochs": 60, "temperature": 20.0, "alpha": 0.9,
                 "lr": 1e-3, "batch_size": 128, "val_size": 5000, "omit": 3, "seed": 11},
    },
    "seen-digits": {
        "reduced": {"teacher_hidden": [1200, 1200], "teacher_dropout": 0.0, "teacher_epochs": 6,
                    "student_hidden": [800, 800], "student_epochs": 10, "temperature": 20.0, "alpha": 0.9,
                    "lr": 1e-3, "batch_size": 128, "val_size": 5000, "seen": [7, 8], "seed": 11},
        "full": {"teacher_hidden": [1200, 1200], "teacher_dropout": 0.5, "teacher_epochs": 60,
                 "student_hidden": [800, 800], "student_epochs": 60, "temperature": 20.0, "alpha": 0.9,
                 "lr": 1e-3, "batch_size": 128, "val_size": 5000, "seen": [7, 8], "seed": 11},
    },
    "deep-compression": {
        "reduced": {"bits": 4, "qat_epochs": 3, "qat_lr": 2e-4, "prune": PRUNE92, "shared_bits": 3, "shared_epochs": 3, "shared_lr": 1e-4},
        "full": {"bits": 4, "qat_epochs": 10, "qat_lr": 2e-4, "shared_bits": 3, "shared_epochs": 10, "shared_lr": 1e-4,
                 "prune": {**PRUNE92, "epochs": 40, "prune_steps": 20}},
    },
    "quantization-networks": {
        "reduced": {"epochs": 2, "lr": 1e-3, "seed": 21, "bits": [1, 2, 4], "temperature": [1.0, 200.0]},
        "full": {"epochs": 30, "lr": 1e-3, "seed": 21, "bits": [1, 2, 4], "temperature": [1.0, 200.0]},
    },
    "binary-cnn": {
        "reduced": {"epochs": 4, "lr": 1e-3, "seed": 21},
        "full": {"epochs": 30, "lr": 1e-3, "seed": 21},
    },
}


def _err(r: dict) -> float:
    return round(100 * (1 - r["accuracy"]), 2)


def _teacher(device: str, c: dict, progress: bool):
    """MNIST with a validation slice held out (all digits, to choose bias shifts; the paper tuned on the test set), and
    the teacher trained on the rest."""
    ds = load_dataset("mnist")
    perm = torch.randperm(len(ds.y_train), generator=torch.Generator().manual_seed(c["seed"]))
    val, rest = perm[: c["val_size"]], perm[c["val_size"] :].sort().values
    x_val, y_val, x, y = ds.x_train[val], ds.y_train[val], ds.x_train[rest], ds.y_train[rest]
    kw = {"batch_size": c["batch_size"], "device": device, "x_test": ds.x_test, "y_test": ds.y_test, "progress": progress}
    seed_everything(c["seed"])
    teacher = build_model(make_spec("mlp", ds.image_shape, 10, c["teacher_hidden"], dropout=c["teacher_dropout"])).to(device)
    fit(teacher, x, y, epochs=c["teacher_epochs"], lr=c["lr"], seed=c["seed"], label="teacher (all digits)", **kw)
    return ds, teacher, (x_val, y_val, x, y), kw


def omitted_digit(device: str, cfg: dict, progress: bool) -> dict:
    c = cfg
    ds, teacher, (x_val, y_val, x, y), kw = _teacher(device, c, progress)
    teacher_eval = evaluate(teacher, ds.x_test, ds.y_test)

    x_tr, y_tr = omit_classes(x, y, [c["omit"]])
    t_logits = teacher_logits_from_model(teacher, x_tr).to(device)

    def student():
        seed_everything(c["seed"] + 1)
        return build_model(make_spec("mlp", ds.image_shape, 10, c["student_hidden"])).to(device)

    hard = student()
    fit(hard, x_tr, y_tr, epochs=c["student_epochs"], lr=c["lr"], seed=c["seed"] + 1, label="student hard labels, no 3s", **kw)
    distilled = student()
    fit(distilled, x_tr, y_tr, epochs=c["student_epochs"], lr=c["lr"], seed=c["seed"] + 1,
        loss_fn=make_distill_loss(t_logits, c["temperature"], c["alpha"]), label=f"student distilled T={c['temperature']:g}, no 3s", **kw)
    cls = c["omit"]
    delta, trace = choose_bias(distilled, cls, x_val, y_val)
    rows = {
        "teacher": evaluate_with_bias(teacher, cls, 0.0, ds.x_test, ds.y_test),
        "student_hard_labels": evaluate_with_bias(hard, cls, 0.0, ds.x_test, ds.y_test),
        "student_distilled": evaluate_with_bias(distilled, cls, 0.0, ds.x_test, ds.y_test),
        "student_distilled_bias_fixed": evaluate_with_bias(distilled, cls, delta, ds.x_test, ds.y_test),
        "student_distilled_bias_3.5": evaluate_with_bias(distilled, cls, 3.5, ds.x_test, ds.y_test),
    }
    return {"config": c, "transfer_set_size": len(y_tr), "teacher_test": teacher_eval, "bias_raise_chosen": delta,
            "rows": rows, "validation_trace": trace,
            "paper": {"distilled_errors": 206, "errors_on_3": 133, "bias_fixed_errors": 109, "bias_fixed_errors_on_3": 14,
                      "bias_raise": 3.5, "n_3_test": 1010}}


def seen_digits(device: str, cfg: dict, progress: bool) -> dict:
    """Hinton et al. 2015, section 3: a student distilled on a transfer set of only 7s and 8s, tested on every digit;
    then the other digits' biases raised together (the paper lowers the 7 and 8 biases: the same argmax) by the shift
    with the fewest validation errors."""
    c = cfg
    ds, teacher, (x_val, y_val, x, y), kw = _teacher(device, c, progress)
    unseen = [d for d in range(10) if d not in c["seen"]]
    x_tr, y_tr = omit_classes(x, y, unseen)
    t_logits = teacher_logits_from_model(teacher, x_tr).to(device)
    seed_everything(c["seed"] + 1)
    student = build_model(make_spec("mlp", ds.image_shape, 10, c["student_hidden"])).to(device)
    seen = " and ".join(str(d) for d in c["seen"])
    fit(student, x_tr, y_tr, epochs=c["student_epochs"], lr=c["lr"], seed=c["seed"] + 1,
        loss_fn=make_distill_loss(t_logits, c["temperature"], c["alpha"]), label=f"student distilled T={c['temperature']:g}, only {seen}", **kw)
    delta, trace = choose_bias(student, unseen, x_val, y_val, grid=[i * 0.25 for i in range(0, 81)])
    rows = {
        "teacher": evaluate_with_bias(teacher, unseen, 0.0, ds.x_test, ds.y_test),
        "student_distilled": evaluate_with_bias(student, unseen, 0.0, ds.x_test, ds.y_test),
        "student_distilled_bias_fixed": evaluate_with_bias(student, unseen, delta, ds.x_test, ds.y_test),
    }
    for r in rows.values():
        r["error_pct"] = round(100 * r["errors"] / r["n"], 2)
        r["error_pct_unseen"] = round(100 * r["errors_on_class"] / r["n_class"], 2)
    return {"config": c, "transfer_set_size": len(y_tr), "unseen_digits": unseen, "bias_raise_chosen": delta,
            "rows": rows, "validation_trace": trace,
            "paper": {"error_pct": 47.3, "bias_fixed_error_pct": 13.2, "bias_lowered_for_7_and_8": 7.6}}


def _onnx_sizes(model, opset: int = 13) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "m.onnx"
        raw = export_onnx(model, p, opset)
        return {"onnx_bytes": len(raw), "onnx_gzip_bytes": len(gzip.compress(raw, 9))}


def deep_compression(device: str, cfg: dict, progress: bool, models_dir: str | None = None) -> dict:
    """Prune, then quantize two ways (linear QAT; k-means weight sharing with fine-tuned centroids, then its biases in
    float16), each sized in Deep Compression's storage. With `models_dir`, writes the dense model and the shared one
    (`lenet-300-100-dense.onnx`, `lenet-300-100-shared.onnx`: uint4 codebook indices, opset 21) for upload."""
    ds = load_dataset("mnist")
    model, _ = train_recipe("lenet-300-100", ds, device, progress)
    dense = evaluate(model, ds.x_test, ds.y_test)
    dense_sizes = _onnx_sizes(model)
    if models_dir:
        export_onnx(model, Path(models_dir) / "lenet-300-100-dense.onnx", 13)
    pruner, _ = prune_gradually(model, ds, device, cfg["prune"], progress)
    pruned = evaluate(model, ds.x_test, ds.y_test)
    pruned_sizes = _onnx_sizes(model)
    # Deep Compression's own quantization: k-means weight sharing of the pruned weights, centroids fine-tuned.
    shared = copy.deepcopy(model)
    sharing = share_weights(shared, cfg["shared_bits"])
    shared_ptq = evaluate(shared, ds.x_test, ds.y_test)
    seed_everything(5)
    fit(shared, ds.x_train, ds.y_train, epochs=cfg["shared_epochs"], batch_size=128, lr=cfg["shared_lr"], device=device, seed=5,
        x_test=ds.x_test, y_test=ds.y_test, progress=progress, label=f"{cfg['shared_bits']}-bit shared weights, centroids fine-tuned")
    shared_eval = evaluate(shared, ds.x_test, ds.y_test)
    unshare(shared)
    shared_sizes = codebook_storage_report(shared)
    shared_onnx_sizes = _onnx_sizes(shared)
    # Biases stored in float16: 2 bytes instead of 4 for each of the 410, evaluated as rounded.
    half_biases(shared)
    half_eval = evaluate(shared, ds.x_test, ds.y_test)
    half_sizes = codebook_storage_report(shared, bias_float_bits=16)
    if models_dir:
        export_onnx(shared, Path(models_dir) / "lenet-300-100-shared.onnx", 21, codebook=True)
    ptq = prepare_qat(copy.deepcopy(model), cfg["bits"])
    ptq_eval = evaluate(ptq, ds.x_test, ds.y_test)  # quantized without retraining
    prepare_qat(model, cfg["bits"])
    seed_everything(5)
    fit(model, ds.x_train, ds.y_train, epochs=cfg["qat_epochs"], batch_size=128, lr=cfg["qat_lr"], device=device, seed=5,
        x_test=ds.x_test, y_test=ds.y_test, progress=progress, label=f"qat {cfg['bits']}-bit, masks kept")
    quant = evaluate(model, ds.x_test, ds.y_test)
    sizes = storage_report(model, cfg["bits"])
    b = sizes["bytes"]
    stages = [
        {"stage": "dense fp32", "error_pct": _err(dense), "bytes": b["dense_fp32"], **dense_sizes},
        {"stage": f"pruned {pruner.report()['sparsity']:.1%} (sparse, relative indices)", "error_pct": _err(pruned), "bytes": b["pruned_sparse"], **pruned_sizes},
        {"stage": f"{cfg['bits']}-bit per-channel, no retraining", "error_pct": _err(ptq_eval), "bytes": b["quantized"]},
        {"stage": f"{cfg['bits']}-bit per-channel QAT (masks kept)", "error_pct": _err(quant), "bytes": b["quantized"], **_onnx_sizes(model)},
        {"stage": "Huffman-coded", "error_pct": _err(quant), "bytes": b["entropy_coded"]},
        {"stage": f"{cfg['shared_bits']}-bit k-means weight sharing per layer, no retraining", "error_pct": _err(shared_ptq), "bytes": shared_sizes["bytes"]["quantized"]},
        {"stage": f"{cfg['shared_bits']}-bit weight sharing, centroids fine-tuned", "error_pct": _err(shared_eval), "bytes": shared_sizes["bytes"]["quantized"], **shared_onnx_sizes},
        {"stage": "weight sharing, Huffman-coded", "error_pct": _err(shared_eval), "bytes": shared_sizes["bytes"]["entropy_coded"]},
        {"stage": "weight sharing, Huffman-coded, float16 biases", "error_pct": _err(half_eval), "bytes": half_sizes["bytes"]["entropy_coded"]},
    ]
    for s in stages:
        s["compression"] = round(b["dense_fp32"] / s["bytes"], 1)
    return {"config": cfg, "stages": stages, "pruning": pruner.report(), "storage": sizes, "weight_sharing": sharing, "shared_storage": shared_sizes, "shared_storage_half_biases": half_sizes,
            "paper": {"error_pct": 1.58, "compression": 40, "dense_bytes": 1070e3, "compressed_bytes": 27e3,
                      "sparsity": 0.92, "bits": "6 (k-means weight sharing)"}}


def binary_cnn(device: str, cfg: dict, progress: bool) -> dict:
    ds = load_dataset("mnist")
    # The fp32 baseline gets the same epochs, learning rate and seed as the binary runs.
    seed_everything(cfg["seed"])
    fp32 = build_model(make_spec("cnn", ds.image_shape, 10)).to(device)
    fit(fp32, ds.x_train, ds.y_train, epochs=cfg["epochs"], batch_size=128, lr=cfg["lr"], device=device,
        seed=cfg["seed"], x_test=ds.x_test, y_test=ds.y_test, progress=progress, label="fp32 cnn")
    rows = {"fp32": {**evaluate(fp32, ds.x_test, ds.y_test), **_onnx_sizes(fp32)}}
    x_img = ds.x_test.numpy()
    for name, (wb, ab) in {"binary weights, fp32 activations (BinaryConnect)": (1, 32),
                           "binary weights, 8-bit activations": (1, 8),
                           "binary weights, binary activations (BNN)": (1, 1)}.items():
        seed_everything(cfg["seed"])
        m = prepare_qat(build_model(make_spec("cnn", ds.image_shape, 10)).to(device), wb, ab)
        fit(m, ds.x_train, ds.y_train, epochs=cfg["epochs"], batch_size=128, lr=cfg["lr"], device=device, seed=cfg["seed"],
            x_test=ds.x_test, y_test=ds.y_test, progress=progress, label=name)
        r = evaluate(m, ds.x_test, ds.y_test)
        with tempfile.TemporaryDirectory() as tmp:
            p = Path(tmp) / "m.onnx"
            raw = export_onnx(m, p, 13)
            logits = ort_run(p, {"input": x_img}, level="disabled")["logits"]
            # The exported initializers hold two values per output channel: +-scale_c.
            import onnx
            from onnx import numpy_helper
            g = onnx.load_from_string(raw).graph
            two_valued = all(
                all(len(np.unique(np.abs(row))) == 1 for row in numpy_helper.to_array(t).reshape(t.dims[0], -1))
                for t in g.initializer if t.name.endswith(".weight"))
        r["onnxruntime_accuracy"] = float((logits.argmax(1) == ds.y_test.numpy()).mean())
        r["weights_two_valued_per_channel"] = two_valued
        r["onnx_bytes"] = len(raw)
        r["onnx_gzip_bytes"] = len(gzip.compress(raw, 9))
        r["binary_weight_bits"] = sum(l.weight.numel() for _, l in m.weighted_layers())
        rows[name] = r
    return {"config": cfg, "rows": rows, "error_pct": {k: _err(v) for k, v in rows.items()}}


def quantization_networks(device: str, cfg: dict, progress: bool) -> dict:
    """Quantization Networks' soft quantizer (a sum of sigmoids whose temperature grows geometrically over training)
    against the straight-through estimator, on the MNIST CNN at each weight width: same grid, epochs, learning rate
    and seed; both evaluated on the hard grid."""
    ds = load_dataset("mnist")
    t0, t1 = cfg["temperature"]
    rows = {}
    for bits in cfg["bits"]:
        for method in ("ste", "soft"):
            seed_everything(cfg["seed"])
            m = prepare_qat(build_model(make_spec("cnn", ds.image_shape, 10)).to(device), bits)
            layers = [l for _, l in m.weighted_layers()]

            def anneal(done: float, layers=layers) -> None:
                for l in layers:
                    l.soft_temperature = t0 * (t1 / t0) ** done

            fit(m, ds.x_train, ds.y_train, epochs=cfg["epochs"], batch_size=128, lr=cfg["lr"], device=device, seed=cfg["seed"],
                x_test=ds.x_test, y_test=ds.y_test, progress=progress, label=f"{bits}-bit {method}",
                on_step=anneal if method == "soft" else None)
            for l in layers:
                l.soft_temperature = None
            rows[f"{bits}-bit {method}"] = {"bits": bits, "method": method, **evaluate(m, ds.x_test, ds.y_test)}
    return {"config": cfg, "rows": rows, "error_pct": {k: _err(v) for k, v in rows.items()},
            "paper": "Yang et al. 2019 (ResNet-18 on ImageNet): the soft quantizer beats STE-trained baselines at 1-3 bits"}


def _summary(name: str, r: dict) -> str:
    if name == "omitted-digit":
        t = r["rows"]["teacher"]
        lines = [f"| model | test errors (of {t['n']}) | errors on 3s (of {t['n_class']}) |", "|---|---|---|"]
        for k, v in r["rows"].items():
            lines.append(f"| {k} (bias +{v['delta']:g}) | {v['errors']} | {v['errors_on_class']} |")
        return "\n".join(lines)
    if name == "seen-digits":
        t = r["rows"]["teacher"]
        lines = [f"| model | test errors % (of {t['n']}) | errors % on the digits the student never saw (of {t['n_class']}) |", "|---|---|---|"]
        for k, v in r["rows"].items():
            lines.append(f"| {k} (other digits' bias +{v['delta']:g}) | {v['error_pct']} | {v['error_pct_unseen']} |")
        p = r["paper"]
        lines.append(f"| Hinton et al. 2015 (7s and 8s only) | {p['error_pct']}, then {p['bias_fixed_error_pct']} with 7 and 8 biases -{p['bias_lowered_for_7_and_8']} | |")
        return "\n".join(lines)
    if name == "quantization-networks":
        lines = ["| weights | STE test error | soft quantizer (Quantization Networks) test error |", "|---|---|---|"]
        for bits in r["config"]["bits"]:
            lines.append(f"| {bits}-bit | {r['error_pct'][f'{bits}-bit ste']}% | {r['error_pct'][f'{bits}-bit soft']}% |")
        return "\n".join(lines)
    if name == "deep-compression":
        lines = ["| stage | error % | bytes | compression |", "|---|---|---|---|"]
        lines += [f"| {s['stage']} | {s['error_pct']} | {s['bytes']:,.0f} | {s['compression']}x |" for s in r["stages"]]
        return "\n".join(lines)
    lines = ["| model | error % | onnxruntime accuracy |", "|---|---|---|"]
    lines += [f"| {k} | {r['error_pct'][k]} | {v.get('onnxruntime_accuracy', '')} |" for k, v in r["rows"].items()]
    return "\n".join(lines)


def run_experiments(name: str, out: str, device: str, full: bool = False, progress: bool = True, models_dir: str | None = None) -> dict:
    names = list(CONFIGS) if name == "all" else [name]
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = {}
    for n in names:
        cfg = CONFIGS[n]["full" if full else "reduced"]
        t0, c0 = time.time(), time.process_time()
        fn = {"omitted-digit": omitted_digit, "seen-digits": seen_digits, "deep-compression": deep_compression,
              "quantization-networks": quantization_networks, "binary-cnn": binary_cnn}[n]
        r = fn(device, cfg, progress, models_dir) if n == "deep-compression" else fn(device, cfg, progress)
        r.update(experiment=n, scale="full" if full else "reduced (CPU)", seconds=round(time.time() - t0, 1),
                 cpu_seconds=round(time.process_time() - c0, 1),
                 environment={"torch": torch.__version__, "device": device, "threads": torch.get_num_threads()},
                 command=f"/usr/bin/python3 scripts/train/train.py experiment {n}" + (" --full" if full else ""))
        (out_dir / f"{n}.json").write_text(json.dumps(r, indent=2) + "\n")
        table = _summary(n, r)
        (out_dir / f"{n}.md").write_text(table + "\n")
        print(f"\n## {n} ({r['seconds']}s)\n{table}", file=sys.stderr)
        results[n] = r
    return results
