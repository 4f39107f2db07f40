"""The fp32 reference models and MNIST test subsets committed under test/fixtures for the TypeScript tests."""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import torch

from .data import Dataset, load_dataset
from .graph_export import export_onnx
from .loop import evaluate, fit, seed_everything
from .models import SlimNet, build_model, make_spec
from .ortnode import ort_run
from .prune import AGPSchedule, Pruner

SUBSET = 1000  # the first 1000 images of the official MNIST test set

# Recipes: fixed seeds, Adam + per-step cosine decay, batch 128, inputs = pixels / 255 in [0, 1].
RECIPES = {
    "mnist-mlp": {"arch": "mnist-mlp", "epochs": 20, "lr": 1e-3, "dropout": 0.2, "seed": 1},
    "lenet-300-100": {"arch": "lenet-300-100", "epochs": 12, "lr": 1e-3, "seed": 2},
    "mnist-cnn": {"arch": "cnn", "epochs": 5, "lr": 1e-3, "seed": 3},
}
# Gradual pruning of the dense LeNet-300-100 (shared with the deep-compression experiment).
PRUNE92 = {"final_sparsity": 0.92, "prune_steps": 10, "epochs": 10, "ramp": 0.5, "lr": 1e-3, "scope": "global", "seed": 4}


def train_recipe(name: str, ds: Dataset, device: str, progress: bool = True) -> tuple[SlimNet, list[dict]]:
    r = RECIPES[name]
    seed_everything(r["seed"])
    model = build_model(make_spec(r["arch"], ds.image_shape, ds.num_classes, dropout=r.get("dropout", 0.0))).to(device)
    hist = fit(model, ds.x_train, ds.y_train, epochs=r["epochs"], batch_size=128, lr=r["lr"], device=device,
               seed=r["seed"], x_test=ds.x_test, y_test=ds.y_test, progress=progress, label=name)
    return model, hist


def prune_gradually(model: SlimNet, ds: Dataset, device: str, cfg: dict = PRUNE92, progress: bool = True,
                    batch_size: int = 128) -> tuple[Pruner, list[dict]]:
    """AGP from 0 to cfg['final_sparsity'] over the first `ramp` of the epochs, retraining throughout."""
    seed_everything(cfg["seed"])
    pruner = Pruner(model, "unstructured", cfg["scope"])
    steps = -(-len(ds.y_train) // batch_size) * cfg["epochs"]
    schedule = AGPSchedule(0.0, cfg["final_sparsity"], cfg["prune_steps"], int(cfg["ramp"] * steps) // cfg["prune_steps"])
    hist = fit(model, ds.x_train, ds.y_train, epochs=cfg["epochs"], batch_size=batch_size, lr=cfg["lr"], device=device,
               seed=cfg["seed"], x_test=ds.x_test, y_test=ds.y_test, pruner=pruner, schedule=schedule,
               progress=progress, label="prune")
    if pruner.sparsity < cfg["final_sparsity"]:
        pruner.prune_to(cfg["final_sparsity"])
    return pruner, hist


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _ort_accuracy(path: Path, x: np.ndarray, y: np.ndarray) -> dict:
    logits = ort_run(path, {"input": x})["logits"]
    pred = logits.argmax(1)
    return {"accuracy": float((pred == y).mean()), "errors": int((pred != y).sum()), "n": int(len(y))}


def make_reference(out: str, device: str, progress: bool = True) -> dict:
    out_dir = Path(out)
    models_dir, data_dir = out_dir / "models", out_dir / "data"
    models_dir.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    ds = load_dataset("mnist")
    x_test = ds.x_test.numpy()
    y_test = ds.y_test.numpy().astype(np.int64)
    flat, img = x_test.reshape(len(x_test), -1), x_test
    np.savez_compressed(data_dir / "mnist-test-1000.npz", input=flat[:SUBSET], labels=y_test[:SUBSET])
    np.savez_compressed(data_dir / "mnist-test-1000-img.npz", input=img[:SUBSET], labels=y_test[:SUBSET])

    report: dict = {"preprocessing": "pixels / 255 as float32 in [0, 1]; no mean/std normalisation",
                    "subset": f"first {SUBSET} images of the official MNIST test set (t10k)", "models": {}}
    trained = {}
    for name, recipe in RECIPES.items():
        model, hist = train_recipe(name, ds, device, progress)
        trained[name] = model
        _write_model(models_dir, name, model, recipe, hist, flat if model.spec["arch"] == "mlp" else img, y_test, ds, report)

    lenet = trained["lenet-300-100"]
    pruner, hist = prune_gradually(lenet, ds, device, PRUNE92, progress)
    recipe = {"from": "lenet-300-100", "prune": "unstructured AGP (global magnitude)", **PRUNE92,
              "sparsity": round(pruner.report()["sparsity"], 4), "storage": "fp32 dense, pruned weights stored as 0"}
    _write_model(models_dir, "lenet-300-100-pruned92", lenet, recipe, hist, flat, y_test, ds, report)
    report["data"] = {
        "mnist-test-1000.npz": {"input": [SUBSET, 784], "labels": [SUBSET], "bytes": (data_dir / "mnist-test-1000.npz").stat().st_size},
        "mnist-test-1000-img.npz": {"input": [SUBSET, 1, 28, 28], "labels": [SUBSET], "bytes": (data_dir / "mnist-test-1000-img.npz").stat().st_size},
    }
    report["total_bytes"] = sum(p.stat().st_size for p in [*models_dir.glob("*.onnx"), *data_dir.glob("*.npz")])
    report["environment"] = {"torch": torch.__version__, "device": device, "threads": torch.get_num_threads()}
    (models_dir / "reference.json").write_text(json.dumps(report, indent=2) + "\n")
    (models_dir / "README.md").write_text(_readme(report))
    if progress:
        for n, m in report["models"].items():
            print(f"{n}: test {m['onnxruntime']['test_10k']['accuracy']:.4f} subset {m['onnxruntime']['subset_1000']['accuracy']:.4f}", file=sys.stderr)
    return report


FASHION_DIR = "/usr/share/datasets/fashion-mnist"  # Debian's dataset-fashion-mnist
FASHION_RECIPE = {"arch": "cnn", "epochs": 5, "lr": 1e-3, "seed": 5, "dataset": "Fashion-MNIST"}


def make_fashion_reference(out: str, device: str, data_dir: str = FASHION_DIR, progress: bool = True) -> dict:
    """The Fashion-MNIST CNN and its test subset, beside the MNIST fixtures (which this leaves as they are):
    models/fashion-cnn.onnx, data/fashion-test-1000-img.npz, models/fashion-reference.json and models/FASHION.md."""
    out_dir = Path(out)
    models_dir, data_dir_out = out_dir / "models", out_dir / "data"
    models_dir.mkdir(parents=True, exist_ok=True)
    data_dir_out.mkdir(parents=True, exist_ok=True)
    ds = load_dataset("idx", data_dir)
    x_test = ds.x_test.numpy()
    y_test = ds.y_test.numpy().astype(np.int64)
    np.savez_compressed(data_dir_out / "fashion-test-1000-img.npz", input=x_test[:SUBSET], labels=y_test[:SUBSET])
    r = FASHION_RECIPE
    seed_everything(r["seed"])
    model = build_model(make_spec(r["arch"], ds.image_shape, ds.num_classes)).to(device)
    hist = fit(model, ds.x_train, ds.y_train, epochs=r["epochs"], batch_size=128, lr=r["lr"], device=device,
               seed=r["seed"], x_test=ds.x_test, y_test=ds.y_test, progress=progress, label="fashion-cnn")
    report: dict = {"preprocessing": "pixels / 255 as float32 in [0, 1]; no mean/std normalisation",
                    "subset": f"first {SUBSET} images of the Fashion-MNIST test set (t10k, {data_dir})", "models": {}}
    _write_model(models_dir, "fashion-cnn", model, r, hist, x_test, y_test, ds, report, "fashion-test-1000-img.npz")
    report["data"] = {"fashion-test-1000-img.npz": {"input": [SUBSET, 1, 28, 28], "labels": [SUBSET],
                                                   "bytes": (data_dir_out / "fashion-test-1000-img.npz").stat().st_size}}
    report["environment"] = {"torch": torch.__version__, "device": device, "threads": torch.get_num_threads()}
    (models_dir / "fashion-reference.json").write_text(json.dumps(report, indent=2) + "\n")
    m = report["models"]["fashion-cnn"]
    (models_dir / "FASHION.md").write_text(f"""# Fashion-MNIST reference model (generated — do not edit by hand)

`fashion-cnn.onnx`: the `cnn` architecture of the MNIST CNN trained on Fashion-MNIST (Debian's dataset-fashion-mnist),
for the accuracy tests that need a second dataset. Regenerate (deterministic seed, CPU, a few minutes; the MNIST
fixtures are left as they are):

    /usr/bin/python3 scripts/train/train.py reference --fashion --out test/fixtures

Interface as the MNIST models': input `input` float32 [N, 1, 28, 28] ({report['preprocessing']}), output `logits`
float32 [N, 10]. Accuracy with onnxruntime: {m['onnxruntime']['test_10k']['accuracy']:.2%} on the 10k test set
({m['onnxruntime']['test_10k']['errors']} errors), {m['onnxruntime']['subset_1000']['accuracy']:.1%} on the subset
`data/fashion-test-1000-img.npz` ({report['subset']}; `input` float32 [1000, 1, 28, 28], `labels` int64 [1000]).
{m['parameters']:,} parameters, {m['bytes'] / 1e6:.2f} MB. Recipe: {json.dumps(r)}. Full numbers: `fashion-reference.json`.
""")
    return report


DW_RECIPE = {"arch": "separable-cnn", "epochs": 4, "lr": 2e-3, "seed": 6, "dataset": "Fashion-MNIST"}


def make_separable_reference(out: str, device: str, data_dir: str = FASHION_DIR, progress: bool = True) -> dict:
    """A depthwise-separable CNN (mobile.py) trained on Fashion-MNIST and exported by torch.onnx with its BatchNorms
    folded: models/fashion-separable-cnn.onnx, models/separable-reference.json and models/SEPARABLE.md. It is
    evaluated on the same subset as the Fashion CNN (data/fashion-test-1000-img.npz, which this leaves as it is)."""
    from torch.utils.data import DataLoader, TensorDataset

    from .mobile import SeparableCnn
    from .onnx_export import export
    from .training import fit as fit_module

    models_dir = Path(out) / "models"
    models_dir.mkdir(parents=True, exist_ok=True)
    ds = load_dataset("idx", data_dir)
    r = DW_RECIPE
    seed_everything(r["seed"])
    model = SeparableCnn(ds.num_classes)
    loader = DataLoader(TensorDataset(ds.x_train, ds.y_train), batch_size=128, shuffle=True,
                        generator=torch.Generator().manual_seed(r["seed"]))
    hist = fit_module(model, loader, epochs=r["epochs"], lr=r["lr"], device=device, progress=progress, label="separable-cnn")
    model = model.cpu().eval()
    path = models_dir / "fashion-separable-cnn.onnx"
    export(model, ds.x_test[:1], path, metadata={"slimserve.recipe": {"reference": "fashion-separable-cnn", **r}})
    x_test = ds.x_test.numpy()
    y_test = ds.y_test.numpy().astype(np.int64)
    with torch.no_grad():
        torch_acc = float((model(ds.x_test).argmax(1) == ds.y_test).float().mean())
    m = {"file": path.name, "bytes": path.stat().st_size, "sha256": _sha(path),
         "parameters": sum(p.numel() for p in model.parameters()),
         "input": {"name": "input", "shape": ["N", 1, 28, 28]}, "output": {"name": "logits", "shape": ["N", 10]},
         "dataset": "fashion-test-1000-img.npz", "recipe": r, "torch": {"test_10k": torch_acc},
         "onnxruntime": {"test_10k": _ort_accuracy(path, x_test, y_test), "subset_1000": _ort_accuracy(path, x_test[:SUBSET], y_test[:SUBSET])},
         "history": hist}
    report = {"models": {"fashion-separable-cnn": m},
              "environment": {"torch": torch.__version__, "device": device, "threads": torch.get_num_threads()}}
    (models_dir / "separable-reference.json").write_text(json.dumps(report, indent=2) + "\n")
    (models_dir / "SEPARABLE.md").write_text(f"""# Depthwise-separable reference model (generated — do not edit by hand)

`fashion-separable-cnn.onnx`: a MobileNet-style CNN (`scripts/train/slimtrain/mobile.py`: a 3x3 stride-2 stem, then
depthwise 3x3 and pointwise 1x1 convolutions, each with BatchNorm and ReLU6, global average pooling, one Linear)
trained on Fashion-MNIST (Debian's dataset-fashion-mnist) and exported by torch.onnx (opset 13, BatchNorm folded into
the convolutions, ReLU6 as Clip), for the tests of per-tensor int8 on depthwise convolutions. Regenerate
(deterministic seed, CPU, a few minutes; the other fixtures are left as they are):

    /usr/bin/python3 scripts/train/train.py reference --separable --out test/fixtures

Input `input` float32 [N, 1, 28, 28] (pixels / 255), output `logits` float32 [N, 10].
Accuracy with onnxruntime: {m['onnxruntime']['test_10k']['accuracy']:.2%} on the 10k test set.
Accuracy on `data/fashion-test-1000-img.npz`: {m['onnxruntime']['subset_1000']['accuracy']:.1%}.
{m['parameters']:,} parameters, {m['bytes'] / 1e3:.0f} KB. Recipe: {json.dumps(r)}.
Full numbers: `separable-reference.json`.
""")
    return report


def _write_model(models_dir: Path, name: str, model: SlimNet, recipe: dict, hist: list[dict], x: np.ndarray,
                 y: np.ndarray, ds: Dataset, report: dict, dataset: str | None = None) -> None:
    path = models_dir / f"{name}.onnx"
    export_onnx(model, path, 13, {"slimserve.recipe": {"reference": name, **recipe}})
    torch_eval = evaluate(model, ds.x_test, ds.y_test)
    zeros = sum(int((l.weight * (l.weight_mask if l.weight_mask is not None else 1) == 0).sum()) for _, l in model.weighted_layers())
    weights = sum(l.weight.numel() for _, l in model.weighted_layers())
    report["models"][name] = {
        "file": path.name, "bytes": path.stat().st_size, "sha256": _sha(path),
        "parameters": sum(p.numel() for p in model.parameters()), "weight_sparsity": round(zeros / weights, 4),
        "input": {"name": "input", "shape": ["N", *model.input_shape]}, "output": {"name": "logits", "shape": ["N", 10]},
        "dataset": dataset or ("mnist-test-1000.npz" if model.spec["arch"] == "mlp" else "mnist-test-1000-img.npz"),
        "recipe": recipe, "spec": model.spec,
        "torch": {"test_10k": torch_eval["accuracy"]},
        "onnxruntime": {"test_10k": _ort_accuracy(path, x, y), "subset_1000": _ort_accuracy(path, x[:SUBSET], y[:SUBSET])},
        "history": hist,
    }


def _readme(r: dict) -> str:
    rows = "\n".join(
        f"| `{m['file']}` | {' x '.join(map(str, m['input']['shape']))} | {m['parameters']:,} | {m['weight_sparsity']:.0%} | "
        f"{m['onnxruntime']['test_10k']['accuracy']:.2%} ({m['onnxruntime']['test_10k']['errors']} errors) | "
        f"{m['onnxruntime']['subset_1000']['accuracy']:.1%} ({m['onnxruntime']['subset_1000']['errors']} errors) | `{m['dataset']}` | {m['bytes'] / 1e6:.2f} MB |"
        for m in r["models"].values())
    recipes = "\n".join(f"- `{n}`: {json.dumps(m['recipe'])}" for n, m in r["models"].items())
    return f"""# Reference models (generated — do not edit by hand)

FP32 MNIST classifiers and an MNIST test subset for the TypeScript accuracy tests; no Python needed to use them.

Regenerate (deterministic seeds, CPU, ~10 minutes on 2 cores):

    /usr/bin/python3 scripts/train/train.py reference --out test/fixtures

All models: ONNX opset 13, input `input` float32, output `logits` float32 [N, 10] (raw scores; argmax = digit),
batch dim symbolic `N`. Preprocessing: {r['preprocessing']}.
Accuracy measured with onnxruntime-node 1.30 (graphOptimizationLevel `basic`) on the full 10k MNIST test set and on the subset.

| model | input | parameters | zero weights | accuracy, 10k test | accuracy, 1000 subset | dataset | size |
|---|---|---|---|---|---|---|---|
{rows}

Data (`test/fixtures/data/`, `np.savez_compressed`, i.e. a zip with deflated `.npy` members): {r['subset']}.
- `mnist-test-1000.npz`: `input` float32 [1000, 784], `labels` int64 [1000] (for the MLPs)
- `mnist-test-1000-img.npz`: `input` float32 [1000, 1, 28, 28] (same values), `labels` int64 [1000] (for the CNN)

`lenet-300-100-pruned92.onnx` is the retrained 92%-sparse LeNet-300-100 of the deep-compression experiment,
stored dense fp32 with zeros in place (the trained variant another issue uploads).

Recipes (Adam, per-step cosine learning-rate decay, batch 128; see `scripts/train/slimtrain/reference.py`):
{recipes}

Total size of models + data: {r['total_bytes'] / 1e6:.2f} MB. Full numbers and training curves: `reference.json`.
"""
