"""Training and evaluation loops: device choice, seeding, per-epoch progress bars, pruning and QAT hooks."""
from __future__ import annotations

import math
import os
import random
import sys
import time
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .models import SlimNet
from .prune import AGPSchedule, Pruner

try:
    from tqdm import tqdm
except ImportError:  # progress bars are a nicety, not a dependency
    tqdm = None


def resolve_device(name: str = "auto") -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda requested but torch.cuda.is_available() is False")
    if name not in ("cpu", "cuda"):
        raise SystemExit(f"--device must be auto, cuda or cpu, not {name}")
    return name


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def set_threads(threads: int | None) -> None:
    torch.set_num_threads(threads or os.cpu_count() or 1)


@torch.no_grad()
def predict(model: SlimNet, x: torch.Tensor, batch_size: int = 1000, device: str | None = None) -> torch.Tensor:
    """Logits for x (any dataset image tensor), on CPU."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = [model(model.shape_input(x[i : i + batch_size].to(device))).float().cpu() for i in range(0, len(x), batch_size)]
    model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0)


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return float((logits.argmax(1) == y.cpu()).float().mean())


def evaluate(model: SlimNet, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> dict:
    logits = predict(model, x, batch_size)
    pred = logits.argmax(1)
    errors = int((pred != y).sum())
    per_class = {int(c): int(((pred != y) & (y == c)).sum()) for c in torch.unique(y)}
    return {"accuracy": 1 - errors / len(y), "errors": errors, "n": len(y), "errors_per_class": per_class}


@torch.no_grad()
def apply_masks(model: SlimNet) -> None:
    """Keeps pruned latent weights at zero after each optimizer step (Adam's momentum would otherwise move them)."""
    for _, l in model.weighted_layers():
        if l.weight_mask is not None:
            l.weight.mul_(l.weight_mask)
        if l.bias_mask is not None:
            l.bias.mul_(l.bias_mask)


# loss(logits, labels, batch_indices) -> scalar; batch_indices index the training set (for precomputed teacher logits).
LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def cross_entropy(logits: torch.Tensor, y: torch.Tensor, _idx: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, y)


def fit(model: SlimNet, x: torch.Tensor, y: torch.Tensor, *, epochs: int, batch_size: int, lr: float,
        device: str, seed: int = 0, loss_fn: LossFn = cross_entropy, x_test: torch.Tensor | None = None,
        y_test: torch.Tensor | None = None, pruner: Pruner | None = None, schedule: AGPSchedule | None = None,
        weight_decay: float = 0.0, cosine: bool = True, progress: bool = True, label: str = "train",
        on_step: Callable[[float], None] | None = None) -> list[dict]:
    """Adam with a per-step cosine learning-rate decay. Data lives on the device for the whole run (small datasets),
    so batches are index slices: the same code is fast on CPU and CUDA."""
    model.to(device).train()
    x, y = x.to(device), y.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    n = len(y)
    steps_per_epoch = math.ceil(n / batch_size)
    total = max(1, epochs * steps_per_epoch)
    binary_layers = [l for _, l in model.weighted_layers() if l.weight_bits == 1]
    gen = torch.Generator().manual_seed(seed)
    history, step = [], 0
    for epoch in range(epochs):
        t0 = time.time()
        perm = torch.randperm(n, generator=gen).to(device)
        bar = range(steps_per_epoch)
        use_bar = progress and tqdm is not None and sys.stderr.isatty()  # logs get one line per epoch instead
        if use_bar:
            bar = tqdm(bar, desc=f"{label} epoch {epoch + 1}/{epochs}", file=sys.stderr, leave=False, dynamic_ncols=True)
        loss_sum, correct = 0.0, 0
        for b in bar:
            if pruner is not None and schedule is not None:
                target = schedule.target_at(step)
                if target is not None and target > pruner.sparsity:
                    pruner.prune_to(target)
            if cosine:
                for g in opt.param_groups:
                    g["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / total))
            if on_step is not None:
                on_step(step / total)  # the fraction of training done (a schedule, e.g. a soft quantizer's temperature)
            idx = perm[b * batch_size : (b + 1) * batch_size]
            xb, yb = model.shape_input(x[idx]), y[idx]
            logits = model(xb)
            loss = loss_fn(logits, yb, idx)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            apply_masks(model)
            for l in binary_layers:
                # BinaryConnect keeps the real-valued latent weights in [-1, 1], where the hard-tanh STE passes gradient.
                l.weight.data.clamp_(-1, 1)
            step += 1
            loss_sum += float(loss.detach()) * len(idx)
            correct += int((logits.detach().argmax(1) == yb).sum())
            if use_bar and b % 20 == 0:
                bar.set_postfix(loss=f"{float(loss.detach()):.4f}")
        held_out = None
        if x_test is not None and y_test is not None:
            held_out = ("test", lambda: evaluate(model, x_test, y_test)["accuracy"])
        close_epoch(history, epoch, epochs, label, loss_sum, correct, n, t0, pruner, held_out, progress)
    model.eval()
    return history


def close_epoch(history: list, epoch: int, epochs: int, label: str, loss_sum: float, correct: int, seen: int,
                t0: float, pruner, held_out, progress: bool) -> None:
    """Appends one epoch's record (mean loss, train accuracy, seconds, the pruner's sparsity, and the accuracy on
    `held_out` = (split name, accuracy function) as "<split>_accuracy") and prints it when progress is on."""
    record = {"epoch": epoch + 1, "loss": loss_sum / max(1, seen), "train_accuracy": correct / max(1, seen),
              "seconds": round(time.time() - t0, 2)}
    if pruner is not None:
        record["sparsity"] = pruner.report()["sparsity"]
    extra = ""
    if held_out is not None:
        split, accuracy = held_out
        record[f"{split}_accuracy"] = accuracy()
        extra = f" {split}_acc {record[f'{split}_accuracy']:.4f}"
    history.append(record)
    if progress:
        print(f"[{label}] epoch {epoch + 1}/{epochs} loss {record['loss']:.4f} "
              f"train_acc {record['train_accuracy']:.4f}{extra} ({record['seconds']}s)", file=sys.stderr)
