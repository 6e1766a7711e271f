#!/usr/bin/python3
"""Independent checks of the files written by scripts/golden_model.py (run after it):
  - model_init loads strictly into torch_model.ProtoNet; a float32 forward matches;
  - the gradients match central finite differences (float64) on sampled entries;
  - the BN running stats after one forward follow momentum 0.1 with the unbiased
    batch variance, computed here by hand from the stem conv output;
  - step3 matches a hand-written Adam (coupled L2, bias correction) driven by autograd
    gradients, with classifier.weight untouched.
  /usr/bin/python3 scripts/verify_golden_model.py [folder] [small|full]
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import safetensors_np  # noqa: E402
import torch_model  # noqa: E402

FAILS = []


def check(name, got, want, atol, rtol=0.0):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    err = np.abs(got - want)
    ok = bool(np.all(err <= atol + rtol * np.abs(want)))
    print(f"{'ok  ' if ok else 'FAIL'} {name}: max abs err {err.max():.3g}")
    if not ok:
        FAILS.append(name)


def build(kind, init, meta, fe_from=None):
    W = int(meta["base_width"])
    if kind == "model":
        m = torch_model.ProtoNet(W, int(meta["add_on_dim"]), int(meta["protos_per_class"]))
        m.load_state_dict({k: torch.from_numpy(v) for k, v in init.items()}, strict=True)
    else:
        m = torch_model.Baseline(W)
        sd = {k: torch.from_numpy(v) for k, v in fe_from.items()
              if k.startswith("feature_extractor.")}
        sd["fc.weight"] = torch.from_numpy(init["init.fc.weight"])
        sd["fc.bias"] = torch.from_numpy(init["init.fc.bias"])
        m.load_state_dict(sd, strict=True)
    return m


def verify(kind, m, g, meta):
    x32 = torch.from_numpy(g["input"])
    R = torch.from_numpy(g["R"]).double()
    init = {k: v.clone() for k, v in m.state_dict().items()}
    # float32 forward vs the float64 golden (a train-mode forward updates the BN buffers:
    # reload the init weights before every phase)
    with torch.no_grad():
        o = m.train().forward_all(x32)
    check(f"{kind} train.logits (fp32 torch)", o["logits"], g["train.logits"], 2e-4, 1e-4)
    m.load_state_dict(init)
    with torch.no_grad():
        o = m.eval().forward_all(x32)
    check(f"{kind} eval.logits (fp32 torch)", o["logits"], g["eval.logits"], 2e-4, 1e-4)

    m.load_state_dict(init)
    md = m.double()
    x = x32.double()
    base = {k: v.clone() for k, v in md.state_dict().items()}

    def loss_at():
        md.load_state_dict(base)   # resets BN buffers too (train forward updates them)
        return float((md.train().forward_all(x)["logits"] * R).sum())

    check(f"{kind} loss", loss_at(), g["loss"], 1e-5, 1e-5)
    # finite differences on a few entries of every parameter tensor
    # (two step sizes: with millions of ReLU units a step of 1e-6 can cross a kink;
    #  the smaller step has more rounding noise; an entry passes if either agrees)
    rng = np.random.default_rng(0)
    worst = 0.0
    for name, p in md.named_parameters():
        gr = g[f"grad.{name}"].reshape(-1)
        for idx in rng.choice(p.numel(), size=min(3, p.numel()), replace=False):
            orig = base[name].reshape(-1)[idx].item()
            err = math.inf
            for h in (1e-6, 1e-8):
                base[name].reshape(-1)[idx] = orig + h
                lp = loss_at()
                base[name].reshape(-1)[idx] = orig - h
                lm = loss_at()
                base[name].reshape(-1)[idx] = orig
                fd = (lp - lm) / (2 * h)
                err = min(err, abs(fd - gr[idx]) / (1e-3 + abs(fd)))
                if err < 1e-4:
                    break
            worst = max(worst, err)
    md.load_state_dict(base)
    print(f"{'ok  ' if worst < 1e-3 else 'FAIL'} {kind} grads vs finite differences: "
          f"worst rel err {worst:.3g}")
    if worst >= 1e-3:
        FAILS.append(f"{kind} fd")

    # BN running stats of the stem after one forward, by hand
    with torch.no_grad():
        y = F.conv1d(x, md.feature_extractor.conv1.weight, stride=2, padding=3)
    n = y.shape[0] * y.shape[2]
    mean = y.mean(dim=(0, 2))
    var_unb = y.var(dim=(0, 2), unbiased=True)
    assert n > 1
    check(f"{kind} after1 bn1.running_mean", 0.1 * mean,
          g["after1.feature_extractor.bn1.running_mean"], 1e-6, 1e-5)
    check(f"{kind} after1 bn1.running_var", 0.9 + 0.1 * var_unb,
          g["after1.feature_extractor.bn1.running_var"], 1e-6, 1e-5)

    # hand-written Adam
    frozen = set(filter(None, meta.get("frozen_in_adam", "").split(",")))
    md.load_state_dict(base)
    params = {n_: p for n_, p in md.named_parameters() if n_ not in frozen}
    mom = {k: torch.zeros_like(p) for k, p in params.items()}
    vel = {k: torch.zeros_like(p) for k, p in params.items()}
    lr, b1, b2, eps, wd = 1e-3, 0.9, 0.999, 1e-8, 1e-4
    steps = int(meta["steps"])
    for t in range(1, steps + 1):
        md.zero_grad()
        (md.train().forward_all(x)["logits"] * R).sum().backward()
        with torch.no_grad():
            for k, p in params.items():
                gk = p.grad + wd * p
                mom[k] = b1 * mom[k] + (1 - b1) * gk
                vel[k] = b2 * vel[k] + (1 - b2) * gk * gk
                mhat = mom[k] / (1 - b1 ** t)
                vhat = vel[k] / (1 - b2 ** t)
                p -= lr * mhat / (vhat.sqrt() + eps)
    worst = 0.0
    for name, p in md.named_parameters():
        worst = max(worst, float((p - torch.from_numpy(g[f"step{steps}.{name}"])).abs().max()))
    for name, b in md.state_dict().items():
        if name.endswith(("running_mean", "running_var")):
            worst = max(worst, float((b - torch.from_numpy(g[f"step{steps}.{name}"])).abs().max()))
        if name.endswith("num_batches_tracked"):
            assert int(g[f"step{steps}.{name}"]) == steps
    print(f"{'ok  ' if worst < 1e-6 else 'FAIL'} {kind} step{steps} vs hand-written Adam: "
          f"max abs err {worst:.3g}")
    if worst >= 1e-6:
        FAILS.append(f"{kind} adam")
    for name in frozen:
        check(f"{kind} frozen {name}", g[f"step{steps}.{name}"], base[name].numpy(), 0.0)
    # a float32 torch run, as a stand-in for a float32 engine: the tolerances the C tests
    # can use (outputs 1e-5 abs, gradients 1e-4 of each tensor's max, step3 1e-5 abs)
    m32 = m.float()
    m32.load_state_dict({k: (v.float() if v.is_floating_point() else v) for k, v in base.items()})
    init32 = {k: v.clone() for k, v in m32.state_dict().items()}
    m32.zero_grad(set_to_none=True)
    o = m32.train().forward_all(x32)
    (o["logits"] * R.float()).sum().backward()
    for k in o:
        check(f"{kind} fp32 train.{k}", o[k].detach(), g[f"train.{k}"], 1e-5)
    worst = max(float((p.grad - torch.from_numpy(g[f"grad.{n_}"])).abs().max())
                / float(np.abs(g[f"grad.{n_}"]).max()) for n_, p in m32.named_parameters())
    print(f"{'ok  ' if worst < 1e-4 else 'FAIL'} {kind} fp32 grads: max err / tensor max "
          f"{worst:.3g}")
    if worst >= 1e-4:
        FAILS.append(f"{kind} fp32 grads")
    m32.load_state_dict(init32)
    for n_, p in m32.named_parameters():
        p.requires_grad_(n_ not in frozen)
    opt = torch.optim.Adam([p for p in m32.parameters() if p.requires_grad], lr=lr,
                           betas=(b1, b2), eps=eps, weight_decay=wd)
    for _ in range(steps):
        opt.zero_grad()
        (m32.train().forward_all(x32)["logits"] * R.float()).sum().backward()
        opt.step()
    names = [n_ for n_, v in m32.state_dict().items()
             if v.is_floating_point() and f"step{steps}.{n_}" in g]
    check(f"{kind} fp32 step{steps} (all {len(names)} params and BN buffers)",
          np.concatenate([m32.state_dict()[n_].numpy().ravel() for n_ in names]),
          np.concatenate([g[f"step{steps}.{n_}"].ravel() for n_ in names]), 1e-5, 1e-5)
    moved = math.sqrt(sum(float(((torch.from_numpy(g[f"step{steps}.{n_}"]) - base[n_]) ** 2)
                               .sum()) for n_ in params))
    print(f"     {kind}: parameters moved by {moved:.4g} (L2) in {steps} steps")


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "tests", "golden")
    tag = sys.argv[2] if len(sys.argv) > 2 else "small"
    init, meta = safetensors_np.load(os.path.join(folder, "model_init.safetensors"))
    g, gmeta = safetensors_np.load(os.path.join(folder, f"model_{tag}.safetensors"))
    verify("model", build("model", init, meta), g, gmeta)
    gb, bmeta = safetensors_np.load(os.path.join(folder, f"baseline_{tag}.safetensors"))
    verify("baseline", build("baseline", gb, bmeta, fe_from=init), gb, bmeta)
    print("FAILED: " + ", ".join(FAILS) if FAILS else "all checks passed")
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
