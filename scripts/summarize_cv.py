#!/usr/bin/env python3
"""Table of scripts/cv_last_layer: held-out macro-AUROC of every variant, per seed (mean
of the two halves) and over seeds, and per class for the ResNet-18 and the prototype
models (mean over seeds and halves, held-out positives summed over the halves).

    python3 scripts/summarize_cv.py OUTDIR [--markdown FILE] [--json FILE]
"""
import argparse
import glob
import json
import os
import sys

SEEDS = (42, 1, 2)
FIXED = [("resnet18", "plain ResNet-18"), ("projected", "prototype model, warm-up's last layer"),
         ("model", "prototype model, last stage, L1 3e-6 (default)")]


def variants(out):
    found = {os.path.basename(p)[len("heldout_l1_"):-len(".json")]
             for p in glob.glob(os.path.join(out, "s*", "heldout_l1_*.json"))}
    l1s = sorted(found, key=float, reverse=True)
    return FIXED + [(f"l1_{v}", f"prototype model, last stage, L1 {v}") for v in l1s]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--markdown")
    ap.add_argument("--json")
    a = ap.parse_args()
    res, per_class = {}, {}
    rows = []
    for key, name in variants(a.out):
        per_seed = []
        for seed in SEEDS:
            vals = []
            for half in "AB":
                path = os.path.join(a.out, f"s{seed}{half}", f"heldout_{key}.json")
                if not os.path.isfile(path):
                    continue
                j = json.load(open(path))
                vals.append(j["macro_auroc"])
                for c in j["per_class"]:
                    pc = per_class.setdefault(key, {}).setdefault(c["label"], [0, []])
                    if c["auroc"] is not None:
                        pc[0] += c["support"] if seed == SEEDS[0] else 0
                        pc[1].append(c["auroc"])
            per_seed.append(sum(vals) / 2 if len(vals) == 2 else None)
        done = [v for v in per_seed if v is not None]
        mean = sum(done) / len(done) if len(done) == len(SEEDS) else None
        res[key] = {"name": name, "per_seed": dict(zip(map(str, SEEDS), per_seed)), "mean": mean}
        cells = ["-" if v is None else f"{v:.4f}" for v in per_seed + [mean]]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    if not rows:
        sys.exit(f"summarize_cv: no results in {a.out}")
    md = ["| held-out macro-AUROC (mean of halves A, B) | seed 42 | seed 1 | seed 2 | mean |",
          "|---|---|---|---|---|"] + rows
    keys = [k for k, _ in variants(a.out) if k in per_class]
    if keys:
        md += ["", "| class | held-out positives | " + " | ".join(keys) + " |",
               "|---|---|" + "---|" * len(keys)]
        for label in per_class[keys[0]]:
            cells = []
            for k in keys:
                v = per_class[k].get(label, [0, []])[1]
                cells.append(f"{sum(v) / len(v):.3f}" if v else "-")
            md.append(f"| {label} | {per_class[keys[0]][label][0]} | " + " | ".join(cells) + " |")
    text = "\n".join(md) + "\n"
    print(text, end="")
    if a.markdown:
        open(a.markdown, "w").write(text)
    if a.json:
        json.dump({"variants": res, "per_class": {k: {c: (sum(v[1]) / len(v[1]) if v[1] else None)
                                                     for c, v in d.items()}
                                                 for k, d in per_class.items()}},
                  open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
