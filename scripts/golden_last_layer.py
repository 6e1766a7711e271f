#!/usr/bin/python3
"""Golden minimizers of the last-layer objective (src/train/last_layer.h), found by an
independent solver: scipy's L-BFGS-B on the split W = U - V (U, V >= 0 on the off-class
entries, the standard smooth form of an L1 term), with the value and gradient of
    F(W) = BCEWithLogitsLoss(S W^T, Y, pos_weight)  (torch, mean over N*C)
         + l1 * sum over off-class entries of |W|
from torch autograd in float64. Writes tests/golden/last_layer.safetensors, read by
tests/test_last_layer.c. Rerun with
    /usr/bin/python3 scripts/golden_last_layer.py
Cases: "<case>.S" (N, P) F32, ".Y" (N, C) F32 (0/1), ".w" (C) F32, ".W0" (C, P) F32 start,
".l1", ".nonneg_own" and ".F" F64 [1] (the L1 weight, whether own-class weights are
kept >= 0, the minimum), ".W" (C, P) F32 (the minimizer).
Similarities are drawn like a model's (a shared offset plus class-dependent signal), the
labels from a logistic model, so the minimum is finite (every class has positives and
negatives: a class without positives has no finite minimum); one case has l1 = 0, one
keeps the own-class weights >= 0 with one prototype per class anti-correlated with its
class (so that the bound is active).
"""
import os
import sys

import numpy as np
import scipy.optimize
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden",
                   "last_layer.safetensors")
rng = np.random.default_rng(20261126)
tensors = {}


def objective(W, S, Y, w, off, l1):
    x = S @ W.t()
    return F.binary_cross_entropy_with_logits(x, Y, pos_weight=w) + l1 * (W.abs() * off).sum()


def solve(S, Y, w, C, K, l1, nonneg_own):
    """argmin F by L-BFGS-B on W = U - V, U, V >= 0 on the off-class entries; with
    nonneg_own the own-class entries are U alone, bounded below by 0."""
    P = C * K
    S64, Y64, w64 = (torch.from_numpy(a.astype(np.float64)) for a in (S, Y, w))
    off = torch.ones(C, P, dtype=torch.float64)
    for p in range(P):
        off[p // K, p] = 0.0
    n = C * P

    def fg(z):
        zt = torch.from_numpy(z).requires_grad_(True)
        W = zt[:n].view(C, P) - zt[n:].view(C, P)
        x = S64 @ W.t()
        f = F.binary_cross_entropy_with_logits(x, Y64, pos_weight=w64) \
            + l1 * ((zt[:n] + zt[n:]).view(C, P) * off).sum()
        f.backward()
        return f.item(), zt.grad.numpy().copy()

    offn = off.numpy().ravel()
    bounds = [(0 if o or nonneg_own else None, None) for o in offn] + \
             [(0 if o else None, None) if o or not nonneg_own else (0, 0) for o in offn]
    z0 = np.zeros(2 * n)
    res = scipy.optimize.minimize(fg, z0, jac=True, method="L-BFGS-B", bounds=bounds,
                                  options={"maxiter": 100000, "maxfun": 200000,
                                           "ftol": 1e-15, "gtol": 1e-12})
    W = res.x[:n].reshape(C, P) - res.x[n:].reshape(C, P)
    f = objective(torch.from_numpy(W), S64, Y64, w64, off, l1).item()
    return W, f


def case(name, N, C, K, l1, nonneg_own=0):
    P = C * K
    proto_class = np.arange(P) // K
    signal = rng.standard_normal((N, C))
    sign = np.where(np.arange(P) % K == 0, -1.0, 1.0) if nonneg_own else 1.0
    S = 0.4 + 0.1 * sign * signal[:, proto_class] + 0.05 * rng.standard_normal((N, P))
    logit = 2.0 * signal - 1.5
    Y = (rng.random((N, C)) < 1 / (1 + np.exp(-logit))).astype(np.uint8)
    n_c = Y.sum(0).astype(np.float64)
    T = n_c.sum()
    w = np.where(n_c > 0, np.sqrt((T - n_c) / np.maximum(n_c, 1)), 0.0).astype(np.float32)
    W0 = np.where(proto_class[None, :] == np.arange(C)[:, None], 1.0, -0.5).astype(np.float32)
    S = S.astype(np.float32)
    W, f = solve(S, Y, w, C, K, l1, nonneg_own)
    tensors[f"{name}.S"] = S
    tensors[f"{name}.Y"] = Y.astype(np.float32)
    tensors[f"{name}.w"] = w
    tensors[f"{name}.W0"] = W0
    tensors[f"{name}.l1"] = np.array([l1], np.float64)
    tensors[f"{name}.nonneg_own"] = np.array([nonneg_own], np.float64)
    tensors[f"{name}.F"] = np.array([f], np.float64)
    tensors[f"{name}.W"] = W.astype(np.float32)
    own = proto_class[None, :] == np.arange(C)[:, None]
    zeros = int(((np.abs(W) < 1e-9) & ~own).sum())
    own_zeros = int(((np.abs(W) < 1e-9) & own).sum())
    print(f"{name}: N {N} C {C} K {K} l1 {l1} nonneg_own {nonneg_own}: minimum {f:.10f}, "
          f"{zeros} off-class zeros, {own_zeros} own-class zeros")


case("l1", 400, 5, 3, 1e-3)
case("none", 300, 4, 2, 0.0)
case("nonneg", 400, 4, 3, 1e-4, nonneg_own=1)  # one prototype per class anti-correlated
safetensors_np.save(OUT, tensors, metadata={
    "generator": "scripts/golden_last_layer.py", "torch": torch.__version__,
    "scipy": scipy.__version__})
print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes, {len(tensors)} tensors)")
