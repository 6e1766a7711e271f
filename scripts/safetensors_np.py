"""Minimal safetensors reader/writer on numpy (no dependency on the
`safetensors` package, which Debian does not ship). Used by the golden-file
scripts, the converter and the benchmarks; never at run time."""
import json
import struct

import numpy as np

_DTYPES = {
    "F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32,
    "I16": np.int16, "U8": np.uint8, "I8": np.int8, "F16": np.float16,
}
_NAMES = {np.dtype(v): k for k, v in _DTYPES.items()}


class BF16:
    """Marks a float array to be stored as BF16 by save(): rounded to nearest,
    ties to even (NaN stays a quiet NaN), as torch's .to(torch.bfloat16) does."""

    def __init__(self, a):
        self.array = np.asarray(a, dtype=np.float32)

    def bits(self):
        u = np.atleast_1d(self.array).view(np.uint32).astype(np.uint64)
        c16, one = np.uint64(16), np.uint64(1)
        r = (u + np.uint64(0x7FFF) + ((u >> c16) & one)) >> c16
        nan = np.isnan(np.atleast_1d(self.array))
        r[nan] = (u[nan] >> c16) | np.uint64(0x40)
        return r.astype(np.uint16).reshape(self.array.shape)


def save(path, tensors, metadata=None):
    """tensors: dict name -> numpy array (or BF16(array)); metadata: dict str -> str."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        t = tensors[name]
        if isinstance(t, BF16):
            a, dtype = t.bits(), "BF16"
        else:
            a = np.asarray(t, order="C")  # (ascontiguousarray turns 0-d into 1-d)
            if a.dtype not in _NAMES:
                raise TypeError(f"{name}: unsupported dtype {a.dtype}")
            dtype = _NAMES[a.dtype]
        raw = a.tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for raw in blobs:
            f.write(raw)


def load(path):
    """Returns (dict name -> numpy array, metadata dict)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, info in header.items():
        if info["dtype"] == "BF16":
            s, e = info["data_offsets"]
            u16 = np.frombuffer(data[base + s:base + e], dtype=np.uint16)
            arr = (u16.astype(np.uint32) << 16).view(np.float32)
        else:
            dt = _DTYPES[info["dtype"]]
            s, e = info["data_offsets"]
            arr = np.frombuffer(data[base + s:base + e], dtype=dt)
        out[name] = arr.reshape(info["shape"]).copy()
    return out, meta
