#!/usr/bin/env python3
"""Where one model's AUROC for a class is lost against another's: the class's AUROC
taken apart by the kind of negative record (its set of true labels).

For a class, AUROC = mean over its negative records of the share of its positive
records scored above that negative (ties count 1/2). Grouping the negatives by their
label set writes the AUROC as a sum over groups of (group size / negatives) x (the
group's mean share), so the groups' terms add up to the AUROC exactly, and the
difference of two models splits the same way. Inputs are `protoecg eval --predictions`
CSVs of the same records (e.g. the prototype model and its plain ResNet-18), one pair
per run; the table averages the runs. Standard library only.

  python3 scripts/auroc_by_negatives.py --class SR A1.csv B1.csv [A2.csv B2.csv ...]
      [--names model resnet18] [--markdown FILE]
"""
import argparse
import bisect
import csv
import sys


def load(path, cls):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or "true_" + cls not in rows[0] or "prob_" + cls not in rows[0]:
        sys.exit(f"auroc_by_negatives: {path}: no rows or no columns true_{cls}/prob_{cls}")
    labels = [k[5:] for k in rows[0] if k.startswith("true_")]
    out = {}
    for r in rows:
        group = "+".join(c for c in labels if r["true_" + c] == "1") or "(no label)"
        out[r["ecg_id"]] = (r["true_" + cls] == "1", float(r["prob_" + cls]), group)
    return out


def shares(recs):
    """Per negative record: (group, share of positives scored above it, ties 1/2)."""
    pos = sorted(p for y, p, _ in recs.values() if y)
    if not pos:
        return None
    out = []
    for y, p, g in recs.values():
        if y:
            continue
        below = bisect.bisect_left(pos, p)
        ties = bisect.bisect_right(pos, p) - below
        out.append((g, (len(pos) - below - ties + 0.5 * ties) / len(pos)))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--class", dest="cls", required=True)
    ap.add_argument("--names", nargs=2, default=["A", "B"])
    ap.add_argument("--markdown")
    ap.add_argument("csvs", nargs="+")
    a = ap.parse_args()
    if len(a.csvs) % 2:
        sys.exit("auroc_by_negatives: give the predictions in pairs (A B) per run")
    runs = len(a.csvs) // 2
    terms = {}  # group -> [negatives (summed over runs), term A, term B]
    auc = [0.0, 0.0]
    for i in range(runs):
        recs = [load(a.csvs[2 * i + j], a.cls) for j in range(2)]
        if recs[0].keys() != recs[1].keys():
            sys.exit(f"auroc_by_negatives: {a.csvs[2 * i]} and {a.csvs[2 * i + 1]} hold "
                     "different records")
        for j in range(2):
            s = shares(recs[j])
            if not s:
                sys.exit(f"auroc_by_negatives: {a.csvs[2 * i + j]}: {a.cls} has no positive "
                         "or no negative record")
            for g, share in s:
                t = terms.setdefault(g, [0, 0.0, 0.0])
                t[0] += j == 0
                t[1 + j] += share / len(s) / runs
                auc[j] += share / len(s) / runs
    A, B = a.names
    lines = [
        f"{a.cls}: AUROC {A} {auc[0]:.3f}, {B} {auc[1]:.3f} (mean of {runs} run(s)); "
        "each negative group's term (its share of the negatives x the mean share of "
        "positives scored above its records), the terms add up to the AUROC",
        "",
        f"| negatives' labels | records per run | {A} term | {B} term | {A} - {B} |",
        "|---|---|---|---|---|",
    ]
    for g, (n, ta, tb) in sorted(terms.items(), key=lambda kv: kv[1][1] - kv[1][2]):
        lines.append(f"| {g} | {n / runs:g} | {ta:.4f} | {tb:.4f} | {ta - tb:+.4f} |")
    lines.append(f"| all | | {auc[0]:.4f} | {auc[1]:.4f} | {auc[0] - auc[1]:+.4f} |")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
