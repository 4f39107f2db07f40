"""Runs exported ONNX through onnxruntime: Python's onnxruntime where it is installed (pip, GPU images), else
onnxruntime-node via tests/ort_run.mjs (Debian ships no onnxruntime for Python)."""
from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

RUNNER = Path(__file__).resolve().parents[1] / "tests" / "ort_run.mjs"


LEVELS = {"disabled": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}


def _python_ort():
    try:
        import onnxruntime  # type: ignore[import-not-found]
    except ImportError:
        return None
    return onnxruntime


def ort_run(model_path: str | Path, inputs: dict[str, np.ndarray], level: str = "basic") -> dict[str, np.ndarray]:
    """Outputs of the model on `inputs`, computed by onnxruntime on CPU at graph optimization `level`
    ('disabled' runs QDQ nodes literally; 'basic' may already use integer kernels for QDQ)."""
    ort = _python_ort()
    if ort is not None:
        options = ort.SessionOptions()
        options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, LEVELS[level])
        session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        feeds = {k: np.ascontiguousarray(v) for k, v in inputs.items()}
        return dict(zip(names, session.run(names, feeds)))
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not on PATH: onnxruntime-node checks need Node.js >= 20 and `npm ci` at the repo root")
    with tempfile.TemporaryDirectory() as tmp:
        args = [node, str(RUNNER), f"--level={level}", str(model_path)]
        for name, arr in inputs.items():
            p = Path(tmp) / f"{name}.npy"
            np.save(p, np.ascontiguousarray(arr))
            args.append(f"{name}={p}")
        proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"onnxruntime-node failed on {model_path}:\n{proc.stderr.strip()}")
    out = json.loads(proc.stdout)["outputs"]
    return {k: np.asarray(v["data"], dtype=np.float32 if v["type"] == "float32" else None).reshape(v["dims"])
            for k, v in out.items()}
