#!/usr/bin/python3
"""Golden values and gradients of the losses of spec section 4, computed with PyTorch
autograd straight from the spec's formulas (torch ops, float64 on float32 inputs).

Writes tests/golden/losses.safetensors, read by tests/test_losses.c. Rerun with
    /usr/bin/python3 scripts/golden_losses.py
Tensor names: "<loss>.<case>.<name>"; inputs are F32/U8, loss values F64 scalars (shape
[1]), gradients F32 (the float32 rounding of the reference, 6e-8, is far below the test
tolerance). Cases include ties (torch.max sends the gradient to the first maximal index),
rows without positive labels, a class without positives in J, extreme logits, zero and
tiny-norm prototypes, duplicate and opposite prototypes (clamped cosines).
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np  # noqa: E402

C, K = 16, 5
P = C * K
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden",
                   "losses.safetensors")

rng = np.random.default_rng(20250507)
tensors = {}


def identity():
    """I (P, C): I[p, c] = 1 iff prototype p = c*K + k belongs to class c."""
    eye = torch.zeros(P, C, dtype=torch.float64)
    for p in range(P):
        eye[p, p // K] = 1.0
    return eye


I = identity()


def t64(a):
    return torch.from_numpy(np.asarray(a).astype(np.float64))


def put(name, arr):
    tensors[name] = np.ascontiguousarray(arr)


def put_value(name, v):
    put(name, np.array([float(v)], dtype=np.float64))


# ---- the losses, written from the spec with torch ops ---------------------------------

def loss_bce(x, y, w):
    return F.binary_cross_entropy_with_logits(x, y, pos_weight=w)


def loss_clst(s, y):
    mask = I.t().unsqueeze(0) * y.unsqueeze(2)            # (B, C, P): I_pc y_bc
    a = (s.unsqueeze(1) * mask).max(dim=-1).values        # torch.max: first index on ties
    return -a.mean()


def loss_sep(s, y):
    mask = 1.0 - I.t().unsqueeze(0) * y.unsqueeze(2)
    e = (s.unsqueeze(1) * mask).max(dim=-1).values
    return e.mean()


def loss_div(x):
    q = F.normalize(x, p=2, dim=1, eps=1e-12)
    g = q @ q.t()
    return ((g - torch.eye(x.shape[0], dtype=x.dtype)) ** 2).sum() / x.shape[0] ** 2


def loss_cnt(x, J):
    q = F.normalize(x, p=2, dim=1, eps=1e-12)
    s = torch.clamp(q @ q.t(), -1 + 1e-6, 1 - 1e-6)
    pos = I @ J @ I.t()
    neg = 1.0 - pos
    pos_n = pos / (pos.sum() + 1e-6)
    neg_n = neg / (neg.sum() + 1e-6)
    return -((s * pos_n).sum() - (s * neg_n).sum()) / math.sqrt(x.shape[0])


def loss_l1(W):
    return (W * (1.0 - I.t())).abs().sum()


def jaccard(labels):
    """J_cd = |c and d| / |c or d|, 0/0 := 0 (float64)."""
    lab = labels.astype(np.int64)
    inter = lab.T @ lab
    n = lab.sum(0)
    union = n[:, None] + n[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0)


def value_and_grad(fn, x, *args):
    x = x.clone().requires_grad_(True)
    v = fn(x, *args)
    v.backward()
    return v.item(), x.grad.numpy().astype(np.float32)


# ---- BCE -------------------------------------------------------------------------------

def bce_case(i, x, y, w):
    v, g = value_and_grad(loss_bce, t64(x), t64(y), t64(w))
    put(f"bce.{i}.x", x)
    put(f"bce.{i}.y", y)
    put(f"bce.{i}.w", w)
    put_value(f"bce.{i}.loss", v)
    put(f"bce.{i}.grad", g)


w = rng.uniform(0.0, 12.0, C).astype(np.float32)
w[5] = 0.0  # a class without training positives gets weight 0
bce_case(0, (3 * rng.standard_normal((4, C))).astype(np.float32),
         (rng.random((4, C)) < 0.3).astype(np.uint8), w)
x = (3 * rng.standard_normal((8, C))).astype(np.float32)
x[0, :8] = [50, -50, 1000, -1000, 0, 1e-8, 90, -90]  # extreme logits: stable form needed
x[1, :8] = [50, -50, 1000, -1000, 0, -1e-8, 30, -30]
y = (rng.random((8, C)) < 0.3).astype(np.uint8)
y[0, :8] = [1, 1, 1, 1, 1, 1, 0, 0]
y[1, :8] = [0, 0, 0, 0, 0, 0, 1, 1]
y[2] = 0  # a record with no positive label
bce_case(1, x, y, w)

# ---- clustering and separation -----------------------------------------------------------

def max_case(i, s, y):
    for name, fn in (("clst", loss_clst), ("sep", loss_sep)):
        v, g = value_and_grad(fn, t64(s), t64(y))
        put(f"{name}.{i}.s", s)
        put(f"{name}.{i}.y", y)
        put_value(f"{name}.{i}.loss", v)
        put(f"{name}.{i}.grad", g)


# case 0: continuous similarities, a row with no positive label
s = rng.uniform(-1, 1, (4, P)).astype(np.float32)
y = (rng.random((4, C)) < 0.3).astype(np.uint8)
y[1] = 0
max_case(0, s, y)
# case 1: quantized similarities -> many ties, exact zeros, negatives
s = (np.round(rng.uniform(-1, 1, (8, P)) * 4) / 4).astype(np.float32)
y = (rng.random((8, C)) < 0.3).astype(np.uint8)
y[2] = 0
y[3, 0] = 1
s[3, 0:K] = [-0.5, 0.0, -0.25, 0.0, -1.0]  # class 0 positive, best own s is an exact 0
y[4, 2] = 1
s[4, 2 * K:3 * K] = [-0.5, -0.25, -0.75, -0.25, -1.0]  # own prototypes all negative
y[5, :] = 1  # every class positive: separation sees only masked zeros
max_case(1, s, y)
# case 2: all similarities negative (masked zeros win every max)
s = -rng.uniform(0.01, 1, (8, P)).astype(np.float32)
y = (rng.random((8, C)) < 0.4).astype(np.uint8)
y[0] = 0
max_case(2, s, y)

# ---- diversity and contrastive -----------------------------------------------------------

labels = (rng.random((300, C)) < 0.15).astype(np.uint8)
labels[:, 7] |= labels[:, 6]  # correlated classes
labels[:, 3] = 0              # a class without positives: its row/column of J is 0
J = jaccard(labels)
put("jaccard.labels", labels)
put("jaccard.J", J.astype(np.float32))
J32 = J.astype(np.float32)


def proto_case(i, x, j):
    v, g = value_and_grad(loss_div, t64(x))
    put(f"proto.{i}.x", x)  # shared by div.{i} and cnt.{i}
    put_value(f"div.{i}.loss", v)
    put(f"div.{i}.grad", g)
    v, g = value_and_grad(loss_cnt, t64(x), t64(j))
    put(f"cnt.{i}.J", j)
    put_value(f"cnt.{i}.loss", v)
    put(f"cnt.{i}.grad", g)


proto_case(0, rng.standard_normal((P, 32)).astype(np.float32), J32)
proto_case(1, rng.standard_normal((P, 512)).astype(np.float32), J32)
x = rng.standard_normal((P, 32)).astype(np.float32)
x[3] = 0.0                        # zero prototype: normalize gives 0
x[4] *= np.float32(1e-14)         # norm below eps: q = x / eps
x[11] = x[10]                     # duplicate: cosine 1, clamped
x[12] = np.float32(2.5) * x[10]   # same direction, other norm
x[40] = -x[41]                    # opposite: cosine -1, clamped
# cosine 1 - 5e-7: inside the clamped band but not exactly 1, so the clamp's zero
# gradient is visible (at exactly +-1 the cosine's own gradient is 0 anyway)
u = x[21].astype(np.float64)
v = rng.standard_normal(32)
v -= u * (v @ u) / (u @ u)
v *= math.sqrt(2 * 5e-7) * np.linalg.norm(u) / np.linalg.norm(v)
x[20] = (u + v).astype(np.float32)
x64 = x.astype(np.float64)
cos = x64[20] @ x64[21] / np.linalg.norm(x64[20]) / np.linalg.norm(x64[21])
assert 1 - 1e-6 + 1e-7 < cos < 1 - 1e-8, cos
proto_case(2, x, J32)
proto_case(3, rng.standard_normal((P, 32)).astype(np.float32), np.zeros((C, C), np.float32))

# ---- L1 on the last layer ---------------------------------------------------------------

W = rng.standard_normal((C, P)).astype(np.float32)
W[rng.random((C, P)) < 0.1] = 0.0  # exact zeros: subgradient 0
Winit = np.where(I.t().numpy() > 0, 1.0, -0.5).astype(np.float32)
for i, Wi in enumerate((W, Winit)):
    v, g = value_and_grad(loss_l1, t64(Wi))
    put(f"l1.{i}.W", Wi)
    put_value(f"l1.{i}.loss", v)
    put(f"l1.{i}.grad", g)

safetensors_np.save(OUT, tensors, metadata={
    "generator": "scripts/golden_losses.py", "torch": torch.__version__,
    "C": str(C), "K": str(K)})
print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes, {len(tensors)} tensors)")
