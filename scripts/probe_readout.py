#!/usr/bin/python3
"""Where the prototype read-out loses against the plain ResNet-18's linear head
(docs/results/tuning, session 7).

For a run directory of scripts/cv_last_layer (its root's fold 10 is the held-out part:
never run this on a root whose fold 10 is the real test fold), with the run's frozen
backbone (the default head stages do not train it), prints the held-out AUROC (macro over
the classes with training and held-out positives; per class with at least 10 held-out
positives) of:
- the ResNet-18's own linear head on the backbone features h (pretrain.safetensors);
- the prototype model (projected1.safetensors: the warm-up's last layer);
- its last layer refit to convergence on its own 80 similarities (FISTA, 3,000 steps,
  BCE with the training's square-root class weights, own-class weights >= 0, no bias),
  with the off-class L1 weight 0 / 1e-5 / 1e-4, and with a free bias (L1 1e-4);
- the same read-out of fixed latents, no add-on training: 5 prototypes per class, each
  the class's training latent nearest to a k-means centre of the class's latents
  (cosine), the last layer fit as above (L1 1e-4), for z = sigmoid(3 standardized h),
  sigmoid(standardized h), and the ResNet-18's standardized logits, each repeated 32
  times through a sigmoid.
    /usr/bin/python3 scripts/probe_readout.py RUNDIR
"""
import os
import sys
import warnings

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.metrics import roc_auc_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import probe_head  # noqa: E402
import safetensors_np  # noqa: E402

warnings.filterwarnings("ignore")
K = 5


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def fit_last(S, y, c, pos_weight, l1, bias=False, iters=3000):
    """One class's row of the last layer on similarities S (N x P), by FISTA on the
    training objective: mean BCE over records (the spec's mean over B*C, hence C*l1) plus
    l1 on the off-class weights; own-class weights kept >= 0. Returns (weights, bias)."""
    N, P = S.shape
    C = P // K
    X = np.hstack([S, np.ones((N, 1))]) if bias else S.astype(np.float64)
    own = np.zeros(X.shape[1], bool)
    own[c * K:(c + 1) * K] = True
    pen = np.where(own, 0.0, C * l1)
    pen[P:] = 0.0
    lip = np.linalg.eigvalsh(X.T @ X / N).max() * max(pos_weight, 1.0) / 4.0
    w = np.where(own, 1.0, -0.5)
    w[P:] = 0.0
    v, t = w.copy(), 1.0
    for _ in range(iters):
        p = sigmoid(X @ v)
        g = X.T @ (pos_weight * y * (p - 1.0) + (1.0 - y) * p) / N
        wn = v - g / lip
        wn = np.sign(wn) * np.maximum(np.abs(wn) - pen / lip, 0.0)
        wn[own] = np.maximum(wn[own], 0.0)
        tn = (1.0 + np.sqrt(1.0 + 4.0 * t * t)) / 2.0
        v, w, t = wn + (t - 1.0) / tn * (wn - w), wn, tn
    return w[:P], (w[P] if bias else 0.0)


def kmeans_prototypes(Zn, lab, tr):
    """K prototypes per class: the class's training latent nearest each k-means centre."""
    out = []
    for c in range(lab.shape[1]):
        idx = np.where(tr & (lab[:, c] == 1))[0]
        if len(idx) == 0:  # no training positive: any latent, its weights stay off
            out += [Zn[np.where(tr)[0][0]]] * K
            continue
        km = KMeans(min(K, len(idx)), n_init=3, random_state=0).fit(Zn[idx])
        for j in range(K):
            centre = km.cluster_centers_[j % km.n_clusters]
            out.append(Zn[idx[np.argmax(Zn[idx] @ centre)]])
    return np.array(out)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    torch.set_num_threads(1)
    run = sys.argv[1]
    fold, lab, rep = probe_head.representations(run, "projected1")
    fc, _ = safetensors_np.load(os.path.join(run, "pretrain.safetensors"))
    H, S = rep["h"].astype(np.float64), rep["similarities"].astype(np.float64)
    tr, ho = fold <= 8, fold == 10
    n = lab[tr].sum(0).astype(float)
    pw = np.sqrt(np.where(n > 0, (n.sum() - n) / np.maximum(n, 1), 0.0))
    classes = [c for c in range(lab.shape[1]) if 0 < lab[ho, c].sum() < ho.sum() and n[c] > 0]
    logits = H @ fc["fc.weight"].T.astype(np.float64) + fc["fc.bias"]

    rows = {"ResNet-18 linear head": logits[ho], "prototype model": rep["logits"][ho]}

    def refit(Sx, l1, bias=False):
        scores = np.zeros((ho.sum(), lab.shape[1]))
        for c in classes:
            w, _ = fit_last(Sx[tr], lab[tr, c].astype(float), c, pw[c], l1, bias)
            scores[:, c] = Sx[ho] @ w
        return scores

    for l1 in (0.0, 1e-5, 1e-4):
        rows[f"its similarities, refit, L1 {l1:g}"] = refit(S, l1)
    rows["its similarities, refit, L1 0.0001 + bias"] = refit(S, 1e-4, bias=True)
    std = lambda a: (a - a[tr].mean(0)) / (a[tr].std(0) + 1e-6)  # noqa: E731
    fixed = {"sigmoid(3 std h)": sigmoid(3 * std(H)), "sigmoid(std h)": sigmoid(std(H)),
             "sigmoid(std ResNet logits) x32": sigmoid(np.repeat(std(logits), 32, axis=1))}
    for name, Z in fixed.items():
        Zn = Z / np.linalg.norm(Z, axis=1, keepdims=True)
        rows[f"fixed z = {name}, k-means prototypes"] = refit(Zn @ kmeans_prototypes(Zn, lab, tr).T,
                                                              1e-4)
    print(f"{run}: held-out AUROC, macro over {len(classes)} classes")
    for name, scores in rows.items():
        auc = {c: roc_auc_score(lab[ho, c], scores[:, c]) for c in classes}
        print(f"  {name:52s} {np.mean(list(auc.values())):.4f}  " +
              " ".join(f"{probe_head.NAMES[c]} {auc[c]:.3f}" for c in classes
                       if lab[ho, c].sum() >= 10), flush=True)


if __name__ == "__main__":
    main()
