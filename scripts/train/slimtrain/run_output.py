"""Where a run's results go, for the built-in architectures and user code alike: its folder (--out, else
runs/<command>), the checkpoint and the ONNX export, results.json, and the optional upload as a trained variant."""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Callable

from .upload import upload_variant


def finish_run(args, results: dict, recipe: dict, save_checkpoint: Callable[[Path], None],
               export_onnx: Callable[[Path], bytes], split: str) -> dict:
    """Writes the checkpoint, the ONNX (through the callers' own exporters) and results.json; uploads when asked.
    `split` names the data `results["final"]` was measured on, for the closing line."""
    out = Path(args.out) if args.out else Path(__file__).resolve().parents[1] / "runs" / args.command
    out.mkdir(parents=True, exist_ok=True)
    save_checkpoint(out / "model.pt")
    onnx_bytes = export_onnx(out / "model.onnx")
    results["export"] = {"onnx": str(out / "model.onnx"), "checkpoint": str(out / "model.pt"), "bytes": len(onnx_bytes),
                         "sha256": hashlib.sha256(onnx_bytes).hexdigest(), "opset": args.opset}
    results["recipe"] = recipe
    if args.upload:
        if not (args.parent and args.token):
            raise SystemExit("--upload needs --parent ID and --token T (or $SLIMSERVE_TOKEN)")
        results["upload"] = upload_variant(args.upload, args.parent, args.token, onnx_bytes, recipe)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    if not args.no_progress:
        f = results["final"]
        print(f"[{args.command}] {split} accuracy {f['accuracy']:.4f} ({f['errors']}/{f['n']} errors); wrote {out}/",
              file=sys.stderr)
    return results
