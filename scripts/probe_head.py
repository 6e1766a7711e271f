#!/usr/bin/python3
"""Where a prototype model's head loses information (docs/results/tuning, session 5).

For a run of scripts/cv_last_layer (RUNDIR with cache.bin and MODEL.safetensors, its
"test" fold the held-out training folds), computes in PyTorch (scripts/torch_model.py) the
backbone features h, the add-on output z and the similarities of every record, fits per
class a logistic regression (L2, C = 0.1 on standardized inputs, positives weighted by the
square root of the spec's class weight, as the training) on the run's training fold for
each representation, and prints the held-out AUROC of each next to the model's own:
macro over the classes with held-out and training positives, and per class with at least
10 held-out positives. Never run it on a root whose fold 10 is the real test fold.
    /usr/bin/python3 scripts/probe_head.py RUNDIR [MODEL]   (MODEL default projected1)
"""
import json
import os
import sys
import warnings

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np  # noqa: E402
import torch_model  # noqa: E402
from probe_last_layer import read_cache  # noqa: E402

warnings.filterwarnings("ignore")
NAMES = torch_model.CLASS_NAMES


def representations(run, model):
    fold, lab, sig, stdz = read_cache(os.path.join(run, "cache.bin"))
    tensors, meta = safetensors_np.load(os.path.join(run, model + ".safetensors"))
    pre = json.loads(meta["preprocessing"])
    x = sig.astype(np.float32)
    if not stdz:
        x = ((x - np.array(pre["mean"], np.float32)[None, :, None]) /
             np.array(pre["std"], np.float32)[None, :, None])
    net = json.loads(meta["network"])
    m = torch_model.ProtoNet(net["base_width"], net["latent_dim"], net["protos_per_class"])
    m.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=False)
    m.eval()
    out = {k: [] for k in ("logits", "h", "z", "similarities")}
    with torch.no_grad():
        for i in range(0, len(x), 128):
            o = m.forward_all(torch.from_numpy(x[i:i + 128]))
            for k in out:
                out[k].append(o[k].numpy())
    return fold, lab, {k: np.concatenate(v) for k, v in out.items()}


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    torch.set_num_threads(1)
    run, model = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "projected1"
    fold, lab, rep = representations(run, model)
    tr, ho = fold <= 8, fold == 10
    n = lab[tr].sum(0).astype(float)
    w = np.sqrt(np.where(n > 0, (n.sum() - n) / np.maximum(n, 1), 0.0))
    classes = [c for c in range(16) if 0 < lab[ho, c].sum() < ho.sum() and n[c] > 0]
    auc = {}
    for name in ("logits", "h", "z", "similarities"):
        auc[name] = {}
        for c in classes:
            y = lab[:, c]
            if name == "logits":  # the model's own scores
                score = rep[name][ho, c]
            else:
                f = rep[name]
                mu, sd = f[tr].mean(0), f[tr].std(0) + 1e-6
                clf = LogisticRegression(C=0.1, max_iter=5000)
                clf.fit((f[tr] - mu) / sd, y[tr], sample_weight=np.where(y[tr] == 1, w[c], 1.0))
                score = clf.decision_function((f[ho] - mu) / sd)
            auc[name][c] = roc_auc_score(y[ho], score)
    label = {"logits": "model", "h": "features h", "z": "add-on z", "similarities": "similarities"}
    print(f"{run} ({model}), held-out macro-AUROC: " +
          ", ".join(f"{label[k]} {np.mean(list(v.values())):.4f}" for k, v in auc.items()))
    for c in classes:
        if lab[ho, c].sum() >= 10:
            print(f"  {NAMES[c]:6s} {int(lab[ho, c].sum()):5d} positives: " +
                  ", ".join(f"{label[k]} {auc[k][c]:.3f}" for k in auc))


if __name__ == "__main__":
    main()
