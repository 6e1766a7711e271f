#!/usr/bin/env python3
"""A PTB-XL root for cross-validation inside the training folds (scripts/cv_last_layer).

    python3 scripts/cv_root.py SRC_ROOT OUT_ROOT --train 1,2,3,4 --heldout 5,6,7,8

Writes OUT_ROOT/ptbxl_database.csv, a copy of SRC_ROOT's with `strat_fold` rewritten so
that protoecg trains on the --train folds (kept as they are), validates on fold 9 (kept)
and scores the --heldout folds as its "test" fold (rewritten to 10). The real test fold
(10) is left out of OUT_ROOT entirely, so nothing run on OUT_ROOT can see it. Records
and scp_statements.csv are symbolic links to SRC_ROOT: no signal is copied.
"""
import argparse
import csv
import os
import sys


def folds(text):
    out = {int(f) for f in text.split(",")}
    if not out or not out <= set(range(1, 9)):
        raise argparse.ArgumentTypeError(f"folds must be in 1..8: {text}")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("--train", type=folds, required=True)
    ap.add_argument("--heldout", type=folds, required=True)
    a = ap.parse_args()
    if a.train & a.heldout:
        sys.exit("cv_root: --train and --heldout share folds")
    src = os.path.abspath(a.src)
    db = os.path.join(src, "ptbxl_database.csv")
    if not os.path.isfile(db):
        sys.exit(f"cv_root: {db}: not found (give the PTB-XL root)")
    os.makedirs(a.out, exist_ok=True)
    for name in ("records100", "records500", "scp_statements.csv"):
        target, link = os.path.join(src, name), os.path.join(a.out, name)
        if os.path.exists(target) and not os.path.lexists(link):
            os.symlink(target, link)
    kept = {"train": 0, "val": 0, "heldout": 0}
    tmp = os.path.join(a.out, "ptbxl_database.csv.tmp")
    with open(db, newline="") as fin, open(tmp, "w", newline="") as fout:
        r = csv.reader(fin)
        w = csv.writer(fout, lineterminator="\n")
        head = next(r)
        col = head.index("strat_fold")
        w.writerow(head)
        for row in r:
            f = int(row[col])
            if f in a.train:
                kept["train"] += 1
            elif f == 9:
                kept["val"] += 1
            elif f in a.heldout:
                row[col] = "10"
                kept["heldout"] += 1
            else:
                continue
            w.writerow(row)
    os.replace(tmp, os.path.join(a.out, "ptbxl_database.csv"))
    print(f"{a.out}: train folds {sorted(a.train)} {kept['train']} records, validation "
          f"{kept['val']}, held out {sorted(a.heldout)} as fold 10: {kept['heldout']}")


if __name__ == "__main__":
    main()
