#!/bin/sh
# One short CUDA check for a GPU machine (torch 2.x + CUDA): trains a few steps on the GPU, exports, and runs the
# export in onnxruntime-node. Writes results under ${OUT:-/tmp/slimtrain-gpu}. Run from the repository root.
set -eu
PY=${PYTHON:-python3}
OUT=${OUT:-/tmp/slimtrain-gpu}
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available()); assert torch.cuda.is_available()"
$PY scripts/train/train.py qat --device cuda --dataset mnist --train-limit 5000 --test-limit 1000 --arch cnn \
  --bits 4 --act-bits 8 --epochs 1 --out "$OUT/qat-w4a8"
$PY scripts/train/train.py prune --device cuda --dataset digits --final-sparsity 0.8 --epochs 3 --qat-bits 1 \
  --out "$OUT/prune-binary"
$PY - "$OUT" <<'PY'
import json, sys
for run in ("qat-w4a8", "prune-binary"):
    r = json.load(open(f"{sys.argv[1]}/{run}/results.json"))
    print(run, r["environment"]["device"], r["environment"]["torch"], "accuracy", round(r["final"]["accuracy"], 4))
    assert r["environment"]["device"] == "cuda"
PY
$PY -c "import numpy as np; np.save('$OUT/x.npy', np.zeros((2, 1, 28, 28), np.float32))"
node scripts/train/tests/ort_run.mjs "$OUT/qat-w4a8/model.onnx" "input=$OUT/x.npy" | head -c 300; echo
