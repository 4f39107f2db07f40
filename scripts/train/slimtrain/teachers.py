"""Distillation for any student: teachers as callables, the Hinton loss over batches, and `distill`.

A teacher is anything that maps a batch's inputs to logits: an nn.Module (run in eval mode without gradients),
`OnnxTeacher` (an ONNX file run by onnxruntime: the Python package when installed, else onnxruntime-node via
tests/ort_run.mjs), `EndpointTeacher` (a model served by slimserve, POST /v1/models/{id}/infer), or a plain function.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import onnx
import torch
from torch import nn

from .distill import distillation_loss
from .loop import resolve_device
from .training import fit
from .upload import api_logits


class OnnxTeacher:
    """Logits of an ONNX model; inputs are bound to the graph's inputs in order, the first output is the logits."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        graph = onnx.load(self.path, load_external_data=False).graph
        inits = {t.name for t in graph.initializer}
        self.input_names = [i.name for i in graph.input if i.name not in inits]
        self.output_name = graph.output[0].name
        try:
            import onnxruntime  # type: ignore[import-not-found]

            self.session = onnxruntime.InferenceSession(self.path, providers=["CPUExecutionProvider"])
        except ImportError:
            self.session = None  # Debian ships no onnxruntime for Python: onnxruntime-node runs it instead

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        feeds = {n: t.detach().cpu().numpy() for n, t in zip(self.input_names, inputs)}
        if self.session is not None:
            out = self.session.run([self.output_name], feeds)[0]
        else:
            from .ortnode import ort_run

            out = ort_run(self.path, feeds)[self.output_name]
        return torch.from_numpy(np.asarray(out, dtype=np.float32)).to(inputs[0].device)


class EndpointTeacher:
    """Logits from a model served by slimserve (upload.api_logits): the batch's single float input, sent as is."""

    def __init__(self, url: str, model_id: str, token: str | None = None, input_name: str = "input", batch_size: int = 256,
                 input_shape: list[int] | None = None):
        self.url, self.model_id, self.token, self.input_name, self.batch_size = url, model_id, token, input_name, batch_size
        self.input_shape = input_shape  # per-example shape the served model expects (default: the batch's own)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        xin = x.detach().cpu().numpy()
        if self.input_shape:
            xin = xin.reshape(len(xin), *self.input_shape)
        out = api_logits(self.url, self.model_id, xin, token=self.token,
                         input_name=self.input_name, batch_size=self.batch_size)
        return torch.from_numpy(out).to(x.device)


class DistillationLoss:
    """loss(outputs, labels, inputs) = alpha · T² · KL(softmax(t/T) ‖ softmax(s/T)) + (1 − alpha) · CE(s, y),
    with t = teacher(*inputs) computed without gradients (slimtrain/distill.py)."""

    def __init__(self, teacher: Callable, temperature: float = 4.0, alpha: float = 0.9):
        self.teacher, self.temperature, self.alpha = teacher, temperature, alpha
        if isinstance(teacher, nn.Module):
            teacher.eval()

    @torch.no_grad()
    def teacher_logits(self, inputs: tuple) -> torch.Tensor:
        if isinstance(self.teacher, nn.Module):
            self.teacher.eval()
        return self.teacher(*inputs).float()

    def __call__(self, outputs: torch.Tensor, labels: torch.Tensor, inputs: tuple) -> torch.Tensor:
        return distillation_loss(outputs, self.teacher_logits(inputs), labels, self.temperature, self.alpha)


def distill(teacher: Callable, student: nn.Module, loader: Iterable, T: float = 4.0, alpha: float = 0.9,
            **fit_kwargs) -> list[dict]:
    """Trains `student` on `loader` against the teacher's soft targets at temperature T (deployed at T = 1);
    fit_kwargs go to slimtrain.fit (epochs, lr, val_loader, pruner, device, progress, ...)."""
    fit_kwargs["device"] = resolve_device(fit_kwargs.get("device", "auto"))
    if isinstance(teacher, nn.Module):
        teacher.to(fit_kwargs["device"])
    fit_kwargs.setdefault("label", f"distill T={T:g}")
    return fit(student, loader, loss_fn=DistillationLoss(teacher, T, alpha), **fit_kwargs)
