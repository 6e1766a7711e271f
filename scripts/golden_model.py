#!/usr/bin/python3
"""Golden files for the C network and training engine (spec section 3 and the Adam of
section 5), produced with the PyTorch reference of scripts/torch_model.py.

  /usr/bin/python3 scripts/golden_model.py            # tests/golden/*_small.safetensors
  /usr/bin/python3 scripts/golden_model.py --full --out /tmp/golden_full
                                                      # full-size model, outside the repo

The small golden uses a reduced width so the files stay small: base width W = 8 (stage
widths 8/16/32/64), add-on size D = 64, K = 2 prototypes per class (P = 32), C = 16. The
C engine must take W and D as configuration (stage widths W, 2W, 4W, 8W; add-on
8W -> D -> D; prototypes P x D). --full uses W = 64, D = 512, K = 5.

Files written to the output folder (TAG = small or full):
  model_init.safetensors   ProtoNet state_dict right after torch.manual_seed(0) and
                           construction (float32; num_batches_tracked int64).
  model_TAG.safetensors    input (B,12,1000): ecg_ids 33-36 of ../shared/data/ptbxl, raw
                           mV, no preprocessing; R (B,C); train.{h,z,similarities,
                           logits}; loss = sum(logits * R) (scalar); grad.<param> for every
                           parameter (classifier.weight included); after1.<bn buffer>
                           after that one train-mode forward; step3.<param or bn buffer>
                           after 3 Adam steps from the init weights on the same batch and
                           loss with classifier.weight frozen (the joint stage);
                           eval.{h,z,similarities,logits} in eval mode at init.
  baseline_TAG.safetensors Baseline (same backbone + fc head). Its backbone init is the
                           feature_extractor.* of model_init; its head init is stored as
                           init.fc.weight / init.fc.bias. Same other tensors (no z / s;
                           nothing frozen).
Conditioning (so that a correct float32 engine passes with tight tolerances):
  All math is done in float64 from the float32 initial weights, input and R, then stored
  as float32, so the files hold the exact result up to the final rounding. Two things
  can make a float32 engine diverge from it by much more than its rounding: a ReLU input
  within its error of 0 (the unit flips), and an Adam step-1 entry whose g + wd*p is
  within its gradient error of 0 (Adam steps it by about lr * sign, so it may go the
  other way by 2e-3, which then flips ReLUs and changes all later gradients). The ecg_ids
  were picked for a large ReLU margin, and R (separately for each file) among R_SEEDS
  seeds for the largest Adam step-1 margin; both margins are in the metadata
  (min_abs_relu_input, adam_step1_margin). With that, a float32 torch run matches the
  small files within: outputs 1e-6, gradients 3e-6 of each tensor's max |grad|, step3
  3e-7 (scripts/verify_golden_model.py checks 1e-5 / 1e-4 / 1e-5).
  --full does no R search (the Jacobian would take GBs): at full size, with millions of
  entries, a float32 run there differs by up to ~2e-3 on some step3 entries and flips a
  ReLU or two at some batches: compare its gradients by relative norm, step3 loosely.
Adam: lr 1e-3, betas 0.9/0.999, eps 1e-8, weight_decay 1e-4 (coupled L2, torch style).
"""
import argparse
import copy
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import safetensors_np  # noqa: E402
import torch_model  # noqa: E402

ROOT = os.path.dirname(HERE)
# Of the groups 1-4, 5-8, ..., 37-40 this one lies farthest from a ReLU kink at both the
# small and the full size (see min_abs_relu_input below), so a float32 engine agrees.
ECG_IDS = [33, 34, 35, 36]
ADAM = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-4)
N_STEPS = 3
R_SEEDS = 400   # candidate seeds for R (see adam_step1_margin)


def read_record(ptbxl, ecg_id):
    """One 100 Hz WFDB record (format 16, gain 1000/mV, baseline 0) -> (12, 1000) mV."""
    path = os.path.join(ptbxl, "records100", f"{ecg_id // 1000 * 1000:05d}",
                        f"{ecg_id:05d}_lr.dat")
    raw = np.fromfile(path, dtype="<i2")
    if raw.size != 12 * 1000:
        raise ValueError(f"{path}: {raw.size} samples, expected 12000")
    return (raw.reshape(1000, 12).T.astype(np.float64) / 1000.0).astype(np.float32)


def to_np(t):
    t = t.detach()
    if t.dtype == torch.float64:
        t = t.to(torch.float32)
    return t.cpu().numpy().copy()


def bn_buffers(model):
    """name -> tensor for every BN running_mean / running_var / num_batches_tracked."""
    return {k: v for k, v in model.state_dict().items()
            if k.endswith(("running_mean", "running_var", "num_batches_tracked"))}


def golden_for(model, x, R, frozen, keys_out):
    """Train-mode forward/backward, BN stats after one forward, 3 Adam steps, eval forward.
    model: float64 module holding the init weights (left unchanged)."""
    out = {}
    # 1. one train-mode forward + backward of L = sum(logits * R), all params trainable
    m = copy.deepcopy(model).train()
    with torch_model.ReluMargin(m) as margin:
        o = m.forward_all(x)
    out_margin = [margin.value]
    loss = (o["logits"] * R).sum()
    loss.backward()
    for k in keys_out:
        out[f"train.{k}"] = to_np(o[k])
    out["loss"] = to_np(loss)
    for name, p in m.named_parameters():
        out[f"grad.{name}"] = to_np(p.grad)
    for name, b in bn_buffers(m).items():
        out[f"after1.{name}"] = to_np(b)
    # 2. fresh copy, N_STEPS Adam steps with the frozen parameters excluded
    m = copy.deepcopy(model).train()
    for name, p in m.named_parameters():
        p.requires_grad_(name not in frozen)
    opt = torch.optim.Adam([p for p in m.parameters() if p.requires_grad], **ADAM)
    for _ in range(N_STEPS):
        opt.zero_grad()
        with torch_model.ReluMargin(m) as margin:
            logits = m.forward_all(x)["logits"]
        out_margin.append(margin.value)
        (logits * R).sum().backward()
        opt.step()
    for name, p in m.named_parameters():
        out[f"step{N_STEPS}.{name}"] = to_np(p)
    for name, b in bn_buffers(m).items():
        out[f"step{N_STEPS}.{name}"] = to_np(b)
    # 3. eval-mode forward at the init weights
    m = copy.deepcopy(model).eval()
    with torch.no_grad():
        o = m.forward_all(x)
    for k in keys_out:
        out[f"eval.{k}"] = to_np(o[k])
    return out, out_margin


def adam_step1_margin(model, x, frozen, seeds, B, C):
    """Picks the R seed whose first Adam step is best conditioned.

    Adam's first update is lr * g / (|g| + eps) with g = grad + wd * p: about lr * sign(g).
    Where |g| is as small as a float32 engine's gradient error (~3e-6 of the tensor's max
    |grad| here), the engine may step that entry the other way, and the 1e-3 difference
    then moves units across ReLU kinks and spreads to every gradient of steps 2 and 3.
    The gradient is linear in R (g = R . J with J the Jacobian of the logits), so each
    seed costs one product: returns (seed, margin) maximizing
    margin = min over entries of |g + wd p| / max |grad| of that tensor (entries whose
    gradient is exactly zero for every R, e.g. of dead units, are skipped)."""
    m = copy.deepcopy(model).train()
    params = [p for n, p in m.named_parameters() if n not in frozen]
    logits = m.forward_all(x)["logits"].reshape(-1)                       # (B*C,)
    J = np.zeros((logits.numel(), sum(p.numel() for p in params)))
    for i in range(logits.numel()):
        g = torch.autograd.grad(logits[i], params, retain_graph=True, allow_unused=True)
        J[i] = torch.cat([(q if q is not None else torch.zeros_like(p)).reshape(-1)
                          for q, p in zip(g, params)]).detach().numpy()
    wdp = ADAM["weight_decay"] * torch.cat([p.detach().reshape(-1) for p in params]).numpy()
    bounds = np.cumsum([0] + [p.numel() for p in params])
    live = ~np.all(J == 0, axis=0)
    best = (-1.0, None)
    for seed in seeds:
        R = draw_R(seed, B, C).numpy().reshape(-1)
        g = R @ J
        margin = np.inf
        for a, b in zip(bounds[:-1], bounds[1:]):
            r = np.abs(g[a:b] + wdp[a:b])[live[a:b]]
            if r.size:
                margin = min(margin, r.min() / np.abs(g[a:b]).max())
        best = max(best, (margin, seed))
    return best[1], best[0]


def draw_R(seed, B, C):
    """R (B, C) ~ N(0, 1), drawn in float32 and used as stored (so the C side sees the
    same R), returned as float64."""
    return torch.randn(B, C, generator=torch.Generator().manual_seed(seed)).to(torch.float64)


def write_golden(path, model, x, x32, ecg_ids, frozen, keys, meta, extra, search):
    B, C = x.shape[0], torch_model.NUM_CLASSES
    if search:
        seed, m1 = adam_step1_margin(model, x, frozen, range(R_SEEDS), B, C)
    else:
        seed, m1 = 0, float("nan")
    R = draw_R(seed, B, C)
    t, margin = golden_for(model, x, R, frozen, keys)
    margin = ",".join(f"{v:.3g}" for v in margin)
    print(f"{os.path.basename(path)}: R seed {seed}, Adam step-1 margin {m1:.3g}, "
          f"min |ReLU input| at init and Adam steps 1..{N_STEPS}: {margin}")
    t.update({"input": x32, "R": to_np(R), "ecg_ids": np.array(ecg_ids, dtype=np.int64)})
    t.update(extra)
    safetensors_np.save(path, t, {**meta, "seed_R": seed, "adam_step1_margin": f"{m1:.3g}",
                                  "frozen_in_adam": ",".join(sorted(frozen)),
                                  "min_abs_relu_input": margin})



def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true", help="full size: W=64, D=512, K=5")
    ap.add_argument("--out", help="output folder (default tests/golden, or "
                    "/tmp/golden_full with --full)")
    ap.add_argument("--ecg-ids", help="comma-separated, default %s" % ",".join(map(str, ECG_IDS)))
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "ptbxl"))
    args = ap.parse_args()
    if args.full:
        tag, W, D, K = "full", 64, 512, 5
        out_dir = args.out or "/tmp/golden_full"
    else:
        tag, W, D, K = "small", 8, 64, 2
        out_dir = args.out or os.path.join(ROOT, "tests", "golden")
    os.makedirs(out_dir, exist_ok=True)

    torch.manual_seed(0)
    proto = torch_model.ProtoNet(base_width=W, add_on_dim=D, protos_per_class=K)
    init_sd = {k: to_np(v) for k, v in proto.state_dict().items()}
    torch.manual_seed(1)
    baseline = torch_model.Baseline(base_width=W)
    baseline.feature_extractor.load_state_dict(proto.feature_extractor.state_dict())

    ecg_ids = [int(v) for v in args.ecg_ids.split(",")] if args.ecg_ids else ECG_IDS
    x32 = np.stack([read_record(args.data, i) for i in ecg_ids])          # (B, 12, 1000)
    x = torch.from_numpy(x32).to(torch.float64)

    meta = {"base_width": W, "add_on_dim": D, "protos_per_class": K,
            "num_classes": torch_model.NUM_CLASSES, "ecg_ids": ",".join(map(str, ecg_ids)),
            "seed_model": 0, "seed_baseline": 1, "loss": "sum(logits * R)",
            "adam": str(ADAM), "steps": N_STEPS, "compute_dtype": "float64",
            "torch": torch.__version__, "script": "scripts/golden_model.py"}
    safetensors_np.save(os.path.join(out_dir, "model_init.safetensors"), init_sd,
                        {**meta, "content": "ProtoNet state_dict at init"})
    search = not args.full   # the Jacobian of the full model would take GBs
    write_golden(os.path.join(out_dir, f"model_{tag}.safetensors"), proto.double(), x, x32,
                 ecg_ids, {"classifier.weight"}, ["h", "z", "similarities", "logits"],
                 meta, {}, search)
    write_golden(os.path.join(out_dir, f"baseline_{tag}.safetensors"), baseline.double(), x,
                 x32, ecg_ids, set(), ["h", "logits"],
                 {**meta, "backbone_init": "feature_extractor.* of model_init.safetensors"},
                 {"init.fc.weight": to_np(baseline.fc.weight),
                  "init.fc.bias": to_np(baseline.fc.bias)}, search)
    for f in sorted(os.listdir(out_dir)):
        if f.endswith(".safetensors"):
            print(f"{os.path.join(out_dir, f)}: {os.path.getsize(os.path.join(out_dir, f))} B")


if __name__ == "__main__":
    main()
