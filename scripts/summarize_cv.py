#!/usr/bin/env python3
"""Table of scripts/cv_last_layer: held-out macro-AUROC of every variant, per seed (mean
of the parts: halves A, B or quarters Q1-Q4) and over seeds, the same over the classes with at least MIN_SUPPORT
held-out positives (the figures least moved by a few records), and per class for the
ResNet-18 and the prototype models (mean over seeds and parts, held-out positives summed
over the parts).

    python3 scripts/summarize_cv.py OUTDIR [--markdown FILE] [--json FILE]
"""
import argparse
import glob
import json
import os
import re
import sys

SEEDS = (42, 1, 2)  # their order in the table; others found in OUTDIR follow
MIN_SUPPORT = 50  # held-out positives over all parts: 1AVB IVCD SR AFIB STACH SARRH SBRAD


def frequent_classes(out, seed, parts):
    """The classes with at least MIN_SUPPORT positives in the held-out parts of one seed
    (the same for every seed and variant: the held-out folds are)."""
    total = {}
    for part in parts:
        for path in glob.glob(os.path.join(out, f"s{seed}{part}", "heldout_*.json"))[:1]:
            for c in json.load(open(path))["per_class"]:
                total[c["label"]] = total.get(c["label"], 0) + c["support"]
    return {c for c, n in total.items() if n >= MIN_SUPPORT}


def seeds_and_parts(out):
    """The seeds and parts of OUTDIR's run directories s<seed><part> (part A, B, Q1, ...)."""
    found = [m.groups() for d in os.listdir(out)
             if os.path.isdir(os.path.join(out, d)) and (m := re.fullmatch(r"s(\d+)([A-Z]\w*)", d))]
    seeds = {int(s) for s, _ in found}
    return ([s for s in SEEDS if s in seeds] + sorted(seeds - set(SEEDS)),
            sorted({p for _, p in found}))
FIXED = [("resnet18", "plain ResNet-18"), ("projected", "prototype model, warm-up's last layer"),
         ("model", "prototype model, last stage, the run's settings")]


def variants(out):
    """(key, name) of every heldout_<key>.json: the fixed three, the last stage's other L1
    weights (cv_last_layer), then the head variants of scripts/cv_head."""
    keys = {os.path.basename(p)[len("heldout_"):-len(".json")]
            for p in glob.glob(os.path.join(out, "s*", "heldout_*.json"))}
    fixed = [(k, n) for k, n in FIXED if k in keys]
    l1s = sorted((k for k in keys if k.startswith("l1_")), key=lambda k: float(k[3:]), reverse=True)
    rest = sorted(keys - {k for k, _ in FIXED} - set(l1s))
    return (fixed + [(k, f"prototype model, last stage, L1 {k[3:]}") for k in l1s] +
            [(k, f"head variant {k}") for k in rest])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--markdown")
    ap.add_argument("--json")
    a = ap.parse_args()
    seeds, parts = seeds_and_parts(a.out)
    frequent_set = frequent_classes(a.out, seeds[0], parts)
    res, per_class = {}, {}
    rows = []
    for key, name in variants(a.out):
        per_seed, per_seed_big = [], []
        for seed in seeds:
            vals, big = [], []
            for part in parts:
                path = os.path.join(a.out, f"s{seed}{part}", f"heldout_{key}.json")
                if not os.path.isfile(path):
                    continue
                j = json.load(open(path))
                vals.append(j["macro_auroc"])
                frequent = [c["auroc"] for c in j["per_class"] if c["label"] in frequent_set]
                big.append(sum(frequent) / len(frequent))
                for c in j["per_class"]:
                    pc = per_class.setdefault(key, {}).setdefault(c["label"], [0, []])
                    if c["auroc"] is not None:
                        pc[0] += c["support"] if seed == seeds[0] else 0
                        pc[1].append(c["auroc"])
            per_seed.append(sum(vals) / len(parts) if len(vals) == len(parts) else None)
            per_seed_big.append(sum(big) / len(parts) if len(big) == len(parts) else None)
        mean, mean_big = (sum(v) / len(v) if None not in v else None
                          for v in (per_seed, per_seed_big))
        res[key] = {"name": name, "per_seed": dict(zip(map(str, seeds), per_seed)), "mean": mean,
                    "mean_frequent_classes": mean_big}
        cells = ["-" if v is None else f"{v:.4f}" for v in per_seed + [mean, mean_big]]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    if not rows:
        sys.exit(f"summarize_cv: no results in {a.out}")
    md = [f"| held-out macro-AUROC (mean of parts {', '.join(parts)}) | "
          + "".join(f"seed {s} | " for s in seeds)
          + f"mean | mean, the {len(frequent_set)} classes with >= {MIN_SUPPORT} held-out positives |",
          "|---|" + "---|" * (len(seeds) + 2)] + rows
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
