"""Training and evaluation over DataLoaders for any module: `fit`, `evaluate`, `predict`.

A batch is `(inputs, labels)`; inputs is a tensor or a tuple/list of tensors passed as `model(*inputs)`. A loss is
`loss_fn(outputs, labels, inputs)` (cross-entropy by default; `DistillationLoss` reads the inputs for its teacher).
`fit` is a convenience: Adam (or the optimizer you pass) with a per-step cosine decay, a `GradualPruner` stepped after
every optimizer step, binary latent weights clipped, one line (or a progress bar on a terminal) per epoch.
"""
from __future__ import annotations

import math
import sys
import time
from typing import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn

from .layers import FLOAT_BITS, clip_binary, slim_layers
from .loop import close_epoch, resolve_device, tqdm

LossFn = Callable[[torch.Tensor, torch.Tensor, tuple], torch.Tensor]


def cross_entropy(outputs: torch.Tensor, labels: torch.Tensor, _inputs: tuple) -> torch.Tensor:
    return F.cross_entropy(outputs, labels)


def as_inputs(x, device) -> tuple:
    xs = tuple(x) if isinstance(x, (tuple, list)) else (x,)
    return tuple(t.to(device) if isinstance(t, torch.Tensor) else t for t in xs)


def model_device(model: nn.Module) -> torch.device:
    p = next(iter(model.parameters()), None)
    return p.device if p is not None else torch.device("cpu")


@torch.no_grad()
def predict(model: nn.Module, loader: Iterable) -> tuple[torch.Tensor, torch.Tensor]:
    """(outputs, labels) over the loader, on CPU, in eval mode."""
    device = model_device(model)
    was_training = model.training
    model.eval()
    outs, labels = [], []
    for x, y in loader:
        outs.append(model(*as_inputs(x, device)).float().cpu())
        labels.append(y)
    model.train(was_training)
    return torch.cat(outs), torch.cat(labels)


def evaluate(model: nn.Module, loader: Iterable) -> dict:
    outputs, labels = predict(model, loader)
    errors = int((outputs.argmax(1) != labels).sum())
    return {"accuracy": 1 - errors / len(labels), "errors": errors, "n": len(labels)}


def _amp_context(model: nn.Module, device: torch.device, amp: bool):
    """fp16 autocast on CUDA for float models only: fake-quantized levels · scale are not exact in half precision."""
    if not amp or device.type != "cuda":
        return None
    if any(l.weight_bits != FLOAT_BITS or l.input_quant is not None for _, l in slim_layers(model)):
        print("[fit] mixed precision skipped: the model is fake-quantized", file=sys.stderr)
        return None
    if hasattr(torch, "amp") and hasattr(torch.amp, "GradScaler"):  # torch >= 2.3; torch.cuda.amp's is deprecated there
        return torch.amp.GradScaler("cuda")
    return torch.cuda.amp.GradScaler()


def fit(model: nn.Module, train_loader: Iterable, *, epochs: int = 1, lr: float = 1e-3, device: str = "auto",
        loss_fn: LossFn = cross_entropy, optimizer: torch.optim.Optimizer | None = None, val_loader: Iterable | None = None,
        pruner=None, weight_decay: float = 0.0, cosine: bool = True, amp: bool = False, progress: bool = True,
        label: str = "fit") -> list[dict]:
    """Trains `model` in place and returns one record per epoch (loss, train accuracy, val accuracy, seconds)."""
    dev = torch.device(resolve_device(device))
    model.to(dev).train()
    opt = optimizer or torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=weight_decay)
    base_lrs = [g["lr"] for g in opt.param_groups]
    try:
        total = max(1, epochs * len(train_loader))  # type: ignore[arg-type]
    except TypeError:  # an iterable without a length: constant learning rate
        total, cosine = 1, False
    scaler = _amp_context(model, dev, amp)
    history, step = [], 0
    for epoch in range(epochs):
        t0 = time.time()
        use_bar = progress and tqdm is not None and sys.stderr.isatty()
        batches = tqdm(train_loader, desc=f"{label} epoch {epoch + 1}/{epochs}", file=sys.stderr, leave=False) if use_bar else train_loader
        loss_sum, correct, seen = 0.0, 0, 0
        for x, y in batches:
            if cosine:
                for g, base in zip(opt.param_groups, base_lrs):
                    g["lr"] = base * 0.5 * (1 + math.cos(math.pi * step / total))
            inputs, y = as_inputs(x, dev), y.to(dev)
            if scaler is not None:
                with torch.autocast("cuda", dtype=torch.float16):
                    outputs = model(*inputs)
                    loss = loss_fn(outputs, y, inputs)
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                outputs = model(*inputs)
                loss = loss_fn(outputs, y, inputs)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            clip_binary(model)
            if pruner is not None:
                pruner.step()
            step += 1
            loss_sum += float(loss.detach()) * len(y)
            correct += int((outputs.detach().argmax(1) == y).sum())
            seen += len(y)
        held_out = ("val", lambda: evaluate(model, val_loader)["accuracy"]) if val_loader is not None else None
        close_epoch(history, epoch, epochs, label, loss_sum, correct, seen, t0, pruner, held_out, progress)
    model.eval()
    return history
