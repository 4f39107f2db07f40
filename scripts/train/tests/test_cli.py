"""Command-line surface: subcommands, device detection, an MNIST subset run, results files."""
import subprocess
import sys

import pytest
import torch

from conftest import TRAIN_DIR
from helpers import assert_learns
from slimtrain.cli import build_parser
from slimtrain.loop import resolve_device


def test_help_lists_every_subcommand():
    out = subprocess.run([sys.executable, str(TRAIN_DIR / "train.py"), "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for cmd in ["train", "distill", "qat", "prune", "reference", "experiment"]:
        assert cmd in out.stdout


def test_usual_flags_have_their_defaults():
    args = build_parser().parse_args(["train"])
    assert (args.device, args.batch_size, args.lr, args.seed, args.opset) == ("auto", 128, 1e-3, 0, 13)


def test_device_auto_picks_cuda_only_when_available():
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit, match="cuda"):
            resolve_device("cuda")


def test_train_on_a_tiny_mnist_subset_writes_checkpoint_onnx_and_results(run_cli):
    res = run_cli("train", "--dataset", "mnist", "--train-limit", "3000", "--test-limit", "500", "--arch", "mnist-mlp",
                  "--epochs", "3", "--no-progress")
    assert res["dataset"] == {"name": "mnist", "train": 3000, "test": 500, "classes": 10}
    assert_learns(res, 0.8)
    assert res["export"]["bytes"] > 400_000 and len(res["export"]["sha256"]) == 64
