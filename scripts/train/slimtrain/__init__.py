"""slimtrain: the offline half of slimserve (QAT down to binary, distillation, gradual pruning, ONNX export, upload).

The API for any nn.Module (documented in scripts/train/README.md, "Python API"):

    quantize_aware(model, bits=4, act_bits=8, exclude=["fc"])     # fake-quantized layers, in place (STE)
    pruner = prune_gradually(model, AGP.over(0.8, total_steps), "unstructured")   # masks; pruner.step() per step
    distill(teacher, student, loader, T=4.0, alpha=0.9, epochs=3)  # teacher: module, OnnxTeacher, EndpointTeacher
    fit(model, loader, epochs=3, val_loader=val, pruner=pruner)    # or your own loop
    export(model, example_inputs, "model.onnx")                    # QDQ ONNX, same inputs/outputs as the float export
    upload("model.onnx", url, parent_id, token, recipe)            # trained variant of a model served by slimserve
"""
from __future__ import annotations

from pathlib import Path

from .layers import clip_binary, exporting, quantize_aware
from .onnx_export import export
from .sparsity import AGP, GradualPruner, prune_gradually
from .teachers import DistillationLoss, EndpointTeacher, OnnxTeacher, distill
from .training import evaluate, fit, predict
from .upload import upload_variant


def upload(onnx_model: str | Path | bytes, url: str, parent: str, token: str, recipe: dict | None = None) -> dict:
    """POSTs an exported model (path or bytes) as a trained variant of model `parent`; returns the variant record."""
    data = onnx_model if isinstance(onnx_model, bytes) else Path(onnx_model).read_bytes()
    return upload_variant(url, parent, token, data, recipe or {"trained": {"method": "slimtrain"}})


__all__ = ["AGP", "DistillationLoss", "EndpointTeacher", "GradualPruner", "OnnxTeacher", "clip_binary", "distill",
           "evaluate", "export", "exporting", "fit", "predict", "prune_gradually", "quantize_aware", "upload"]
