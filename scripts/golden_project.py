#!/usr/bin/python3
"""Golden values for src/train/project.c (projection, spec section 5.2) from numpy.

Writes tests/golden/project.json: a pool of n records (float32 latents, multi-hot labels
over the 16 classes, ascending but non-contiguous ecg_ids) and P = K * 16 float32
prototypes, with
  - a class without any positive (its prototypes stay, ecg_id -1),
  - a class with fewer positives than K (in distinct mode its prototypes share),
  - two records with identical latents, and a prototype equal to that latent (the tie
    goes to the first record in pool order),
and for distinct = 0 and 1 the expected source ecg_id of each prototype, the cosine and
the mean cosine, computed here by the rule written out: cosine in float64 with norms
clamped at 1e-12, first maximum in pool order.
Rerun: /usr/bin/python3 scripts/golden_project.py
"""
import json
import os

import numpy as np

C = 16
rng = np.random.default_rng(20261127)
OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "golden", "project.json")

n, D, K = 70, 8, 3
z = rng.random((n, D), dtype=np.float32)  # sigmoid-like latents in (0, 1)
y = (rng.random((n, C)) < 0.25).astype(np.uint8)
y[:, 2] = 0  # class 2: no positive
y[:, 9] = 0
y[[5, 40], 9] = 1  # class 9: two positives for K = 3 prototypes
z[31] = z[12]  # identical latents ...
y[31, 4] = y[12, 4] = 1  # ... both of class 4
ecg_id = np.sort(rng.choice(np.arange(1, 1000), size=n, replace=False)).astype(np.int32)
protos = rng.standard_normal((K * C, D)).astype(np.float32)
protos[4 * K + 1] = z[12] * np.float32(2.0)  # prototype 1 of class 4 points at the tie


def cosines(zz, p):
    zn = np.maximum(np.sqrt((zz.astype(np.float64) ** 2).sum(1)), 1e-12)
    pn = max(np.sqrt((p.astype(np.float64) ** 2).sum()), 1e-12)
    return (zz.astype(np.float64) @ p.astype(np.float64)) / (zn * pn)


def project(distinct):
    P = protos.copy()
    src, sims = [], []
    for p in range(K * C):
        c = p // K
        rows = np.flatnonzero(y[:, c])
        taken = set(src[c * K:p])
        if distinct and len(rows) > p - c * K:
            rows = np.array([j for j in rows if ecg_id[j] not in taken], dtype=int)
        if len(rows) == 0:
            src.append(-1)
            sims.append(None)
            continue
        cs = cosines(z[rows], P[p])
        k = int(np.argmax(cs))  # first maximum
        P[p] = z[rows[k]]
        src.append(int(ecg_id[rows[k]]))
        sims.append(float(cs[k]))
    done = [s for s in sims if s is not None]
    return {"distinct": distinct, "ecg_id": src, "similarity": sims,
            "mean": float(np.mean(done))}


def f32list(a):
    return [float(v) for v in np.asarray(a, dtype=np.float32).ravel()]


cases = [project(0), project(1)]
tie = cases[0]["ecg_id"][4 * K + 1]
assert tie == int(ecg_id[12]), "the tie must go to the first of the identical records"
assert all(s == -1 for s in cases[0]["ecg_id"][2 * K:3 * K])
assert len(set(cases[1]["ecg_id"][9 * K:10 * K])) == 2  # two records shared by 3 prototypes
golden = {"n": n, "D": D, "K": K, "z": f32list(z), "y": y.ravel().tolist(),
          "ecg_id": ecg_id.tolist(), "protos": f32list(protos), "cases": cases}
with open(OUT, "w") as f:
    json.dump(golden, f)
print(f"wrote {OUT}")
