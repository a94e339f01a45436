#!/usr/bin/env python3
"""Cross-check against the PyTorch baseline (benches/baselines/torch_score_fno.py).

Writes FILE (safetensors): the baseline's randomly initialised ScoreFNO
(width 8, modes 4, 2 layers, embed 16, fc 16) in our checkpoint layout
(complex weights as [..., 2]), inputs x, w [B, n, n], s [B, 16, 16], t [B]
and the baseline's output `out` = fc2 output (score * sigma(t)), in float32.
Then `DIFFCLOSURE_TORCH_CHECK=FILE cargo test --test suite -- --ignored
matches_pytorch_baseline` runs the same network on the GPU and compares.

Usage: python3 scripts/torch_crosscheck.py FILE [--baselines DIR]
"""
import argparse
import os
import sys

import numpy as np
import torch
from safetensors.numpy import save_file

ap = argparse.ArgumentParser()
ap.add_argument("out")
# Resolved from this file, so the script runs from any directory.
ap.add_argument("--baselines",
                default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benches", "baselines"))
a = ap.parse_args()
sys.path.insert(0, a.baselines)
from torch_score_fno import ScoreFNO, marginal_std  # noqa: E402

torch.manual_seed(0)
cfg = dict(width=8, modes=4, embed_dim=16, n_layers=2, fc_hidden=16)
model = ScoreFNO(**cfg).eval()
b, n, s = 2, 32, 16
g = torch.Generator().manual_seed(1)
x = torch.randn(b, n, n, generator=g, dtype=torch.float32)
w = torch.randn(b, n, n, generator=g, dtype=torch.float32)
obs = torch.randn(b, s, s, generator=g, dtype=torch.float32)
t = torch.tensor([0.05, 0.7], dtype=torch.float32)
with torch.no_grad():
    out = model(x, w, obs, t) * marginal_std(t)[:, None, None]
tensors = {}
for k, v in list(model.state_dict().items()):
    v = v.detach()
    if v.is_complex():
        v = torch.stack([v.real, v.imag], dim=-1)
    tensors[k] = v.numpy().astype(np.float32)
for k, v in dict(x=x, w=w, s=obs, t=t, out=out).items():
    tensors["input." + k if k != "out" else "expected.out"] = v.numpy().astype(np.float32)
meta = {"format": "diffclosure.score.v1", "score.width": "8", "score.modes": "4",
        "score.layers": "2", "score.embed_dim": "16", "score.fc_hidden": "16",
        "score.vorticity": "true", "score.sparse": "true"}
save_file(tensors, a.out, metadata=meta)
print(f"wrote {a.out}: {len(tensors)} tensors, max |out| = {out.abs().max():.3f}")
