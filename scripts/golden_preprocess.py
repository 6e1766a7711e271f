#!/usr/bin/python3
"""Golden references for the preprocessing (spec section 2), computed with
scipy / sklearn / numpy independently of the C code.

Rerun from the project root (needs numpy, scipy, sklearn: use /usr/bin/python3):

    /usr/bin/python3 scripts/golden_preprocess.py [PTBXL_DIR]

PTBXL_DIR defaults to ../shared/data/ptbxl. Writes tests/golden/preprocess.json:
  butter      scipy.signal.butter(order, cutoff, 'highpass', fs=fs) -> b, a;
              scipy.signal.lfilter_zi(b, a) -> zi, and zi_exact: the exact rational solution
              (fractions.Fraction Gaussian elimination) of the same linear system
              (I - companion(a).T) zi = b[1:] - a[1:]*b[0] for the double b, a, rounded to
              double. At high orders and low cutoffs the system is ill-conditioned and
              LAPACK's zi differs from the exact one (order 8 at 0.5 Hz: ~1e-2 relative).
  filtfilt    scipy.signal.filtfilt(b, a, x) on synthetic float32-representable x
  filtfilt_exact_zi  scipy's filtfilt steps (odd_ext + lfilter forward/backward) with
              zi_exact instead of lfilter_zi, for orders 3..8 at 0.5 Hz where they differ
  standardize numpy mean / population std per lead of a synthetic (n, leads, samples)
              array (one constant lead -> std 1)
  class_weights  numpy counts and w_c = (T - n_c)/n_c (0 when n_c = 0) on synthetic labels
  real        PTB-XL records: int16 .dat / 1000 (float32) -> filtfilt (order 1, 0.5 Hz,
              fs 100, in float64) -> sklearn StandardScaler fitted on the filtered signals
              of the first 50 training records (strat_fold 1-8) reshaped to (50*1000, 12).
              Full output for the first two records, every STRIDE-th sample for the others.
"""
import csv
import json
import os
import sys

from fractions import Fraction

import numpy as np
import scipy.signal as ss
from scipy.signal._arraytools import odd_ext
from sklearn.preprocessing import StandardScaler

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "golden", "preprocess.json")
REAL_IDS = [1, 2, 17, 2000, 2045]  # 17: fold 9, 2045: fold 10, 2000: a rebuilt 100 Hz record
N_TRAIN = 50
STRIDE = 7
FULL = 2


def r8(v):
    """Round to 9 significant digits (plenty for a 1e-5 comparison; keeps the file small)."""
    return [float(f"{x:.9g}") for x in np.asarray(v, dtype=np.float64).ravel()]


def exact_zi(b, a):
    """Exact solution of lfilter_zi's system for the double coefficients b, a."""
    b = [Fraction(float(v)) for v in b]
    a = [Fraction(float(v)) for v in a]
    K = len(a) - 1
    # M = I - companion(a).T ; companion(a)[0] = -a[1:], ones on the subdiagonal
    M = [[Fraction(int(i == j)) - (-a[i + 1] if j == 0 else Fraction(int(j == i + 1)))
          for j in range(K)] + [b[i + 1] - a[i + 1] * b[0]] for i in range(K)]
    for c in range(K):
        piv = next(r for r in range(c, K) if M[r][c] != 0)
        M[c], M[piv] = M[piv], M[c]
        for r in range(K):
            if r != c and M[r][c] != 0:
                l = M[r][c] / M[c][c]
                M[r] = [M[r][j] - l * M[c][j] for j in range(K + 1)]
    return np.array([float(M[i][K] / M[i][i]) for i in range(K)])


def filtfilt_with_zi(b, a, x, zi):
    """scipy.signal.filtfilt's default 'pad' method, step by step, with a given zi."""
    edge = 3 * max(len(a), len(b))
    ext = odd_ext(x, edge)
    y, _ = ss.lfilter(b, a, ext, zi=zi * ext[0])
    y, _ = ss.lfilter(b, a, y[::-1], zi=zi * y[-1])
    return y[::-1][edge:-edge]


def read_record(ptbxl, fname):
    raw = np.fromfile(os.path.join(ptbxl, fname + ".dat"), dtype="<i2")
    assert raw.size == 12 * 1000, fname
    # interleaved (1000, 12) -> (12, 1000), mV as float32 like the C loader
    return (raw.reshape(1000, 12).T.astype(np.float32) / np.float32(1000)).astype(np.float32)


def main():
    default = os.path.join(ROOT, "..", "shared", "data", "ptbxl")
    ptbxl = sys.argv[1] if len(sys.argv) > 1 else default
    rng = np.random.default_rng(20240601)
    g = {}

    # -- butter + lfilter_zi
    settings = [(o, 0.5, 100.0) for o in range(1, 9)] + [(2, 1.0, 500.0), (3, 40.0, 100.0),
                                                          (5, 0.05, 1.0)]
    g["butter"] = []
    for order, cutoff, fs in settings:
        b, a = ss.butter(order, cutoff, btype="highpass", fs=fs)
        zi = ss.lfilter_zi(b, a)
        g["butter"].append({"order": order, "cutoff": cutoff, "fs": fs, "b": b.tolist(),
                            "a": a.tolist(), "zi": zi.tolist(),
                            "zi_exact": exact_zi(b, a).tolist()})

    # -- filtfilt on synthetic signals (x exactly representable in float32)
    g["filtfilt"] = []
    for order, cutoff, fs, n in [(1, 0.5, 100.0, 50), (1, 0.5, 100.0, 1000), (2, 0.5, 100.0, 50),
                                 (2, 0.5, 100.0, 1000), (1, 0.5, 100.0, 7), (2, 1.0, 500.0, 300),
                                 (4, 5.0, 100.0, 200)]:
        t = np.arange(n)
        x = rng.normal(size=n) + 2.0 * np.sin(2 * np.pi * t / 400.0) + 0.7
        x = x.astype(np.float32).astype(np.float64)
        b, a = ss.butter(order, cutoff, btype="highpass", fs=fs)
        y = ss.filtfilt(b, a, x)
        g["filtfilt"].append({"order": order, "cutoff": cutoff, "fs": fs, "b": b.tolist(),
                              "a": a.tolist(), "x": x.tolist(), "y": y.tolist()})

    # -- filtfilt with the exact zi at high orders (checks the helper equals scipy first)
    x = (rng.normal(size=1000) + 1.5).astype(np.float32).astype(np.float64)
    for order in (1, 2):
        b, a = ss.butter(order, 0.5, btype="highpass", fs=100.0)
        assert np.allclose(filtfilt_with_zi(b, a, x, ss.lfilter_zi(b, a)), ss.filtfilt(b, a, x),
                           rtol=0, atol=1e-14)
    g["filtfilt_exact_zi"] = []
    for order in (3, 6, 8):
        b, a = ss.butter(order, 0.5, btype="highpass", fs=100.0)
        y = filtfilt_with_zi(b, a, x, exact_zi(b, a))
        g["filtfilt_exact_zi"].append({"order": order, "cutoff": 0.5, "fs": 100.0,
                                       "b": b.tolist(), "a": a.tolist(), "x": x.tolist(),
                                       "y": y.tolist()})

    # -- standardization on synthetic data (lead 2 constant)
    n, leads, samples = 3, 4, 50
    x = (rng.normal(size=(n, leads, samples)) * np.array([1, 0.2, 0, 5])[None, :, None]
         + np.array([0.1, -3, 1.25, 40])[None, :, None]).astype(np.float32)
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=(0, 2))
    std = x64.std(axis=(0, 2))
    std[std == 0] = 1.0
    g["standardize"] = {"n": n, "leads": leads, "samples": samples, "x": x64.ravel().tolist(),
                        "mean": mean.tolist(), "std": std.tolist(),
                        "y": ((x64 - mean[None, :, None]) / std[None, :, None]).ravel().tolist()}

    # -- class weights on synthetic labels (class 3 never positive)
    n, C = 200, 6
    p = np.array([0.5, 0.1, 0.02, 0.0, 0.3, 0.05])
    labels = (rng.random((n, C)) < p[None, :]).astype(np.uint8)
    counts = labels.sum(axis=0).astype(np.int64)
    T = counts.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(counts > 0, (T - counts) / np.maximum(counts, 1), 0.0)
    g["class_weights"] = {"n": n, "C": C, "labels": labels.ravel().tolist(),
                          "counts": counts.tolist(), "weights": w.tolist(),
                          "n_empty": int((counts == 0).sum())}

    # -- real PTB-XL records
    csv_path = os.path.join(ptbxl, "ptbxl_database.csv")
    if not os.path.exists(csv_path):
        sys.exit(f"{csv_path} not found: pass the PTB-XL directory as the first argument")
    with open(csv_path, newline="") as fh:
        rows = {int(r["ecg_id"]): r for r in csv.DictReader(fh)}
    train_ids = [i for i in sorted(rows) if 1 <= int(rows[i]["strat_fold"]) <= 8][:N_TRAIN]
    b, a = ss.butter(1, 0.5, btype="highpass", fs=100.0)

    def filtered(i):
        return ss.filtfilt(b, a, read_record(ptbxl, rows[i]["filename_lr"]).astype(np.float64),
                           axis=1)

    train = np.stack([filtered(i) for i in train_ids])  # (N, 12, 1000)
    scaler = StandardScaler().fit(train.transpose(0, 2, 1).reshape(-1, 12))
    recs = []
    for k, i in enumerate(REAL_IDS):
        y = scaler.transform(filtered(i).T).T  # (12, 1000)
        stride = 1 if k < FULL else STRIDE
        recs.append({"ecg_id": i, "filename_lr": rows[i]["filename_lr"], "stride": stride,
                     "y": r8(y[:, ::stride])})
    g["real"] = {"order": 1, "cutoff": 0.5, "fs": 100.0, "train_ids": train_ids,
                 "mean": scaler.mean_.tolist(), "std": scaler.scale_.tolist(), "records": recs}

    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as fh:
        json.dump(g, fh, separators=(",", ":"))
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
