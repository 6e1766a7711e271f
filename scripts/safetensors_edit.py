#!/usr/bin/env python3
"""Rewrites a safetensors file with edited metadata or without some tensors, to make the
broken model files of tests/cli_errors.sh. Python standard library only.

  safetensors_edit.py IN --list                          tensor names, one a line
  safetensors_edit.py IN --get-meta KEY                  print a metadata value
  safetensors_edit.py IN OUT [--set-meta KEY=VALUE]... [--drop-tensor NAME]...

The output is a valid safetensors file: 8-byte little-endian header length, the JSON
header (padded with blanks to a multiple of 8 bytes), the remaining tensors' bytes packed
without gaps in their original order.
"""
import argparse
import json
import struct
import sys


def read(path):
    with open(path, "rb") as f:
        blob = f.read()
    (hlen,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + hlen].decode("utf-8"))
    return header, blob[8 + hlen:]


def write(path, meta, tensors):
    """tensors: list of (name, dtype, shape, bytes) in file order."""
    header = {}
    if meta is not None:
        header["__metadata__"] = meta
    off = 0
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for t in tensors:
            f.write(t[3])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("input")
    ap.add_argument("output", nargs="?")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--get-meta")
    ap.add_argument("--set-meta", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--drop-tensor", action="append", default=[], metavar="NAME")
    a = ap.parse_args()
    header, data = read(a.input)
    meta = header.pop("__metadata__", None)
    entries = sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0])
    if a.list:
        for name, _ in entries:
            print(name)
        return 0
    if a.get_meta:
        print((meta or {}).get(a.get_meta, ""))
        return 0
    if not a.output:
        ap.error("OUT is required to write a file")
    for kv in a.set_meta:
        k, sep, v = kv.partition("=")
        if not sep:
            ap.error("--set-meta expects KEY=VALUE")
        meta = dict(meta or {})
        meta[k] = v
    for name in a.drop_tensor:
        if name not in header:
            sys.exit("safetensors_edit: no tensor %s in %s" % (name, a.input))
    tensors = []
    for name, t in entries:
        if name in a.drop_tensor:
            continue
        b, e = t["data_offsets"]
        tensors.append((name, t["dtype"], t["shape"], data[b:e]))
    write(a.output, meta, tensors)
    return 0


if __name__ == "__main__":
    sys.exit(main())
