#!/usr/bin/env bash
# examples/embed.c (the embedding API of include/protoecg.h in a program of its own):
# trains a tiny model on the shared PTB-XL subset (seconds), runs the example binary
# (built next to the protoecg binary given as $1) on a record and checks that
#   - it prints the 16 probabilities, equal (to the printed 3 decimals) to
#     `protoecg predict --json` on the same record;
#   - each explained class satisfies p = sigmoid(logit) and logit = own + other
#     prototype contributions (the prototype model has no bias), and lists its K own
#     prototypes by contribution and the 3 largest (in absolute value) contributions of
#     other classes' prototypes, each with contribution = weight x similarity;
#   - a plain ResNet-18 model is classified and said to have no prototypes;
#   - a missing record exits 1 naming the file, bad usage exits 2.
# Skips (77) without the shared data or the example binary.
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/data_test_env.sh
example="$(dirname "$bin")/embed_example"
if [[ ! -x "$example" ]]; then
  echo "SKIP: $example not built"
  exit 77
fi

"$bin" train --ptbxl "$data" --out "$tmp/run" --width 4 --latent 32 --protos-per-class 2 \
  --epochs 1 --epochs-pretrain 1 --epochs-warmup 1 --epochs-last 2 --batch 64 --quiet \
  --threads 1 >"$tmp/train.log" 2>&1 || { cat "$tmp/train.log"; fail "training failed"; }

# a test-fold record with AFIB, and the first record of the subset
rec1=$(awk -F, 'NR > 1 && /AFIB/ {print $1; exit}' "$data/ptbxl_database.csv")
for id in 1 "$rec1"; do
  rec="$data/records100/$(printf '%05d' $((id / 1000 * 1000)))/$(printf '%05d' "$id")_lr"
  [[ -f "$rec.hea" ]] || fail "no record $rec"
  "$example" "$tmp/run/model.safetensors" "$rec" >"$tmp/out.txt" || fail "embed_example failed on $rec"
  "$bin" predict --model "$tmp/run/model.safetensors" --json "$tmp/pred.json" "$rec" >/dev/null \
    || fail "predict failed"
  "$py" - "$tmp/out.txt" "$tmp/pred.json" <<'EOF' || fail "output of embed_example on $rec"
import json, math, re, sys
out = open(sys.argv[1]).read()
pred = json.load(open(sys.argv[2]))[0]["probabilities"]
bad = []
probs = dict(re.findall(r"^  ([0-9A-Z]+) +([0-9.]+)(?:  <- predicted)?$", out, re.M))
if len(probs) != 16: bad.append(f"{len(probs)} probabilities printed")
for k, v in pred.items():
    if abs(float(probs.get(k, "nan")) - v) > 6e-4: bad.append(f"{k}: {probs.get(k)} != predict's {v}")
classes = re.findall(r"^(predicted|most likely \(not predicted\)) (\S+): p = ([-0-9.]+), logit ([-0-9.]+) = "
                     r"([-+0-9.]+) \(own prototypes\) ([-+0-9.]+) \(others\)\n((?:  prototype.*\n?)*)"
                     r"((?:  other class.*\n?)*)", out, re.M)
if not classes: bad.append("no explained class")
predicted = {k for k, v in pred.items() if v >= 0.5}
shown = {c[1] for c in classes}
if predicted and shown != predicted: bad.append(f"explained {shown}, predicted {predicted}")
for kind, name, p, logit, own, other, protos, others in classes:
    p, logit, own, other = map(float, (p, logit, own, other))
    if abs(1 / (1 + math.exp(-logit)) - p) > 1.5e-3: bad.append(f"{name}: p != sigmoid(logit)")
    if abs(own + other - logit) > 2e-3: bad.append(f"{name}: own + other != logit")
    rows = re.findall(r"similarity ([-0-9.]+)  weight ([-+0-9.]+)  contribution ([-+0-9.]+)", protos)
    if len(rows) != 2: bad.append(f"{name}: {len(rows)} prototypes listed (K = 2)")
    orows = re.findall(r"other class (\S+) +prototype +\d+  similarity ([-0-9.]+)  weight ([-+0-9.]+)"
                       r"  contribution ([-+0-9.]+)", others)
    if len(orows) != 3: bad.append(f"{name}: {len(orows)} other classes' prototypes listed (want 3)")
    if any(c == name for c, *_ in orows): bad.append(f"{name}: its own prototype among the others")
    for s, w, c in rows + [r[1:] for r in orows]:
        # each printed to 3 decimals: s * w is off by up to 5e-4 (|s| + |w|) + 5e-4
        tol = 5e-4 * (abs(float(s)) + abs(float(w)) + 1) + 1e-6
        if abs(float(s) * float(w) - float(c)) > tol: bad.append(f"{name}: contribution != weight x similarity")
    for lst, f in ((rows, float), (orows, lambda v: abs(float(v)))):
        cs = [f(r[-1]) for r in lst]
        if cs != sorted(cs, reverse=True): bad.append(f"{name}: contributions not in descending order: {cs}")
for b in bad: print("  " + b)
sys.exit(1 if bad else 0)
EOF
done

# the plain ResNet-18 of the same run
"$example" "$tmp/run/pretrain.safetensors" "$rec" >"$tmp/base.txt" || fail "embed_example on the baseline"
grep -q "no prototypes" "$tmp/base.txt" || fail "baseline: no notice"
(( $(grep -c '^  [0-9A-Z]\+ \+[0-9.]\+' "$tmp/base.txt") == 16 )) || fail "baseline: not 16 probabilities"

# errors
rc=0; "$example" "$tmp/run/model.safetensors" "$tmp/nothing" 2>"$tmp/err" >/dev/null || rc=$?
((rc == 1)) || fail "missing record: exit $rc (want 1)"
grep -q "nothing.hea" "$tmp/err" || fail "the error does not name the file: $(cat "$tmp/err")"
rc=0; "$example" 2>/dev/null || rc=$?
((rc == 2)) || fail "no arguments: exit $rc (want 2)"
echo "cli_embed: OK"
