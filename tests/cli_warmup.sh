#!/usr/bin/env bash
# The warm-up's parameter groups, end to end on a synthetic dataset
# (scripts/make_tiny_ptbxl.py) with a tiny network, read from the model files:
#   - by default the backbone is frozen: every backbone tensor of warmup1.safetensors
#     (weights and batch-norm statistics) is byte-identical to the pretrained network's,
#     and the add-on and the prototypes did move;
#   - --warmup-backbone-lr 0.1 moves the backbone;
#   - --warmup-addon-lr 0 leaves the add-on as it started: with --addon-init-gain the
#     standardization (first layer the identity with zero bias, second layer diagonal
#     with a positive diagonal; test_addon_init checks its values);
#   - --addon-init-gain with a latent size other than 8 x --width is refused; without the
#     option such a size falls back to PyTorch's init with a note.
# Skips (exit 77) only without python3.
set -u
cd "$(dirname "$0")/.."
source tests/synthetic_test_env.sh

"$PY" scripts/make_tiny_ptbxl.py "$work/data" || { echo "FAIL: make_tiny_ptbxl.py"; exit 1; }
cfg=(--ptbxl "$work/data" --cache "$work/cache.bin" --width 4 --latent 32 --protos-per-class 2
     --epochs-pretrain 1 --epochs-warmup 2 --warmup-projected 1 --epochs-last 1 --batch 16
     --threads 1 --quiet)
if ! "$bin" train "${cfg[@]}" --out "$work/pre" --stage pretrain 2>"$work/err"; then
  fail "pretraining: $(head -5 "$work/err")"
  exit 1
fi

# warmup NAME OPTIONS...: the warm-up (stage joint) on a copy of the pretraining
warmup() {
  local name=$1
  shift
  mkdir -p "$work/$name"
  cp "$work/pre/pretrain.safetensors" "$work/$name/"
  if ! "$bin" train "${cfg[@]}" --out "$work/$name" --stage joint "$@" 2>"$work/err"; then
    fail "warm-up $name ($*): $(head -5 "$work/err")"
    return 1
  fi
}

# check NAME EXPECT WHAT: EXPECT is a Python condition over `same` (every backbone tensor
# of NAME's warmup1.safetensors equals the pretrained one), `identity` (the add-on's first
# layer is the identity with zero bias) and `diagonal` (its second layer is diagonal with a
# positive diagonal).
check() {
  local name=$1 expect=$2 what=$3
  if "$PY" - "$work/pre/pretrain.safetensors" "$work/$name/warmup1.safetensors" "$expect" \
      >"$work/out" 2>&1 <<'PYEOF'
import json, struct, sys
from array import array

def load(path):
    raw = open(path, "rb").read()
    n = struct.unpack_from("<Q", raw, 0)[0]
    head = json.loads(raw[8:8 + n])
    out = {}
    for k, v in head.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[k] = raw[8 + n + a:8 + n + b]
    return out

pre, warm = load(sys.argv[1]), load(sys.argv[2])
backbone = [k for k in pre if not k.startswith("fc.")]
assert backbone and all(k in warm for k in backbone), "backbone tensors missing"
same = all(pre[k] == warm[k] for k in backbone)
def floats(b):
    a = array("f"); a.frombytes(b); return list(a)
addon = {k: floats(v) for k, v in warm.items() if k.startswith("add_on_layers.")}
D = int(len(addon["add_on_layers.0.bias"]))
identity = all(addon["add_on_layers.0.weight"][i * D + j] == (1.0 if i == j else 0.0)
               for i in range(D) for j in range(D)) and not any(addon["add_on_layers.0.bias"])
diagonal = all((addon["add_on_layers.2.weight"][i * D + j] > 0) == (i == j) and
               (i == j or addon["add_on_layers.2.weight"][i * D + j] == 0.0)
               for i in range(D) for j in range(D))
print(f"backbone unchanged: {same}, add-on identity/diagonal: {identity}/{diagonal}")
sys.exit(0 if eval(sys.argv[3]) else 1)
PYEOF
  then
    echo "ok: $what ($(cat "$work/out"))"
  else
    fail "$what: $(cat "$work/out")"
  fi
}

warmup default && check default "same and not (identity and diagonal)" \
  "default warm-up: backbone frozen, the add-on learns"
warmup backbone --warmup-backbone-lr 0.1 && check backbone "not same" \
  "--warmup-backbone-lr 0.1: the backbone learns"
warmup fixed_addon --addon-init-gain 3 --warmup-addon-lr 0 && check fixed_addon \
  "same and identity and diagonal" "--addon-init-gain 3 --warmup-addon-lr 0: the add-on stays the standardization"

if "$bin" train "${cfg[@]}" --out "$work/bad" --latent 16 --addon-init-gain 3 2>"$work/err"; then
  fail "--addon-init-gain with --latent 16 (width 4: features 32) was accepted"
elif grep -q "addon-init-gain" "$work/err" && grep -q "32" "$work/err"; then
  echo "ok: --addon-init-gain with a latent size other than the feature width is refused: $(cat "$work/err")"
else
  fail "--addon-init-gain with --latent 16: unclear message: $(cat "$work/err")"
fi

# without --addon-init-gain, a latent size other than 8 x --width falls back to PyTorch's
# init with a note (the default start needs the two equal)
loud=()
for a in "${cfg[@]}"; do [[ $a == --quiet ]] || loud+=("$a"); done
if "$bin" train "${loud[@]}" --out "$work/fallback" --latent 16 --stage pretrain \
    >/dev/null 2>"$work/err" && grep -q "random init" "$work/err" &&
    grep -q '"addon_init_gain":[[:space:]]*0' "$work/fallback/config.json"; then
  echo "ok: --latent 16 without --addon-init-gain: the add-on starts from PyTorch's init, with a note"
else
  fail "--latent 16 without --addon-init-gain: $(head -3 "$work/err")"
fi

((fails == 0)) && echo "all warm-up checks passed"
exit $((fails > 0))
