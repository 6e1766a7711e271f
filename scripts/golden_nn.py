#!/usr/bin/env python3
"""Golden values for tests/test_nn_torch.c: every layer of src/nn/nn.h computed by
PyTorch (CPU, float64 from float32 inputs) on small random shapes.

For each case the file holds the inputs, parameters, a random R, the output and the
gradients of sum(out * R) (what backward gets as dout), plus `<case>.cfg` with the
shape arguments. Batch norm also holds the running statistics after one training
forward. Run:  /usr/bin/python3 scripts/golden_nn.py  -> tests/golden/nn_layers.safetensors
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden",
                   "nn_layers.safetensors")
rng = np.random.default_rng(20240601)
T = {}


def f32(a):
    return np.asarray(a, dtype=np.float32)


def rand(*shape, scale=1.0):
    """float32 values, returned as a float64 leaf tensor that requires grad."""
    a = f32(rng.standard_normal(shape) * scale)
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def put(case, **tensors):
    for k, v in tensors.items():
        if isinstance(v, torch.Tensor):
            v = v.detach().numpy()
        T[f"{case}.{k}"] = f32(v)


def backward(out):
    """Random R, backprop sum(out * R); returns R."""
    R = torch.tensor(f32(rng.uniform(-1, 1, out.shape)), dtype=torch.float64)
    (out * R).sum().backward()
    return R


# conv1d: B, Cin, Cout, Lin, K, stride, pad
for i, (B, Cin, Cout, L, K, s, p) in enumerate([(2, 3, 4, 11, 3, 1, 1), (2, 3, 5, 13, 7, 2, 3),
                                                 (3, 4, 3, 9, 1, 2, 0), (1, 5, 4, 17, 5, 3, 2),
                                                 (2, 4, 6, 10, 3, 2, 1), (2, 2, 3, 6, 7, 1, 3)]):
    x, w = rand(B, Cin, L), rand(Cout, Cin, K, scale=0.5)
    y = F.conv1d(x, w, stride=s, padding=p)
    R = backward(y)
    put(f"conv{i}", cfg=[B, Cin, Cout, L, K, s, p], input=x, w=w, R=R, out=y, din=x.grad,
        dw=w.grad)

# batch norm, training mode then eval mode with the updated running stats: B, C, L
for i, (B, C, L) in enumerate([(4, 3, 7), (5, 4, 1), (3, 2, 12)]):
    bn = torch.nn.BatchNorm1d(C, eps=1e-5, momentum=0.1).double()
    with torch.no_grad():
        bn.weight.copy_(torch.tensor(f32(rng.standard_normal(C))))
        bn.bias.copy_(torch.tensor(f32(rng.standard_normal(C))))
        bn.running_mean.copy_(torch.tensor(f32(rng.standard_normal(C))))
        bn.running_var.copy_(torch.tensor(f32(rng.uniform(0.5, 2.0, C))))
    rm0, rv0 = bn.running_mean.clone(), bn.running_var.clone()
    x = rand(B, C, L, scale=2.0)
    with torch.no_grad():
        x += 0.7
    bn.train()
    y = bn(x)
    R = backward(y)
    xd = x.detach()
    mean = xd.mean(dim=(0, 2))
    rstd = 1.0 / torch.sqrt(xd.var(dim=(0, 2), unbiased=False) + 1e-5)
    bn.eval()
    with torch.no_grad():
        ye = bn(xd)
    put(f"bn{i}", cfg=[B, C, L], input=x, gamma=bn.weight, beta=bn.bias, rm0=rm0, rv0=rv0, R=R,
        out=y, mean=mean, rstd=rstd, din=x.grad, dgamma=bn.weight.grad, dbeta=bn.bias.grad,
        rm1=bn.running_mean, rv1=bn.running_var, eval_out=ye)

# max pool (values rounded to 1/8 so ties happen; torch takes the first): B, C, Lin, K, s, p
for i, (B, C, L, K, s, p) in enumerate([(2, 3, 11, 3, 2, 1), (1, 2, 10, 2, 2, 0),
                                         (2, 2, 9, 3, 1, 1), (1, 3, 8, 5, 3, 2),
                                         (2, 4, 20, 3, 2, 1)]):
    a = f32(np.round(rng.standard_normal((B, C, L)) * 4) / 8 - 1.0)  # mostly negative
    x = torch.tensor(a, dtype=torch.float64, requires_grad=True)
    y, idx = F.max_pool1d(x, K, stride=s, padding=p, return_indices=True)
    R = backward(y)
    put(f"mp{i}", cfg=[B, C, L, K, s, p], input=x, R=R, out=y, argmax=idx, din=x.grad)

# elementwise and pooling layers
x = rand(2, 3, 9, scale=2.0)
y = F.relu(x)
R = backward(y)
put("relu", cfg=[2, 3, 9], input=x, R=R, out=y, din=x.grad)

x = rand(3, 40, scale=3.0)
y = torch.sigmoid(x)
R = backward(y)
put("sigmoid", cfg=[3, 40], input=x, R=R, out=y, din=x.grad)

x = rand(3, 4, 13)
y = x.mean(dim=2)
R = backward(y)
put("gap", cfg=[3, 4, 13], input=x, R=R, out=y, din=x.grad)

a, b = rand(2, 3, 5), rand(2, 3, 5)
put("add", cfg=[2, 3, 5], a=a, b=b, out=a + b)

# linear: B, In, Out, bias
for i, (B, In, Out, bias) in enumerate([(4, 7, 5, 1), (3, 6, 2, 0), (1, 33, 17, 1)]):
    x, w, bb = rand(B, In), rand(Out, In, scale=0.5), rand(Out)
    y = F.linear(x, w, bb if bias else None)
    R = backward(y)
    put(f"lin{i}", cfg=[B, In, Out, bias], input=x, w=w, b=bb, R=R, out=y, din=x.grad, dw=w.grad,
        db=bb.grad if bias else torch.zeros(Out))

# cosine similarity as in the model (F.normalize, eps 1e-12); case 1 has a z row and a
# prototype row with norms below eps (the clamped branch)
for i, (B, P, D, tiny) in enumerate([(3, 5, 8, False), (4, 6, 5, True), (2, 10, 16, False)]):
    z, pr = rand(B, D), rand(P, D)
    if tiny:
        with torch.no_grad():
            z[1] *= 1e-14
            pr[2] *= 1e-14
            z.copy_(torch.tensor(f32(z.numpy())))  # keep float32-representable
            pr.copy_(torch.tensor(f32(pr.numpy())))
    s = F.normalize(z, dim=1, eps=1e-12) @ F.normalize(pr, dim=1, eps=1e-12).t()
    R = backward(s)
    zn = torch.clamp(z.detach().norm(dim=1), min=1e-12)
    pn = torch.clamp(pr.detach().norm(dim=1), min=1e-12)
    put(f"cos{i}", cfg=[B, P, D], z=z, protos=pr, R=R, s=s, znorm=zn, pnorm=pn, dz=z.grad,
        dprotos=pr.grad)

safetensors_np.save(OUT, T, metadata={"generator": "scripts/golden_nn.py",
                                      "torch": torch.__version__})
print(f"wrote {os.path.normpath(OUT)}: {len(T)} tensors, {os.path.getsize(OUT)} bytes")
