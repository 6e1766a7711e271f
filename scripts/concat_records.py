#!/usr/bin/env python3
"""Joins WFDB format-16 records in time into one longer record (standard library only).

    concat_records.py OUT_NOEXT REC_NOEXT [REC_NOEXT ...] [--seconds S]

The records must have the same leads (names and order), rate and gains; OUT_NOEXT.hea and
OUT_NOEXT.dat get their samples one after the other (the first S seconds of them with
--seconds). The tests use it to make records longer than 10 s from 10-s ones, whose
windows must then score exactly like the 10-s records they were made of."""
import argparse
import os
import struct


def read_record(path_noext):
    with open(path_noext + ".hea") as f:
        lines = [ln.split() for ln in f if ln.strip() and not ln.startswith("#")]
    name, n_sig, fs, n = lines[0][0], int(lines[0][1]), lines[0][2], int(lines[0][3])
    sigs = lines[1:1 + n_sig]
    if any(s[1] != "16" for s in sigs):
        raise SystemExit("%s: only format 16 is supported" % path_noext)
    with open(os.path.join(os.path.dirname(path_noext), sigs[0][0]), "rb") as f:
        raw = f.read()
    if len(raw) < 2 * n * n_sig:
        raise SystemExit("%s: the .dat file is shorter than the header says" % path_noext)
    frames = struct.unpack("<%dh" % (n * n_sig), raw[:2 * n * n_sig])
    leads = [(s[2], " ".join(s[8:])) for s in sigs]  # gain/units and description
    return fs, leads, [list(frames[l::n_sig]) for l in range(n_sig)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("records", nargs="+")
    ap.add_argument("--seconds", type=float)
    args = ap.parse_args()
    fs, leads, digital = read_record(args.records[0])
    for rec in args.records[1:]:
        fs2, leads2, d2 = read_record(rec)
        if (fs2, leads2) != (fs, leads):
            raise SystemExit("%s: another rate or other leads than %s" % (rec, args.records[0]))
        for l in range(len(digital)):
            digital[l] += d2[l]
    if args.seconds is not None:
        n = int(round(args.seconds * float(fs)))
        digital = [d[:n] for d in digital]
    n, name = len(digital[0]), os.path.basename(args.out)
    frames = [digital[l][k] for k in range(n) for l in range(len(digital))]
    with open(args.out + ".dat", "wb") as f:
        f.write(struct.pack("<%dh" % len(frames), *frames))
    with open(args.out + ".hea", "w", newline="\n") as f:
        f.write("%s %d %s %d\n" % (name, len(digital), fs, n))
        for (gain, desc), d in zip(leads, digital):
            f.write("%s.dat 16 %s 16 0 %d %d 0 %s\n" % (name, gain, d[0], sum(d) % 65536, desc))


if __name__ == "__main__":
    main()
