#!/usr/bin/python3
"""Golden values for src/eval/metrics.c from scikit-learn / numpy.

Writes tests/golden/metrics.json:
  binary:   single-class cases {name, y, scores, auc (null if sklearn says undefined)}
  roc:      roc_curve(drop_intermediate=False) points of one tied case
  multi:    an (N, C) multi-label case with undefined classes: per-class AUROC, macro
            AUROC over the defined columns, F1 at 0.5 and at given thresholds, and
            brute-force F1-maximising thresholds (rule in metrics.h)
  quantile: numpy percentiles of a vector with NaNs (ignored)
Scores are float32 (written exactly as doubles). Rerun: /usr/bin/python3 scripts/golden_metrics.py
"""
import json
import os

import numpy as np
from sklearn.metrics import f1_score, roc_auc_score, roc_curve

rng = np.random.default_rng(20240607)
OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "golden", "metrics.json")


def f32(a):
    return np.asarray(a, dtype=np.float32)


def auc_or_none(y, s):
    if y.min() == y.max():
        return None  # sklearn raises: only one class present
    return float(roc_auc_score(y, s))


def binary_case(name, y, s):
    y = np.asarray(y, dtype=np.uint8)
    s = f32(s)
    return {"name": name, "y": y.tolist(), "scores": [float(v) for v in s],
            "auc": auc_or_none(y, s)}


def correlated(n, prev, strength):
    y = (rng.random(n) < prev).astype(np.uint8)
    s = 1 / (1 + np.exp(-(strength * (y - 0.5) + rng.normal(size=n))))
    return y, f32(s)


binary = []
y, s = correlated(200, 0.3, 1.5)
binary.append(binary_case("random", y, s))
y, s = correlated(500, 0.1, 2.0)
binary.append(binary_case("random_rare", y, s))
y, s = correlated(300, 0.4, 1.0)
binary.append(binary_case("tied_1dec", y, np.round(s, 1)))
binary.append(binary_case("all_equal", (rng.random(50) < 0.5).astype(np.uint8), np.full(50, 0.37)))
binary.append(binary_case("tiny_2", [0, 1], [0.2, 0.8]))
binary.append(binary_case("tiny_2_inverted", [1, 0], [0.2, 0.8]))
binary.append(binary_case("tiny_3_tie", [1, 0, 1], [0.5, 0.5, 0.1]))
binary.append(binary_case("no_positive", np.zeros(20, np.uint8), rng.random(20)))
binary.append(binary_case("no_negative", np.ones(20, np.uint8), rng.random(20)))
binary.append(binary_case("large_random", *correlated(3000, 0.05, 1.2)))
binary.append(binary_case("negative_scores", [0, 1, 0, 1, 1], [-3.5, -0.25, -1e-3, 7.0, -3.5]))

# ROC curve of the tied case (drop_intermediate=False). thresholds[0] is max+1 in
# sklearn 1.2 (+inf from 1.3); only thresholds[1:] are compared.
tc = binary[2]
fpr, tpr, thr = roc_curve(np.array(tc["y"]), f32(tc["scores"]), drop_intermediate=False)
roc = {"case": tc["name"], "fpr": fpr.tolist(), "tpr": tpr.tolist(),
       "thresholds_after_first": [float(v) for v in thr[1:]]}

# Multi-label case: N records x C classes, class 2 has no positive, class 4 no negative,
# class 3 has heavily tied scores, class 5 is rare.
N, C = 300, 6
prev = [0.3, 0.5, 0.0, 0.2, 1.0, 0.03]
Y = np.zeros((N, C), np.uint8)
S = np.zeros((N, C), np.float32)
for c in range(C):
    Y[:, c] = (rng.random(N) < prev[c]).astype(np.uint8)
    S[:, c] = 1 / (1 + np.exp(-(1.5 * (Y[:, c] - 0.5) + rng.normal(size=N))))
S[:, 3] = np.round(S[:, 3], 1)
Y[:3, 5] = 1  # make sure the rare class has positives
defined = [c for c in range(C) if 0 < Y[:, c].sum() < N]
auc = [auc_or_none(Y[:, c], S[:, c]) for c in range(C)]
macro = float(roc_auc_score(Y[:, defined], S[:, defined], average="macro"))
pred05 = (S >= 0.5).astype(np.uint8)
f1_05 = f1_score(Y, pred05, average=None, zero_division=0)
f1_05_macro = float(f1_score(Y, pred05, average="macro", zero_division=0))
thr_given = [0.3, 0.6, 0.5, 0.45, 0.9, 0.2]
predg = (S.astype(np.float64) >= np.array(thr_given)).astype(np.uint8)
f1_g = f1_score(Y, predg, average=None, zero_division=0)
f1_g_macro = float(f1_score(Y, predg, average="macro", zero_division=0))

# Brute-force threshold tuning: candidates are the distinct scores v_1 > ... > v_m
# (predict score >= v_k); first maximum (highest threshold) wins; threshold is the
# midpoint to the next lower distinct score in float64 (v_m itself for the last).
tuned_thr, tuned_f1, tuned_ok = [], [], []
for c in range(C):
    if Y[:, c].sum() == 0:
        tuned_thr.append(0.5)
        tuned_f1.append(0.0)
        tuned_ok.append(0)
        continue
    v = np.unique(S[:, c].astype(np.float64))[::-1]
    f1s = [f1_score(Y[:, c], (S[:, c] >= vk).astype(np.uint8), zero_division=0) for vk in v]
    k = int(np.argmax(np.round(f1s, 12)))  # equal fractions may differ in the last bit
    t = (v[k] + v[k + 1]) / 2 if k + 1 < len(v) else v[k]
    tuned_thr.append(float(t))
    tuned_f1.append(float(f1s[k]))
    tuned_ok.append(1)

multi = {"N": N, "C": C, "y": Y.reshape(-1).tolist(),
         "scores": [float(v) for v in S.reshape(-1)],
         "auc": auc, "support": Y.sum(0).astype(int).tolist(),
         "defined": [int(c in defined) for c in range(C)], "macro_auc": macro,
         "f1_05": f1_05.tolist(), "f1_05_macro": f1_05_macro,
         "thresholds": thr_given, "f1_thr": f1_g.tolist(), "f1_thr_macro": f1_g_macro,
         "tuned_thresholds": tuned_thr, "tuned_f1": tuned_f1, "tuned": tuned_ok}

qv = rng.normal(size=137)
qv[[5, 50, 100]] = np.nan
qs = [0.0, 0.025, 0.5, 0.975, 1.0]
quantile = {"values": [None if np.isnan(v) else float(v) for v in qv], "q": qs,
            "expected": [float(np.nanpercentile(qv, 100 * q)) for q in qs]}

os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump({"binary": binary, "roc": roc, "multi": multi, "quantile": quantile}, f)
print("wrote", os.path.normpath(OUT))
