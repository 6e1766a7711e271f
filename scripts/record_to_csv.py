#!/usr/bin/env python3
"""Writes a WFDB format-16 record as a CSV table (standard library only).

    record_to_csv.py REC_NOEXT OUT.csv [--no-time] [--shuffle] [--scale S]

A header row, then a row per sample: a column `note` (not a lead), a column `time` in
seconds (left out with --no-time) and the leads in physical units (ADC value minus the
baseline, over the gain; times S with --scale, e.g. 1000 for microvolts). --shuffle
stores the leads in another order with their names in lower case. The tests use it to
check that protoecg reads such a table exactly like the record, independently of
protoecg's own readers."""
import argparse
import random

from concat_records import read_record


def gain_and_baseline(field):
    """'1000.0(0)/mV' -> (1000.0, 0). Without '(b)' WFDB's baseline is the ADC zero, which
    is 0 in the records the tests write."""
    value = field.split("/")[0]
    if "(" in value:
        g, b = value.rstrip(")").split("(")
        return float(g), int(b)
    return float(value), 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("record")
    ap.add_argument("out")
    ap.add_argument("--no-time", action="store_true")
    ap.add_argument("--shuffle", action="store_true")
    ap.add_argument("--scale", type=float, default=1.0)
    args = ap.parse_args()
    fs, leads, digital = read_record(args.record)
    fs = float(fs.split("/")[0])
    order = list(range(len(leads)))
    if args.shuffle:
        random.Random(7).shuffle(order)
    names = [leads[l][1].lower() if args.shuffle else leads[l][1] for l in order]
    scale = [gain_and_baseline(leads[l][0]) for l in order]
    with open(args.out, "w", newline="\n") as f:
        f.write(",".join(["note"] + ([] if args.no_time else ["time"]) + names) + "\n")
        for i in range(len(digital[0])):
            row = ["x"] + ([] if args.no_time else ["%.6f" % (i / fs)])
            row += [repr(args.scale * (digital[l][i] - b) / g) for l, (g, b) in zip(order, scale)]
            f.write(",".join(row) + "\n")


if __name__ == "__main__":
    main()
