#!/usr/bin/python3
"""Converts between a PyTorch state_dict file and a protoecg safetensors model file.

  convert_torch.py to-safetensors IN.pt OUT.safetensors [--metadata-from EXISTING.safetensors]
  convert_torch.py to-torch IN.safetensors OUT.pt [--prototypes-3d]

Tensor names are kept as they are (the authors' names: feature_extractor.conv1.weight,
feature_extractor.layer2.0.downsample.1.running_var, add_on_layers.0.weight,
prototype_vectors, classifier.weight, prototype_class_identity, ...).

to-safetensors: IN may hold a state_dict, a dict with 'state_dict' or 'model_state_dict',
or a whole nn.Module. A 'module.' prefix (DataParallel) is stripped. Floating tensors are
stored as F32, integer tensors (num_batches_tracked) as I64, bool as U8. prototype_vectors
of shape (P, D, 1, ...) is squeezed to (P, D). The protoecg metadata (format, format
version) goes into __metadata__; with --metadata-from, that file's metadata is copied
first. Tensors the rhythm model does not know are kept and reported.

to-torch: writes a plain state_dict (torch.save) with float32/int64 tensors;
--prototypes-3d stores prototype_vectors as (P, D, 1) like the authors' code.

Run with /usr/bin/python3 (needs torch and numpy)."""
import argparse
import os
import re
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np  # noqa: E402

FORMAT = "protoecg-model"
FORMAT_VERSION = "1"

_BN = r"(weight|bias|running_mean|running_var|num_batches_tracked)"
_KNOWN = re.compile("|".join([
    r"feature_extractor\.conv1\.weight",
    rf"feature_extractor\.bn1\.{_BN}",
    r"feature_extractor\.layer[1-4]\.[01]\.conv[12]\.weight",
    rf"feature_extractor\.layer[1-4]\.[01]\.bn[12]\.{_BN}",
    r"feature_extractor\.layer[2-4]\.0\.downsample\.0\.weight",
    rf"feature_extractor\.layer[2-4]\.0\.downsample\.1\.{_BN}",
    r"add_on_layers\.[02]\.(weight|bias)",
    r"prototype_vectors",
    r"classifier\.weight",
    r"prototype_class_identity",
]))


def expected_names():
    """The full list of tensors of the rhythm model (spec section 3)."""
    bn = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    fe = "feature_extractor."
    names = [fe + "conv1.weight"] + [fe + "bn1." + s for s in bn]
    for layer in range(1, 5):
        for block in range(2):
            p = f"{fe}layer{layer}.{block}."
            names += [p + "conv1.weight", p + "conv2.weight"]
            names += [p + f"bn{k}." + s for k in (1, 2) for s in bn]
            if layer > 1 and block == 0:
                names += [p + "downsample.0.weight"] + [p + "downsample.1." + s for s in bn]
    names += ["add_on_layers.0.weight", "add_on_layers.0.bias",
              "add_on_layers.2.weight", "add_on_layers.2.bias",
              "prototype_vectors", "classifier.weight", "prototype_class_identity"]
    return names


def is_known(name):
    return _KNOWN.fullmatch(name) is not None


def load_state_dict(path):
    """The state_dict inside a torch.save file (see the module docstring)."""
    obj = torch.load(path, map_location="cpu")
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if isinstance(obj, dict):
        for key in ("model_state_dict", "state_dict"):
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(torch.is_tensor(v) for v in obj.values()):
        raise SystemExit(f"{path}: no state_dict found (expected a dict of tensors, or a dict "
                         f"with 'state_dict' / 'model_state_dict')")
    return obj


def to_numpy(name, t, log):
    """A torch tensor as a numpy array of a protoecg dtype (F32, I64 or U8)."""
    t = t.detach().cpu()
    if t.is_complex():
        raise SystemExit(f"tensor {name}: complex dtype {t.dtype} not supported")
    if t.dtype == torch.bool:
        log(f"  {name}: bool -> U8")
        return t.to(torch.uint8).numpy()
    if t.is_floating_point():
        if t.dtype != torch.float32:
            log(f"  {name}: {t.dtype} -> float32")
        return t.to(torch.float32).contiguous().numpy()
    if t.dtype != torch.int64:
        log(f"  {name}: {t.dtype} -> int64")
    return t.to(torch.int64).contiguous().numpy()


def to_safetensors(src, dst, metadata_from=None, log=print):
    sd = load_state_dict(src)
    tensors = {}
    for name, t in sd.items():
        if name.startswith("module."):
            name = name[len("module."):]
        if name in tensors:
            raise SystemExit(f"{src}: tensor {name} appears twice (with and without 'module.')")
        a = to_numpy(name, t, log)
        if name == "prototype_vectors" and a.ndim > 2:
            if any(d != 1 for d in a.shape[2:]):
                raise SystemExit(f"{src}: prototype_vectors has shape {list(a.shape)}, "
                                 f"expected (P, D) or (P, D, 1)")
            log(f"  prototype_vectors: shape {list(a.shape)} squeezed to {list(a.shape[:2])}")
            a = a.reshape(a.shape[:2])
        tensors[name] = a
    unknown = sorted(n for n in tensors if not is_known(n))
    for n in unknown:
        log(f"  unknown tensor {n} {list(tensors[n].shape)} (kept)")
    missing = [n for n in expected_names() if n not in tensors]
    if missing:
        log(f"  {len(missing)} tensor(s) of the rhythm model missing, "
            f"e.g. {', '.join(missing[:3])}")
    meta = {}
    if metadata_from:
        _, meta = safetensors_np.load(metadata_from)
    meta.setdefault("format", FORMAT)
    meta.setdefault("format_version", FORMAT_VERSION)
    meta["converted_from"] = os.path.basename(src)
    tmp = dst + ".tmp"
    safetensors_np.save(tmp, tensors, dict(sorted(meta.items())))
    os.replace(tmp, dst)
    log(f"{dst}: {len(tensors)} tensors written ({len(unknown)} unknown, {len(missing)} missing)")
    return tensors, meta


def to_torch(src, dst, prototypes_3d=False, log=print):
    arrays, meta = safetensors_np.load(src)
    if meta.get("format") not in (None, FORMAT):
        log(f"  warning: {src}: metadata format is {meta['format']!r}, not {FORMAT!r}")
    sd = {}
    for name in sorted(arrays):
        a = arrays[name]
        t = torch.from_numpy(a.astype(np.float32) if a.dtype.kind == "f" else a.astype(np.int64))
        if name == "prototype_vectors" and prototypes_3d and t.dim() == 2:
            t = t.unsqueeze(-1)
        if not is_known(name):
            log(f"  unknown tensor {name} {list(t.shape)} (kept)")
        sd[name] = t
    tmp = dst + ".tmp"
    torch.save(sd, tmp)
    os.replace(tmp, dst)
    log(f"{dst}: {len(sd)} tensors written")
    return sd


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("to-safetensors", help="PyTorch state_dict -> protoecg safetensors")
    a.add_argument("src")
    a.add_argument("dst")
    a.add_argument("--metadata-from", help="copy __metadata__ from this safetensors file")
    b = sub.add_parser("to-torch", help="protoecg safetensors -> PyTorch state_dict")
    b.add_argument("src")
    b.add_argument("dst")
    b.add_argument("--prototypes-3d", action="store_true",
                   help="store prototype_vectors as (P, D, 1) like the authors' code")
    args = ap.parse_args(argv)
    if args.cmd == "to-safetensors":
        to_safetensors(args.src, args.dst, args.metadata_from)
    else:
        to_torch(args.src, args.dst, args.prototypes_3d)


if __name__ == "__main__":
    main()
