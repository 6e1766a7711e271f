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


def save(path, tensors, metadata=None):
    """tensors: dict name -> numpy array; metadata: dict str -> str."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        if a.dtype not in _NAMES:
            raise TypeError(f"{name}: unsupported dtype {a.dtype}")
        raw = a.tobytes()
        header[name] = {"dtype": _NAMES[a.dtype], "shape": list(a.shape),
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
