#!/usr/bin/python3
"""Writes the golden safetensors files read by tests/test_safetensors.c:

  tests/golden/tiny.safetensors         F32, BF16, I64, a scalar, an empty tensor and
                                        metadata, written by scripts/safetensors_np.py;
                                        the C writer must reproduce it byte for byte.
  tests/golden/tiny_dtypes.safetensors  F64, F16 (+ its float32 value from numpy), I32, U8.
  tests/golden/tiny_torch.safetensors   a small torch state_dict in the authors' naming
                                        (wrapped in {'model_state_dict': ...}, 'module.'
                                        prefix, float64 and (P, D, 1) prototypes), converted
                                        by scripts/convert_torch.py;
  tests/golden/tiny_torch.json          the expected tensors, taken from torch directly.

The BF16 rounding of safetensors_np (round to nearest even) is checked against torch's
.to(torch.bfloat16). Run: /usr/bin/python3 scripts/golden_safetensors.py"""
import json
import os
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import convert_torch  # noqa: E402
import safetensors_np as st  # noqa: E402

OUT = os.path.join(HERE, "..", "tests", "golden")

# float32 bit patterns that exercise BF16 rounding: exact, ties to even (down and up),
# just above / below a tie, negative tie, overflow to inf, subnormal, -0, +-inf, NaNs.
BF16_BITS = [0x3F800000, 0x3F808000, 0x3F818000, 0x3F808001, 0x3F807FFF, 0xBF818000,
             0x7F7FFFFF, 0x00000001, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000,
             0x7F800001, 0x40490FDB]


def tiny():
    src = np.array(BF16_BITS, dtype=np.uint32).view(np.float32)
    bf = st.BF16(src).bits()
    ref = torch.from_numpy(src.copy()).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    nan = np.isnan(src)
    assert (bf[~nan] == ref[~nan]).all(), (bf, ref)
    # NaN payloads differ (torch's vectorized CPU path gives 0xFFFF): both must be NaN.
    assert (bf[nan] == 0x7FC0).all() and ((ref[nan] & 0x7F80) == 0x7F80).all()
    assert ((ref[nan] & 0x7F) != 0).all()
    tensors = {
        "a.weight": (np.arange(6, dtype=np.float32) * 0.25 - 1).reshape(2, 3),
        "bf16": st.BF16(src),
        "bf16.src": src,
        "c.i64": np.array([-2**40, 0, 7, 2**63 - 1], dtype=np.int64),
        "scalar": np.array(3.5, dtype=np.float32),
        "empty": np.zeros((0, 4), dtype=np.float32),
    }
    meta = {"format": "protoecg", "format_version": "1",
            "note": 'quote " backslash \\ tab \t newline \n end'}
    st.save(os.path.join(OUT, "tiny.safetensors"), tensors, meta)


def tiny_dtypes():
    f16 = np.array([1.0, -2.0, 65504.0, 2.0**-24, 0.1, np.inf], dtype=np.float16)
    tensors = {
        "f64": np.array([1 / 3, -2.5, 1e-40, 3e38], dtype=np.float64),
        "f16": f16,
        "f16.ref": f16.astype(np.float32),
        "i32": np.array([[-5, 2**31 - 1]], dtype=np.int32),
        "u8": np.array([0, 255, 7], dtype=np.uint8),
    }
    st.save(os.path.join(OUT, "tiny_dtypes.safetensors"), tensors, {"kind": "dtypes"})


def tiny_torch():
    torch.manual_seed(0)
    conv = torch.nn.Conv1d(2, 3, 3, bias=False)
    bn = torch.nn.BatchNorm1d(3)
    bn(torch.randn(4, 3, 5))  # non-trivial running stats, num_batches_tracked = 1
    down = torch.nn.Conv1d(3, 4, 1, bias=False)  # (4, 3, 1): must NOT be squeezed
    lin = torch.nn.Linear(3, 3).double()  # float64 -> F32
    sd = {
        "feature_extractor.conv1.weight": conv.weight,
        "feature_extractor.layer2.0.downsample.0.weight": down.weight,
        "add_on_layers.0.weight": lin.weight,
        "add_on_layers.0.bias": lin.bias,
        "prototype_vectors": torch.randn(4, 3, 1),
        "classifier.weight": torch.tensor([[1, 1, -.5, -.5], [-.5, -.5, 1, 1]]),
        "prototype_class_identity": torch.tensor([[1., 0], [1, 0], [0, 1], [0, 1]]),
        "extra.unknown": torch.arange(3, dtype=torch.int32),
    }
    sd.update({f"feature_extractor.bn1.{k}": v for k, v in bn.state_dict().items()})
    sd = {"module." + k: v.detach() for k, v in sd.items()}
    with tempfile.TemporaryDirectory() as tmp:
        pt = os.path.join(tmp, "tiny_torch.pt")
        torch.save({"model_state_dict": sd, "epoch": 3}, pt)
        convert_torch.to_safetensors(pt, os.path.join(OUT, "tiny_torch.safetensors"),
                                     log=lambda s: None)
    ref = {}
    for k, v in sd.items():
        name = k[len("module."):]
        if name == "prototype_vectors":
            v = v[:, :, 0]
        integer = not v.is_floating_point()
        vals = v.to(torch.int64 if integer else torch.float32).flatten().tolist()
        ref[name] = {"dtype": "I64" if integer else "F32", "shape": list(v.shape), "values": vals}
    with open(os.path.join(OUT, "tiny_torch.json"), "w") as f:
        json.dump(ref, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    tiny()
    tiny_dtypes()
    tiny_torch()
    print("wrote", ", ".join(sorted(os.listdir(OUT))))
