"""Reduced CPU run behind results/resnet18-fashion.{json,md}: ResNet-18 on Fashion-MNIST, FP32 training vs 4-bit
and 2-bit QAT (8-bit activations) started from it, and the small student trained on hard labels vs distilled from it.

    /usr/bin/python3 scripts/train/examples/resnet18_results.py [--train-size 5000 --val-size 2000 --epochs 3]
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import slimtrain as st  # noqa: E402
from examples import resnet18_fashion as R  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "results"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train-size", type=int, default=5000)
    ap.add_argument("--val-size", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=3, help="FP32 and student epochs")
    ap.add_argument("--qat-epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t_start = time.time()
    train, val = R.loaders(args.train_size, args.val_size, batch_size=64)
    runs: dict = {}

    def record(name, model, history, seconds):
        runs[name] = {"val": st.evaluate(model, val), "history": history, "seconds": round(seconds, 1),
                      "parameters": sum(p.numel() for p in model.parameters())}
        print(f"{name}: val accuracy {runs[name]['val']['accuracy']:.4f} ({seconds:.0f}s)", file=sys.stderr, flush=True)

    torch.manual_seed(0)
    fp32 = R.model()
    t = time.time()
    record("resnet18 fp32", fp32, st.fit(fp32, train, epochs=args.epochs, lr=1e-3, device="cpu", label="fp32"), time.time() - t)
    for bits in (4, 2):
        q = copy.deepcopy(fp32)
        st.quantize_aware(q, bits=bits, act_bits=8)
        t = time.time()
        record(f"resnet18 w{bits}a8 QAT", q, st.fit(q, train, epochs=args.qat_epochs, lr=2e-4, device="cpu", label=f"w{bits}a8"),
               time.time() - t)
    teacher_pred = st.predict(fp32, val)[0].argmax(1)
    for name, T, alpha in (("student hard labels", None, None), ("student distilled (T=4, alpha=0.9)", 4.0, 0.9),
                           ("student distilled (T=2, alpha=0.5)", 2.0, 0.5)):
        torch.manual_seed(1)
        s = R.student()
        t = time.time()
        if T is None:
            h = st.fit(s, train, epochs=args.epochs, lr=2e-3, device="cpu", label="student")
        else:
            h = st.distill(fp32, s, train, T=T, alpha=alpha, epochs=args.epochs, lr=2e-3, device="cpu")
        record(name, s, h, time.time() - t)
        runs[name]["agreement_with_teacher"] = float((st.predict(s, val)[0].argmax(1) == teacher_pred).float().mean())
    config = {"train_size": args.train_size, "val_size": args.val_size, "epochs": args.epochs, "qat_epochs": args.qat_epochs,
              "threads": args.threads, "torch": torch.__version__, "device": "cpu", "wall_seconds": round(time.time() - t_start)}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "resnet18-fashion.json").write_text(json.dumps({"config": config, "runs": runs}, indent=2) + "\n")
    base = runs["resnet18 fp32"]["val"]["accuracy"]
    lines = ["| model | val accuracy | vs FP32 | agreement with the FP32 teacher | train seconds |", "|---|---|---|---|---|"]
    for name, r in runs.items():
        acc = r["val"]["accuracy"]
        agree = f"{r['agreement_with_teacher']:.2%}" if "agreement_with_teacher" in r else "—"
        lines.append(f"| {name} | {acc:.2%} | {100 * (acc - base):+.2f} pts | {agree} | {r['seconds']:.0f} |")
    (out / "resnet18-fashion.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
