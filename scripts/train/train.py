#!/usr/bin/env python3
"""Entry point: /usr/bin/python3 scripts/train/train.py {train,distill,qat,prune,reference,experiment} --help"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from slimtrain.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
