"""The runs behind results/resnet18-fashion{,-cuda}.{json,md}: ResNet-18 on Fashion-MNIST, FP32 training vs 4-bit
and 2-bit QAT (8-bit activations) started from it, and the small student trained on hard labels vs distilled from it,
each student from several seeds (one seed's gap is within seed-to-seed noise; the table gives the mean and each seed).

    /usr/bin/python3 scripts/train/examples/resnet18_results.py --threads 2   # 5,000 images, 3 epochs, students 10 x 3 seeds
    python3 scripts/train/examples/resnet18_results.py --device cuda --amp --train-size 0 --val-size 0 \
        --epochs 6 --student-epochs 6 --batch-size 128   # on a GPU
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import slimtrain as st  # noqa: E402
from examples import resnet18_fashion as R  # noqa: E402
from slimtrain.loop import resolve_device  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "results"


def onnx_parity(model, val, n: int, work: Path, name: str) -> dict:
    """The model exported as QDQ ONNX and run by onnxruntime (graph run literally) on the first n validation
    examples, against the same model in PyTorch on CPU: how far the logits are apart and whether the classes agree."""
    from slimtrain.ortnode import ort_run

    cpu = copy.deepcopy(model).cpu().eval()
    x = torch.cat([b[0] for b in val])[:n]
    y = torch.cat([b[1] for b in val])[:n]
    path = work / f"{name.replace(' ', '-')}.onnx"
    st.export(cpu, x[:2], path)
    with torch.no_grad():
        ref = cpu(x).numpy()
    got = ort_run(path, {"input": x.numpy()}, level="disabled")["logits"]
    scale = np.abs(ref).max(axis=1)
    rel = np.abs(got - ref).max(axis=1) / np.maximum(scale, 1e-12)
    return {"examples": n, "max_rel": float(rel.max()), "rows_within_1e-4": float((rel <= 1e-4).mean()),
            "argmax_agreement": float((got.argmax(1) == ref.argmax(1)).mean()),
            "accuracy_torch": float((ref.argmax(1) == y.numpy()).mean()),
            "accuracy_onnxruntime": float((got.argmax(1) == y.numpy()).mean())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train-size", type=int, default=5000, help="0: all 60,000")
    ap.add_argument("--val-size", type=int, default=2000, help="0: all 10,000")
    ap.add_argument("--epochs", type=int, default=3, help="FP32 epochs")
    ap.add_argument("--qat-epochs", type=int, default=2)
    ap.add_argument("--student-epochs", type=int, default=10,
                    help="student epochs (the 21k-parameter student is still learning after 3 on 5,000 images)")
    ap.add_argument("--seeds", type=int, default=3, help="each student is trained from seeds 1..N")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    ap.add_argument("--amp", action="store_true", help="fp16 autocast for the float models on CUDA")
    ap.add_argument("--parity", type=int, default=500, help="validation examples the QAT exports are checked on (0: none)")
    ap.add_argument("--name", help="results file stem (default resnet18-fashion, resnet18-fashion-cuda on CUDA)")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    name = args.name or ("resnet18-fashion-cuda" if device == "cuda" else "resnet18-fashion")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.time()
    train, val = R.loaders(args.train_size or None, args.val_size or None, batch_size=args.batch_size)
    runs: dict = {}
    config = {"train_size": len(train.dataset), "val_size": len(val.dataset), "epochs": args.epochs,
              "qat_epochs": args.qat_epochs, "student_epochs": args.student_epochs, "seeds": args.seeds,
              "batch_size": args.batch_size, "threads": args.threads,
              "torch": torch.__version__, "device": device, "amp": args.amp}
    if device == "cuda":
        config["gpu"] = torch.cuda.get_device_name(0)
        torch.backends.cudnn.benchmark = True  # fixed input shapes: let cuDNN pick its fastest convolutions

    def write():
        # After every run, so a run cut short by its time limit still leaves what it finished.
        config["wall_seconds"] = round(time.time() - t_start)
        (out / f"{name}.json").write_text(json.dumps({"config": config, "runs": runs}, indent=2) + "\n")
        base = runs["resnet18 fp32"]["val"]["accuracy"]
        lines = ["| model | val accuracy | vs FP32 | agreement with the FP32 teacher | train seconds |", "|---|---|---|---|---|"]
        for run_name, r in runs.items():
            acc = r["val"]["accuracy"]
            agree = "—"
            if "agreement_with_teacher" in r:
                per_seed = " / ".join(f"{s['agreement_with_teacher']:.2%}" for s in r["seeds"])
                agree = f"{r['agreement_with_teacher']:.2%} (seeds: {per_seed})"
            lines.append(f"| {run_name} | {acc:.2%} | {100 * (acc - base):+.2f} pts | {agree} | {r['seconds']:.0f} |")
        (out / f"{name}.md").write_text("\n".join(lines) + "\n")
        return lines

    def record(run_name, model, history, seconds):
        runs[run_name] = {"val": st.evaluate(model, val), "history": history, "seconds": round(seconds, 1),
                          "parameters": sum(p.numel() for p in model.parameters())}
        print(f"{run_name}: val accuracy {runs[run_name]['val']['accuracy']:.4f} ({seconds:.0f}s)", file=sys.stderr, flush=True)

    fit = {"device": device, "amp": args.amp}
    torch.manual_seed(0)
    fp32 = R.model()
    t = time.time()
    record("resnet18 fp32", fp32, st.fit(fp32, train, epochs=args.epochs, lr=1e-3, label="fp32", **fit), time.time() - t)
    write()
    for bits in (4, 2):
        q = copy.deepcopy(fp32)
        st.quantize_aware(q, bits=bits, act_bits=8)
        t = time.time()
        run_name = f"resnet18 w{bits}a8 QAT"
        record(run_name, q, st.fit(q, train, epochs=args.qat_epochs, lr=2e-4, label=f"w{bits}a8", **fit), time.time() - t)
        if args.parity:
            with tempfile.TemporaryDirectory() as work:
                runs[run_name]["onnx_parity"] = onnx_parity(q, val, args.parity, Path(work), run_name)
            print(f"{run_name}: onnxruntime {runs[run_name]['onnx_parity']}", file=sys.stderr, flush=True)
        write()
    teacher_pred = st.predict(fp32, val)[0].argmax(1)
    for run_name, T, alpha in (("student hard labels", None, None), ("student distilled (T=4, alpha=0.9)", 4.0, 0.9),
                               ("student distilled (T=2, alpha=0.5)", 2.0, 0.5)):
        seeds = []
        for seed in range(1, args.seeds + 1):
            torch.manual_seed(seed)
            train.generator.manual_seed(seed)  # paired runs: each seed's students start alike and see batches alike
            s = R.student()
            t = time.time()
            if T is None:
                h = st.fit(s, train, epochs=args.student_epochs, lr=2e-3, label="student", **fit)
            else:
                h = st.distill(fp32, s, train, T=T, alpha=alpha, epochs=args.student_epochs, lr=2e-3, **fit)
            seeds.append({"seed": seed, "val": st.evaluate(s, val), "history": h, "seconds": round(time.time() - t, 1),
                          "agreement_with_teacher": float((st.predict(s, val)[0].argmax(1) == teacher_pred).float().mean())})
            print(f"{run_name} seed {seed}: val accuracy {seeds[-1]['val']['accuracy']:.4f}, agreement "
                  f"{seeds[-1]['agreement_with_teacher']:.4f}", file=sys.stderr, flush=True)
        # The row is the mean over seeds; each seed's record stays in the JSON.
        runs[run_name] = {"val": {"accuracy": float(np.mean([r["val"]["accuracy"] for r in seeds]))},
                          "agreement_with_teacher": float(np.mean([r["agreement_with_teacher"] for r in seeds])),
                          "seconds": round(sum(r["seconds"] for r in seeds), 1),
                          "parameters": sum(p.numel() for p in s.parameters()), "seeds": seeds}
        write()
    print("\n".join(write()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
