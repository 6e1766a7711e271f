#!/usr/bin/env bash
# Projection keeps its promise end to end: every prototype of a trained model is the
# latent of its source record. On a synthetic dataset (scripts/make_tiny_ptbxl.py) with a
# tiny network trained through all stages, for every prototype, `protoecg explain` of its
# source ecg_id (read from the WFDB files through the model's own preprocessing, not from
# training's cache) must give that prototype a similarity of 1 (within 1e-5), and the
# model file must record the source's labels, with the prototype's class among them.
# Skips (exit 77) only without python3.
set -u
cd "$(dirname "$0")/.."
source tests/synthetic_test_env.sh

"$PY" scripts/make_tiny_ptbxl.py "$work/data" || { echo "FAIL: make_tiny_ptbxl.py"; exit 1; }
K=2
if ! "$bin" train --ptbxl "$work/data" --out "$work/run" --width 4 --latent 32 \
    --protos-per-class $K --epochs-pretrain 1 --epochs-warmup 2 --warmup-projected 1 \
    --epochs-last 1 --batch 16 --threads 1 --quiet >/dev/null 2>"$work/err"; then
  fail "training: $(head -5 "$work/err")"
  exit 1
fi
M=$work/run/model.safetensors
# the model's prototype sources (safetensors metadata) to sources.json, their ecg_ids
ids=$("$PY" - "$M" "$work/sources.json" <<'PYEOF'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack_from("<Q", raw, 0)[0]
src = json.loads(json.loads(raw[8:8 + n])["__metadata__"]["prototype_sources"])
json.dump(src, open(sys.argv[2], "w"))
print(" ".join(sorted({str(s["ecg_id"]) for s in src if s["ecg_id"] >= 0}, key=int)))
PYEOF
)
[[ -n "$ids" ]] || { fail "no projected prototype in $M"; exit 1; }
for id in $ids; do
  if ! "$bin" explain --model "$M" --ptbxl "$work/data" "$id" --all --top $K \
      --json "$work/e_$id.json" >/dev/null 2>"$work/err"; then
    fail "explain $id: $(head -3 "$work/err")"
  fi
done
if "$PY" - "$work" >"$work/out" 2>&1 <<'PYEOF'
import json, sys
work, checked, bad = sys.argv[1], 0, []
src = json.load(open(f"{work}/sources.json"))
for s in src:
    if s["ecg_id"] < 0:
        continue
    ex = json.load(open(f"{work}/e_{s['ecg_id']}.json"))
    sims = {p["prototype"]: p for e in ex["explanations"]
            for p in e["prototypes"] + e.get("other_prototypes", [])}
    p = sims.get(s["prototype"])
    if p is None or abs(p["similarity"] - 1) > 1e-5:
        bad.append(f"prototype {s['prototype']}: similarity to its source {s['ecg_id']} is "
                   f"{p and p['similarity']}")
    if s["class"] not in s["labels"] or p and p["source_labels"] != s["labels"]:
        bad.append(f"prototype {s['prototype']} ({s['class']}): source labels {s['labels']}")
    checked += 1
print(f"{checked} prototypes checked against their sources")
for b in bad:
    print(b)
sys.exit(1 if bad or checked == 0 else 0)
PYEOF
then
  echo "ok: $(cat "$work/out")"
else
  fail "$(cat "$work/out")"
fi
((fails == 0)) && echo "all projection checks passed"
exit $((fails > 0))
