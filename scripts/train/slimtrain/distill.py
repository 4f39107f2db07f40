"""Knowledge distillation (Hinton et al. 2015): soft-target loss at temperature T, teacher logits, the class-bias fix."""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

from .loop import LossFn, evaluate, predict
from .models import SlimNet


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor | None,
                      temperature: float, alpha: float) -> torch.Tensor:
    """alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(s, y).
    The T^2 keeps the soft-target gradients at the same scale as the hard ones when T changes."""
    t = temperature
    soft = F.kl_div(F.log_softmax(student_logits / t, dim=1), F.softmax(teacher_logits / t, dim=1),
                    reduction="batchmean")
    loss = alpha * t * t * soft
    if alpha < 1 and labels is not None:
        loss = loss + (1 - alpha) * F.cross_entropy(student_logits, labels)
    return loss


def make_distill_loss(teacher_logits: torch.Tensor, temperature: float, alpha: float) -> LossFn:
    """Teacher logits are precomputed for the whole transfer set (a checkpoint or the API); idx selects the batch's rows."""

    def loss(logits: torch.Tensor, y: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        return distillation_loss(logits, teacher_logits[idx], y, temperature, alpha)

    return loss


def teacher_logits_from_model(teacher: SlimNet, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    return predict(teacher, x, batch_size)


@contextlib.contextmanager
def with_class_bias(model: SlimNet, cls: int | list[int], delta: float):
    """The classifier's bias for `cls` (one class or several) raised by delta inside the block (Hinton's fix for
    classes the transfer set lacked)."""
    bias = model.classifier().bias
    index = torch.tensor(_classes(cls), device=bias.device)
    with torch.no_grad():
        bias[index] += delta
    try:
        yield model
    finally:
        with torch.no_grad():
            bias[index] -= delta


def _classes(cls: int | list[int]) -> list[int]:
    return [cls] if isinstance(cls, int) else list(cls)


def choose_bias(model: SlimNet, cls: int | list[int], x_val: torch.Tensor, y_val: torch.Tensor,
                grid: list[float] | None = None) -> tuple[float, list[dict]]:
    """The bias raise for `cls` (one class or several, raised together) with the fewest validation errors (ties: the
    smallest raise)."""
    grid = grid if grid is not None else [i * 0.25 for i in range(0, 61)]
    classes = _classes(cls)
    logits = predict(model, x_val)
    in_classes = torch.isin(y_val, torch.tensor(classes, dtype=y_val.dtype))
    trace = []
    for d in grid:
        shifted = logits.clone()
        shifted[:, classes] += d
        pred = shifted.argmax(1)
        trace.append({"delta": d, "errors": int((pred != y_val).sum()), "errors_on_class": int(((pred != y_val) & in_classes).sum())})
    best = min(trace, key=lambda r: (r["errors"], r["delta"]))
    return best["delta"], trace


def evaluate_with_bias(model: SlimNet, cls: int | list[int], delta: float, x: torch.Tensor, y: torch.Tensor) -> dict:
    """Test errors with `cls`'s bias raised by delta: overall, and on the examples of `cls` (all of its classes)."""
    classes = _classes(cls)
    with with_class_bias(model, classes, delta):
        r = evaluate(model, x, y)
    return {"delta": delta, "errors": r["errors"], "errors_on_class": sum(r["errors_per_class"].get(c, 0) for c in classes),
            "accuracy": r["accuracy"], "n": r["n"], "n_class": int(torch.isin(y, torch.tensor(classes, dtype=y.dtype)).sum())}
