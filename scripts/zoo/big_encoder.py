#!/usr/bin/python3
"""Big transformer encoders for the big-model benchmark: models of the size users most want at the edge and that do
not fit a Worker as FP32, exported by torch.onnx as the zoo's transformer is (token and position embeddings, a
post-norm GELU nn.TransformerEncoder, every layer its own weights, a final norm). Seeded: the same torch build writes
the same bytes. Not committed: the benchmark writes them under .cache/big-models/.

Usage: /usr/bin/python3 scripts/zoo/big_encoder.py --preset encoder-75m|encoder-33m|encoder-23m --out FILE

Presets (FP32 file size): encoder-75m 10 layers of d 768 (~300 MB, near a BERT-base encoder), encoder-33m 10 layers
of d 512 (~145 MB), encoder-23m 6 layers of d 512 (~92 MB, under the 100 MB a single request may carry).
"""
import argparse
import os
import sys
import time
import warnings

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zoo import export_torch  # noqa: E402

PRESETS = {
    "encoder-75m": dict(d=768, heads=12, ffn=3072, layers=10, vocab=4096, max_seq=512),
    "encoder-33m": dict(d=512, heads=8, ffn=2048, layers=10, vocab=8192, max_seq=512),
    "encoder-23m": dict(d=512, heads=8, ffn=2048, layers=6, vocab=8192, max_seq=512),
}
SEED = 20261203


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.tokens = nn.Embedding(c["vocab"], c["d"])
        nn.init.normal_(self.tokens.weight, std=0.02)
        self.positions = nn.Parameter(torch.randn(c["max_seq"], c["d"]) * 0.02)
        self.encoder = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(c["d"], c["heads"], c["ffn"], dropout=0.0, activation="gelu", batch_first=True),
            c["layers"], enable_nested_tensor=False)
        # nn.TransformerEncoder deep-copies one layer: give each its own values, as a trained model has.
        for layer in self.encoder.layers:
            for p in layer.parameters():
                if p.dim() > 1:
                    nn.init.xavier_uniform_(p)
                else:
                    nn.init.normal_(p, std=0.02)
        self.norm = nn.LayerNorm(c["d"])

    def forward(self, ids):
        return self.norm(self.encoder(self.tokens(ids) + self.positions[: ids.shape[1]]))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", choices=sorted(PRESETS), required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    warnings.filterwarnings("ignore")
    start = time.time()
    model = Encoder(PRESETS[a.preset]).eval()
    ids = torch.randint(0, PRESETS[a.preset]["vocab"], (1, 16), dtype=torch.int64)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    tmp = a.out + ".partial"
    # With gradients enabled nn.TransformerEncoder keeps off its fused fast path, which does not export.
    with torch.set_grad_enabled(True):
        export_torch(model, (ids,), tmp, ["ids"], ["hidden"],
                     {"ids": {0: "batch", 1: "sequence"}, "hidden": {0: "batch", 1: "sequence"}}, opset=14)
    os.replace(tmp, a.out)
    params = sum(p.numel() for p in model.parameters())
    print(f"{a.preset}: {os.path.getsize(a.out) / 1e6:.1f} MB, {params} parameters, {time.time() - start:.1f} s",
          file=sys.stderr)


if __name__ == "__main__":
    main()
