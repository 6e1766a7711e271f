#!/usr/bin/python3
"""Tests scripts/convert_torch.py against a full-size rhythm model built in torch with
the authors' tensor names (spec section 3). Needs torch, so CI does not run it:
    /usr/bin/python3 scripts/test_convert_torch.py"""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import convert_torch as ct  # noqa: E402
import safetensors_np as st  # noqa: E402


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv1d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm1d(cout)
        self.conv2 = nn.Conv1d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm1d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv1d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm1d(cout))


class Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv1d(12, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm1d(64)
        w = [64, 64, 128, 256, 512]
        for i in range(1, 5):
            s = 1 if i == 1 else 2
            blocks = [Block(w[i - 1], w[i], s), Block(w[i], w[i], 1)]
            setattr(self, f"layer{i}", nn.Sequential(*blocks))


class ProtoNet(nn.Module):
    """Parameter names and shapes of the authors' rhythm model (no forward needed)."""

    def __init__(self, P=80, C=16):
        super().__init__()
        self.feature_extractor = Backbone()
        self.add_on_layers = nn.Sequential(nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 512),
                                           nn.Sigmoid())
        self.prototype_vectors = nn.Parameter(torch.randn(P, 512, 1))
        self.classifier = nn.Linear(P, C, bias=False)
        self.register_buffer("prototype_class_identity", torch.zeros(P, C))


def make_model():
    torch.manual_seed(1)
    m = ProtoNet()
    for mod in m.modules():  # non-trivial BN state
        if isinstance(mod, nn.BatchNorm1d):
            mod.running_mean.normal_()
            mod.running_var.uniform_(0.5, 2)
            mod.num_batches_tracked.fill_(1234)
    return m


RESULTS = []


def check(name, cond):
    RESULTS.append(cond)
    print(("ok   " if cond else "FAIL ") + name)


def main():
    model = make_model()
    sd = model.state_dict()
    tmp = tempfile.mkdtemp()
    pt = os.path.join(tmp, "authors.pt")
    out = os.path.join(tmp, "model.safetensors")
    logs = []
    # DataParallel naming inside a checkpoint dict
    torch.save({"epoch": 9, "state_dict": {"module." + k: v for k, v in sd.items()}}, pt)
    ct.to_safetensors(pt, out, log=logs.append)
    arrays, meta = st.load(out)

    check("all 127 tensors of the rhythm model, none unknown or missing",
          len(arrays) == 127 == len(ct.expected_names()) and set(arrays) == set(ct.expected_names())
          and "0 unknown, 0 missing" in logs[-1])
    check("every name known to the converter", all(ct.is_known(n) for n in sd))
    check("prototype_vectors squeezed (80,512,1) -> (80,512) and reported",
          arrays["prototype_vectors"].shape == (80, 512)
          and any("squeezed" in s for s in logs))
    same = all(np.array_equal(arrays[k], v.reshape(arrays[k].shape).numpy()) for k, v in sd.items())
    check("values identical to the torch state_dict", same)
    nbt = arrays["feature_extractor.layer3.0.downsample.1.num_batches_tracked"]
    check("num_batches_tracked stays int64",
          nbt.dtype == np.int64 and nbt.shape == () and nbt == 1234)
    check("k=1 downsample conv weight keeps 3 dims",
          arrays["feature_extractor.layer2.0.downsample.0.weight"].shape == (128, 64, 1))
    check("metadata format/version/source",
          meta == {"format": ct.FORMAT, "format_version": ct.FORMAT_VERSION,
                   "converted_from": "authors.pt"})
    with open(out, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], "little")
    names = [k for k in __import__("json").loads(raw[8:8 + n]) if k != "__metadata__"]
    check("header tensors sorted by name", names == sorted(names))

    # --metadata-from: copied, converted_from replaced
    meta_src = os.path.join(tmp, "meta.safetensors")
    st.save(meta_src, {"x": np.zeros(1, np.float32)},
            {"format": ct.FORMAT, "format_version": ct.FORMAT_VERSION, "K": "5",
             "converted_from": "old"})
    out2 = os.path.join(tmp, "model2.safetensors")
    ct.to_safetensors(pt, out2, metadata_from=meta_src, log=lambda s: None)
    _, meta2 = st.load(out2)
    check("--metadata-from copies metadata", meta2.get("K") == "5"
          and meta2["converted_from"] == "authors.pt")

    # to-torch, via the command line; loads strictly into the authors' module
    back = os.path.join(tmp, "back.pt")
    r = subprocess.run([sys.executable, os.path.join(HERE, "convert_torch.py"), "to-torch", out,
                        back, "--prototypes-3d"], capture_output=True, text=True)
    check("CLI to-torch exits 0", r.returncode == 0)
    m2 = ProtoNet()
    res = m2.load_state_dict(torch.load(back), strict=True)
    check("to-torch output loads strictly into the model", not res.missing_keys
          and not res.unexpected_keys)
    check("round trip torch -> safetensors -> torch is exact",
          all(torch.equal(v, m2.state_dict()[k]) for k, v in sd.items()))
    ct.to_torch(out, back, log=lambda s: None)
    check("without --prototypes-3d prototype_vectors is (P, D)",
          tuple(torch.load(back)["prototype_vectors"].shape) == (80, 512))

    # safetensors -> torch -> safetensors reproduces the file
    out3 = os.path.join(tmp, "model3.safetensors")
    ct.to_safetensors(back, out3, log=lambda s: None)
    a3, m3 = st.load(out3)
    check("safetensors -> torch -> safetensors identical tensors",
          set(a3) == set(arrays) and all(np.array_equal(a3[k], arrays[k]) for k in arrays))

    # plain state_dict, whole module, other dtypes, unknown tensors
    plain = os.path.join(tmp, "plain.pth")
    extra = dict(sd)
    extra["fc.weight"] = torch.ones(16, 512, dtype=torch.float64)
    extra["add_on_layers.0.bias"] = extra["add_on_layers.0.bias"].to(torch.bfloat16)
    extra["mask"] = torch.tensor([True, False])
    torch.save(extra, plain)
    logs = []
    ct.to_safetensors(plain, out3, log=logs.append)
    a4, _ = st.load(out3)
    check("unknown tensors kept and reported",
          "fc.weight" in a4 and any("unknown tensor fc.weight" in s for s in logs)
          and any("unknown tensor mask" in s for s in logs))
    check("float64 / bfloat16 -> F32, bool -> U8",
          a4["fc.weight"].dtype == np.float32 and a4["add_on_layers.0.bias"].dtype == np.float32
          and a4["mask"].dtype == np.uint8 and list(a4["mask"]) == [1, 0])
    whole = os.path.join(tmp, "whole.pt")
    torch.save(model, whole)
    ct.to_safetensors(whole, out3, log=lambda s: None)
    check("a whole pickled nn.Module is accepted", len(st.load(out3)[0]) == 127)

    bad = os.path.join(tmp, "bad.pt")
    torch.save({"epoch": 1}, bad)
    r = subprocess.run([sys.executable, os.path.join(HERE, "convert_torch.py"), "to-safetensors",
                        bad, out3], capture_output=True, text=True)
    check("no state_dict -> clear error naming the file",
          r.returncode != 0 and "bad.pt: no state_dict found" in r.stderr)
    shutil.rmtree(tmp)
    n_pass = sum(RESULTS)
    print(f"{n_pass} passed, {len(RESULTS) - n_pass} failed")
    return 0 if all(RESULTS) else 1


if __name__ == "__main__":
    sys.exit(main())
