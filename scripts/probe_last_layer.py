#!/usr/bin/python3
"""Probe of a trained prototype model's last layer (docs/results/tuning, session 4):
how much of the validation macro-AUROC a linear read-out of the model's own 80
similarities can reach, against the model's trained last layer.

For each RUNDIR (with cache.bin and model.safetensors of `protoecg train`), computes the
similarities of every record in PyTorch (scripts/torch_model.py, the model's own
standardization), fits per class an L2-regularized logistic regression without intercept
(sklearn, positives weighted by the spec's class weight) on the training fold, and prints
validation macro-AUROC (validation only: the tool is for choosing, not for testing).
    /usr/bin/python3 scripts/probe_last_layer.py RUNDIR...
"""
import json
import os
import struct
import sys
import warnings

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np  # noqa: E402
import torch_model  # noqa: E402

warnings.filterwarnings("ignore")


def read_cache(path):
    """docs/formats.md: header, then ecg_id, fold, labels, signals (filtered, raw scale
    unless the header says standardized)."""
    raw = open(path, "rb").read()
    assert raw[:8] == b"PECGCACH", f"{path}: not a protoecg cache"
    _, n, L, S, C, stdz, _ = struct.unpack_from("<7I", raw, 8)
    off = 8 + 28 + 8 + 4 + 8 + 16 * 16 + 48 + 48  # ... floats, pad, hash, names, mean, std
    off += -off % 8
    o_id, o_fold, o_lab, o_sig, _ = struct.unpack_from("<5Q", raw, off)
    fold = np.frombuffer(raw, "<i4", n, o_fold)
    lab = np.frombuffer(raw, "u1", n * C, o_lab).reshape(n, C)
    sig = np.frombuffer(raw, "<f4", n * L * S, o_sig).reshape(n, L, S)
    return fold, lab, sig, stdz


def macro(y, scores):
    ok = [c for c in range(y.shape[1]) if 0 < y[:, c].sum() < len(y)]
    return roc_auc_score(y[:, ok], scores[:, ok], average="macro")


def probe(run):
    fold, lab, sig, stdz = read_cache(os.path.join(run, "cache.bin"))
    tensors, meta = safetensors_np.load(os.path.join(run, "model.safetensors"))
    pre = json.loads(meta["preprocessing"])
    x = sig.astype(np.float32)
    if not stdz:
        mean = np.array(pre["mean"], np.float32)[None, :, None]
        std = np.array(pre["std"], np.float32)[None, :, None]
        x = (x - mean) / std
    net = json.loads(meta["network"])
    m = torch_model.ProtoNet(net["base_width"], net["latent_dim"], net["protos_per_class"])
    m.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=False)
    m.eval()
    sims, logits = [], []
    with torch.no_grad():
        for i in range(0, len(x), 128):
            o = m.forward_all(torch.from_numpy(x[i:i + 128]))
            sims.append(o["similarities"].double().numpy())
            logits.append(o["logits"].numpy())
    S, logits = np.concatenate(sims), np.concatenate(logits)
    tr, va = fold <= 8, fold == 9
    n = lab[tr].sum(0).astype(float)
    w = np.where(n > 0, (n.sum() - n) / np.maximum(n, 1), 0.0)
    line = [f"{run}: model {macro(lab[va], logits[va]):.4f}"]
    for Creg in (1, 10, 100, 1e4):
        out = np.zeros((len(S), lab.shape[1]))
        for c in range(lab.shape[1]):
            y = lab[tr][:, c]
            if 0 < y.sum() < len(y):
                lr = LogisticRegression(C=Creg, max_iter=20000, fit_intercept=False, tol=1e-8)
                lr.fit(S[tr], y, sample_weight=np.where(y == 1, w[c], 1.0))
                out[:, c] = lr.decision_function(S)
        line.append(f"probe C={Creg:g} {macro(lab[va], out[va]):.4f}")
    print(", ".join(line), "(validation macro-AUROC)", flush=True)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    torch.set_num_threads(1)
    for r in sys.argv[1:]:
        probe(r)
