#!/usr/bin/python3
"""How much of the prototype head's gap to the ResNet-18 comes from training a head on a
frozen backbone, and how much from the prototypes (docs/results/tuning, session 8).

For a run directory of scripts/cv_last_layer (its root's fold 10 is the held-out part:
never run this on a root whose fold 10 is the real test fold), on the run's frozen
backbone features h, heads trained from scratch by minibatch Adam (batch 32, 15 epochs,
BCE with the training's square-root class weights, no augmentation), held-out macro-AUROC
after the last epoch (and the best epoch, for the linear heads):
- the ResNet-18's own linear head (pretrain.safetensors: trained with the backbone);
- the prototype model (projected1.safetensors);
- a fresh Linear 512->16 on h, lr 1e-3;
- the same on z^ = z / |z|, z = sigmoid(3 standardized h) (the add-on's start), x10;
- cosine read-outs of z^ with K prototypes per class started at k-means centres of the
  class's latents (K = 5, 20), last layer started at 1 / -0.5, lr 1e-2: prototypes fixed;
  prototypes trained; those trained prototypes projected onto the nearest training
  latent of their class (last layer as trained); and that layer trained again on the
  projected prototypes.
    /usr/bin/python3 scripts/probe_heads.py RUNDIR
"""
import os
import sys
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import probe_head  # noqa: E402
import probe_readout  # noqa: E402
import safetensors_np  # noqa: E402

warnings.filterwarnings("ignore")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    run = sys.argv[1]
    fold, lab, rep = probe_head.representations(run, "projected1")
    fc, _ = safetensors_np.load(os.path.join(run, "pretrain.safetensors"))
    H = rep["h"].astype(np.float64)
    tr, ho = fold <= 8, fold == 10
    n = lab[tr].sum(0).astype(float)
    pw = torch.tensor(np.sqrt(np.where(n > 0, (n.sum() - n) / np.maximum(n, 1), 0.0)),
                      dtype=torch.float32)
    classes = [c for c in range(lab.shape[1]) if 0 < lab[ho, c].sum() < ho.sum() and n[c] > 0]

    def macro(scores):
        return np.mean([roc_auc_score(lab[ho, c], scores[:, c]) for c in classes])

    T = lambda a: torch.tensor(np.asarray(a), dtype=torch.float32)  # noqa: E731
    Y = T(lab)

    def fit(X, head, params, lr, epochs=15):
        """Adam on the training rows of X; held-out macro-AUROC per epoch."""
        opt = torch.optim.Adam(params, lr=lr)
        Xtr, Ytr, Xho, out = X[tr], Y[tr], X[ho], []
        for _ in range(epochs):
            perm = torch.randperm(len(Xtr))
            for i in range(0, len(perm), 32):
                b = perm[i:i + 32]
                loss = F.binary_cross_entropy_with_logits(head(Xtr[b]), Ytr[b], pos_weight=pw)
                opt.zero_grad()
                loss.backward()
                opt.step()
            with torch.no_grad():
                out.append(macro(head(Xho).numpy()))
        return out

    rows = [("ResNet-18 linear head (trained with the backbone)",
             macro(H[ho] @ fc["fc.weight"].T + fc["fc.bias"])),
            ("prototype model", macro(rep["logits"][ho]))]
    std = (H - H[tr].mean(0)) / (H[tr].std(0) + 1e-6)
    Z = probe_readout.sigmoid(3 * std)
    Zn = Z / np.linalg.norm(Z, axis=1, keepdims=True)
    for name, X in (("h", T(H)), ("10 z^", T(10 * Zn))):
        lin = torch.nn.Linear(X.shape[1], lab.shape[1])
        auc = fit(X, lin, lin.parameters(), 1e-3)
        rows.append((f"fresh linear head on {name} (best epoch {max(auc):.4f})", auc[-1]))
    X = T(Zn)
    for K in (5, 20):
        probe_readout.K = K
        P0 = probe_readout.kmeans_prototypes(Zn, lab, tr)
        init = torch.where(torch.eye(lab.shape[1]).repeat_interleave(K, 1) > 0, 1.0, -0.5)
        W = torch.nn.Parameter(init.clone())
        rows.append((f"K {K}: k-means prototypes fixed, layer trained",
                     fit(X, lambda x: (x @ T(P0).T) @ W.T, [W], 1e-2)[-1]))
        W = torch.nn.Parameter(init.clone())
        Pp = torch.nn.Parameter(T(P0))
        head = lambda x: (x @ F.normalize(Pp, dim=1).T) @ W.T  # noqa: E731
        rows.append((f"K {K}: prototypes and layer trained", fit(X, head, [W, Pp], 1e-2)[-1]))
        with torch.no_grad():  # each prototype onto its class's nearest training latent
            Pn = F.normalize(Pp, dim=1).numpy()
            for p in range(len(Pn)):
                idx = np.where(tr & (lab[:, p // K] == 1))[0]
                if len(idx):
                    Pp.data[p] = T(Zn[idx[np.argmax(Zn[idx] @ Pn[p])]])
            rows.append((f"K {K}: those prototypes projected", macro(head(X[ho]).numpy())))
        rows.append((f"K {K}: projected, layer trained again", fit(X, head, [W], 1e-2)[-1]))
    print(f"{run}: held-out macro-AUROC over {len(classes)} classes")
    for name, auc in rows:
        print(f"  {name:60s} {auc:.4f}", flush=True)


if __name__ == "__main__":
    main()
