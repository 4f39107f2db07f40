"""The subcommands on user code: `--model pkg.module:factory`, `--data pkg.module:loaders`, `--teacher ...`.

A factory returns the nn.Module (keyword arguments from `--model-args JSON`; it may load the user's own checkpoint);
the loaders function returns (train_loader, val_loader) of `(inputs, labels)` batches (`--data-args JSON`). Each
subcommand then runs the Python API (quantize_aware, prune_gradually, distill, fit, export, upload) with the usual
flags and writes DIR/model.pt (state_dict + the Slim layer settings), DIR/model.onnx and DIR/results.json.
A spec is `package.module:name` (importable from the working directory or sys.path) or `path/to/file.py:name`.
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
from pathlib import Path

import torch

from .layers import quantize_aware, restore_slim, slim_state
from .models import _torch_load
from .onnx_export import export
from .sparsity import AGP, prune_gradually
from .teachers import EndpointTeacher, OnnxTeacher, distill
from .training import evaluate, fit
from .run_output import finish_run

CHECKPOINT_FORMAT = "slimtrain/module-1"


def load_object(spec: str):
    """`package.module:name` or `path/to/file.py:name` → the object."""
    if ":" not in spec:
        raise SystemExit(f"{spec!r}: expected package.module:name or path/to/file.py:name")
    target, name = spec.rsplit(":", 1)
    if target.endswith(".py") or os.sep in target:
        path = Path(target).resolve()
        mod_spec = importlib.util.spec_from_file_location(path.stem, path)
        if mod_spec is None or mod_spec.loader is None:
            raise SystemExit(f"cannot import {path}")
        module = importlib.util.module_from_spec(mod_spec)
        sys.modules.setdefault(path.stem, module)
        mod_spec.loader.exec_module(module)
    else:
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        module = importlib.import_module(target)
    try:
        return getattr(module, name)
    except AttributeError:
        raise SystemExit(f"{target} has no {name}") from None


def _kwargs(text: str | None) -> dict:
    value = json.loads(text) if text else {}
    if not isinstance(value, dict):
        raise SystemExit(f"expected a JSON object of keyword arguments, not {text}")
    return value


def save_checkpoint(model: torch.nn.Module, path: Path, extra: dict) -> None:
    # Settings travel as a JSON string so that torch.load(weights_only=True) reads the file.
    meta = {"slim": slim_state(model), **extra}
    torch.save({"format": CHECKPOINT_FORMAT, "meta": json.dumps(meta), "state_dict": model.state_dict()}, path)


def load_checkpoint_into(model: torch.nn.Module, path: str, device: str = "cpu") -> dict:
    """Restores a checkpoint written by save_checkpoint (masks and quantization settings included) into the
    freshly built model; returns its metadata."""
    ck = _torch_load(path, device)
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
        raise SystemExit(f"{path}: not a checkpoint of a user model (format {CHECKPOINT_FORMAT})")
    meta = json.loads(ck["meta"])
    restore_slim(model, meta["slim"])
    model.load_state_dict(ck["state_dict"])
    return meta


def _teacher(args, device: str):
    if args.teacher_url:
        if not args.teacher_model:
            raise SystemExit("--teacher-url needs --teacher-model ID")
        return EndpointTeacher(args.teacher_url, args.teacher_model, args.teacher_token, args.teacher_input,
                               args.teacher_batch, args.teacher_input_shape), {"url": args.teacher_url, "model": args.teacher_model}
    if not args.teacher:
        raise SystemExit("distill needs a teacher: --teacher pkg.module:factory | MODEL.onnx, or --teacher-url URL --teacher-model ID")
    if args.teacher.endswith(".onnx"):
        return OnnxTeacher(args.teacher), {"onnx": args.teacher}
    teacher = load_object(args.teacher)(**_kwargs(args.teacher_args))
    if args.teacher_init:
        load_checkpoint_into(teacher, args.teacher_init, device)
    return teacher.to(device).eval(), {"factory": args.teacher, "checkpoint": args.teacher_init}


def run(args, device: str, environment: dict) -> dict:
    """One subcommand (train, qat, prune, distill) on the user's model and data."""
    if not args.data:
        raise SystemExit("--model pkg.module:factory needs --data pkg.module:loaders")
    model = load_object(args.model)(**_kwargs(args.model_args))
    train_loader, val_loader = load_object(args.data)(**_kwargs(args.data_args))
    if args.init:
        load_checkpoint_into(model, args.init, device)
    model.to(device)
    first = next(iter(val_loader))[0]
    example = tuple(first) if isinstance(first, (tuple, list)) else (first,)
    exclude = args.exclude or []
    kw = {"epochs": args.epochs, "lr": args.lr, "device": device, "val_loader": val_loader,
          "weight_decay": args.weight_decay, "progress": not args.no_progress, "amp": args.amp}
    res = {"command": args.command, "args": {k: v for k, v in vars(args).items() if k not in ("token", "teacher_token")},
           "environment": environment, "model": args.model, "data": args.data,
           "initial": evaluate(model, val_loader), "history": []}
    recipe = {"method": args.command, "model": args.model, "epochs": args.epochs}
    if args.command == "train":
        res["history"] = fit(model, train_loader, label="train", **kw)
    elif args.command == "qat":
        quantize_aware(model, args.bits, args.act_bits, exclude)
        res["history"] = fit(model, train_loader, label=f"qat w{args.bits}a{args.act_bits}", **kw)
        recipe.update(bits=args.bits, act_bits=args.act_bits)
    elif args.command == "prune":
        warmup = args.warmup_epochs if args.warmup_epochs is not None else (0 if args.init else 1)
        if warmup:
            res["history"] += fit(model, train_loader, label="dense warmup", **{**kw, "epochs": warmup})
        res["dense"] = evaluate(model, val_loader)
        agp = AGP.over(args.final_sparsity, args.epochs * len(train_loader), args.prune_steps, args.ramp, args.initial_sparsity)
        pruner = prune_gradually(model, agp, args.mode, args.scope, exclude)
        res["history"] += fit(model, train_loader, pruner=pruner, label=f"prune {args.mode}", **kw)
        pruner.finish()
        res["pruning"] = pruner.report()
        res["pruned"] = evaluate(model, val_loader)
        recipe.update(prune=args.mode, sparsity=round(res["pruning"]["sparsity"], 4))
        if args.qat_bits:
            quantize_aware(model, args.qat_bits, args.act_bits, exclude)
            res["history"] += fit(model, train_loader, label=f"qat w{args.qat_bits}",
                                  **{**kw, "epochs": args.qat_epochs, "lr": args.qat_lr or args.lr})
            recipe.update(bits=args.qat_bits, act_bits=args.act_bits, qat_epochs=args.qat_epochs)
        res["final_sparsity"] = pruner.report()["sparsity"]
    elif args.command == "distill":
        teacher, res["teacher"] = _teacher(args, device)
        if isinstance(teacher, torch.nn.Module):
            res["teacher"]["val"] = evaluate(teacher, val_loader)
        res["history"] = distill(teacher, model, train_loader, args.temperature, args.alpha, **kw)
        recipe.update(temperature=args.temperature, alpha=args.alpha)
    else:
        raise SystemExit(f"{args.command} does not take --model")
    res["final"] = evaluate(model, val_loader)
    res["float_parameters"] = getattr(model, "slim_report", {}).get("float_parameters")
    recipe["accuracy"] = round(res["final"]["accuracy"], 4)
    recipe = {"trained": recipe}

    return finish_run(args, res, recipe,
                      lambda path: save_checkpoint(model, path, {"recipe": recipe, "model_args": _kwargs(args.model_args)}),
                      lambda path: export(model.cpu(), tuple(t.cpu() for t in example), path, opset=args.opset,
                                          metadata={"slimserve.recipe": recipe}),
                      "val")
