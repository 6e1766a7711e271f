#!/usr/bin/python3
"""Golden values for src/data/resample.c from scipy.signal.

Writes tests/golden/resample.json:
  firwin: {numtaps, cutoff, beta, h} = scipy.signal.firwin(numtaps, cutoff,
          window=('kaiser', beta)) for the filter resample_poly designs for 1:5
  cases:  [{name, up, down, x, y}] with y = scipy.signal.resample_poly(x, up, down)
          (defaults: window=('kaiser', 5.0), padtype='constant'). x are float32 values
          (written exactly), resampled in float64 like the C code.
  - random_5000_1_5, random_137_1_5: Gaussian noise, 500 Hz -> 100 Hz
  - ecg_5000_1_5: lead II of a real 100 Hz PTB-XL record upsampled to 500 Hz with
    resample_poly(x, 5, 1), then 5000 -> 1000 (skipped if the data is absent)
  - random_200_2_3, random_150_5_1, random_64_4_6 (gcd reduced to 2:3), random_50_3_3
Rerun: /usr/bin/python3 scripts/golden_resample.py
"""
import json
import os

import numpy as np
from scipy.signal import firwin, resample_poly

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "golden", "resample.json")
DATA = os.path.join(HERE, "..", "..", "shared", "data", "ptbxl")
rng = np.random.default_rng(20240611)


def f32(a):
    return np.asarray(a, dtype=np.float32)


def r(a, digits):
    """Floats rounded to `digits` significant digits (keeps the file small; the
    rounding error, < 1e-8 relative, is far below the 1e-6 test tolerance)."""
    return [float(f"{v:.{digits}g}") for v in np.asarray(a, dtype=np.float64)]


def read_lead(record, lead):
    """One lead (mV) of a WFDB format-16 record with 12 interleaved leads, gain 1000,
    baseline 0 (the layout of PTB-XL records100, see its README)."""
    raw = np.fromfile(record + ".dat", dtype="<i2").reshape(-1, 12)
    return raw[:, lead].astype(np.float64) / 1000.0


def case(name, x, up, down):
    x = f32(x)
    y = resample_poly(x.astype(np.float64), up, down)
    assert len(y) == -(-len(x) * up // down)
    return {"name": name, "up": up, "down": down,
            "x": [float(v) for v in x],  # float32 values are exact in shortest repr
            "y": r(y, 10)}


cases = [
    case("random_5000_1_5", rng.standard_normal(5000), 1, 5),
    case("random_137_1_5", rng.standard_normal(137), 1, 5),
    case("random_200_2_3", rng.standard_normal(200), 2, 3),
    case("random_150_5_1", rng.standard_normal(150), 5, 1),
    case("random_64_4_6", rng.standard_normal(64), 4, 6),
    case("random_50_3_3", rng.standard_normal(50), 3, 3),
]
rec = os.path.join(DATA, "records100", "00000", "00001_lr")
if os.path.exists(rec + ".dat"):
    x500 = resample_poly(read_lead(rec, 1), 5, 1)  # realistic 500 Hz lead II, 5000 samples
    cases.append(case("ecg_5000_1_5", x500, 1, 5))
else:
    print("warning: PTB-XL data not found, ecg case skipped")

h = firwin(101, 1.0 / 5, window=("kaiser", 5.0))
golden = {"firwin": {"numtaps": 101, "cutoff": 0.2, "beta": 5.0, "h": r(h, 17)},
          "cases": cases}
with open(OUT, "w") as f:
    json.dump(golden, f, separators=(",", ":"))
print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)")
