#!/usr/bin/python3
"""The PyTorch counterpart of a `protoecg train` run, for its peak memory: the same data
and network trained the usual PyTorch way, on the CPU.

Reads the PTB-XL records (WFDB format 16, 12 leads x 1000 samples at 100 Hz, gain 1000)
and labels from ptbxl_database.csv, applies the 0.5 Hz order-1 Butterworth high-pass
forward and backward (scipy filtfilt) and the per-lead standardization fitted on the
training folds 1-8, holds all records in memory as float32 (as a PyTorch Dataset over
numpy arrays does), then trains the full-size ProtoNet (scripts/torch_model.py: ResNet-18,
add-on, 80 prototypes) with Adam at batch 32 on BCE + the prototype terms of
bench/torch_bench.py for --epochs epochs over the training folds, scoring the validation
fold after each. Prints (and with --json writes) the peak resident memory of the process
(getrusage ru_maxrss) and the wall time.

  /usr/bin/python3 bench/torch_train_memory.py --ptbxl DIR [--epochs 1] [--threads 2]
      [--bf16] [--json FILE]
"""
import argparse
import ast
import csv
import json
import os
import resource
import sys
import time

import numpy as np
import scipy.signal
import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "scripts"))
sys.path.insert(0, here)
import torch_model  # noqa: E402
from torch_bench import autocast, train_loss  # noqa: E402


def load(root):
    with open(os.path.join(root, "ptbxl_database.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    x = np.empty((len(rows), 12, 1000), np.float32)
    y = np.zeros((len(rows), len(torch_model.CLASS_NAMES)), np.float32)
    fold = np.empty(len(rows), np.int64)
    b, a = scipy.signal.butter(1, 0.5, btype="highpass", fs=100)
    for i, r in enumerate(rows):
        raw = np.fromfile(os.path.join(root, r["filename_lr"] + ".dat"), dtype="<i2")
        if raw.size != 12000:
            sys.exit(f"torch_train_memory: {r['filename_lr']}.dat: {raw.size} samples, not 12000")
        x[i] = scipy.signal.filtfilt(b, a, raw.reshape(1000, 12).T / 1000.0, axis=1)
        codes = ast.literal_eval(r["scp_codes"])
        y[i] = [c in codes for c in torch_model.CLASS_NAMES]
        fold[i] = int(float(r["strat_fold"]))
    train = fold <= 8
    mean = x[train].mean(axis=(0, 2), keepdims=True)
    std = x[train].std(axis=(0, 2), keepdims=True)
    x -= mean
    x /= std
    return x, y, fold


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ptbxl", required=True)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bf16", action="store_true")
    ap.add_argument("--json")
    a = ap.parse_args()
    torch.manual_seed(42)
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    x, y, fold = load(a.ptbxl)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    tr = torch.from_numpy(np.flatnonzero(fold <= 8))
    va = torch.from_numpy(np.flatnonzero(fold == 9))
    model = torch_model.ProtoNet()
    opt = torch.optim.Adam([p for n, p in model.named_parameters() if n != "classifier.weight"],
                           lr=1e-3)
    model.classifier.weight.requires_grad_(False)
    for epoch in range(a.epochs):
        model.train()
        order = tr[torch.randperm(len(tr))]
        for i in range(0, len(order) - 1, 32):
            idx = order[i:i + 32]
            opt.zero_grad(set_to_none=True)
            with autocast(a.bf16):
                loss = train_loss(model, xt[idx], yt[idx])
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad(), autocast(a.bf16):
            val = torch.cat([model(xt[va[i:i + 256]])[0].float() for i in range(0, len(va), 256)])
        print(f"epoch {epoch + 1}: last batch loss {loss.item():.4f}, val logits {tuple(val.shape)}",
              file=sys.stderr)
    out = {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
           "seconds": time.perf_counter() - t0, "records": len(x), "train_records": len(tr),
           "epochs": a.epochs, "threads": a.threads, "bf16": a.bf16, "torch": torch.__version__}
    print(json.dumps(out))
    if a.json:  # written whole or not at all (temp file + rename)
        with open(a.json + ".tmp", "w") as f:
            json.dump(out, f, indent=2)
        os.replace(a.json + ".tmp", a.json)


if __name__ == "__main__":
    main()
