#!/usr/bin/env python3
"""Builds a PTB-XL root of the full dataset's size from a smaller one, to measure what
protoecg needs (time, memory, disk) on a full download where it cannot be fetched.
Python standard library only.

  make_scaled_ptbxl.py SRC OUT [--n 21799]

OUT gets ptbxl_database.csv with n rows: the rows of SRC cycled, the k-th copy of a
record with ecg_id = its position (1..n), patient_id offset by k * 10^6 (copies are
different patients), the same scp_codes and strat_fold (so the split proportions and
label frequencies are SRC's), and records100/NNNNN/NNNNN_lr.{hea,dat}: each header
rewritten for its new record name (first line and the signal file name of each lead),
each .dat a symbolic link to SRC's file. SRC's files are never modified or copied.
The signals repeat, so the figures of a model trained on OUT mean nothing; its time
and memory are those of a full download.
"""
import argparse
import csv
import os
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("--n", type=int, default=21799)
    a = ap.parse_args()
    src = os.path.abspath(a.src)
    with open(os.path.join(src, "ptbxl_database.csv"), newline="") as f:
        rd = csv.reader(f)
        header = next(rd)
        rows = list(rd)
    if not rows:
        sys.exit(f"{src}/ptbxl_database.csv: no records")
    col = {name: i for i, name in enumerate(header)}
    os.makedirs(a.out, exist_ok=True)
    out_rows = []
    for new_id in range(1, a.n + 1):
        k, i = divmod(new_id - 1, len(rows))
        row = list(rows[i])
        old_rel = row[col["filename_lr"]]
        new_rel = "records100/%05d/%05d_lr" % (new_id // 1000 * 1000, new_id)
        row[col["ecg_id"]] = str(new_id)
        if row[col["patient_id"]]:
            row[col["patient_id"]] = "%.1f" % (float(row[col["patient_id"]]) + k * 1e6)
        row[col["filename_lr"]] = new_rel
        row[col["filename_hr"]] = "records500/%05d/%05d_hr" % (new_id // 1000 * 1000, new_id)
        out_rows.append(row)
        old_name = os.path.basename(old_rel)
        new_name = os.path.basename(new_rel)
        os.makedirs(os.path.join(a.out, os.path.dirname(new_rel)), exist_ok=True)
        with open(os.path.join(src, old_rel + ".hea")) as f:
            lines = f.read().split("\n")
        lines[0] = lines[0].replace(old_name, new_name, 1)
        lines = [lines[0]] + [ln.replace(old_name + ".dat", new_name + ".dat", 1)
                              for ln in lines[1:]]
        with open(os.path.join(a.out, new_rel + ".hea"), "w") as f:
            f.write("\n".join(lines))
        dat = os.path.join(a.out, new_rel + ".dat")
        if os.path.lexists(dat):
            os.remove(dat)
        os.symlink(os.path.join(src, old_rel + ".dat"), dat)
    with open(os.path.join(a.out, "ptbxl_database.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(out_rows)
    scp = os.path.join(src, "scp_statements.csv")
    if os.path.exists(scp):
        dst = os.path.join(a.out, "scp_statements.csv")
        if not os.path.lexists(dst):
            os.symlink(scp, dst)
    print(f"{a.out}: {a.n} records from {len(rows)} of {src}")


if __name__ == "__main__":
    main()
