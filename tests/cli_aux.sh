#!/usr/bin/env bash
# `protoecg train --aux-statements N` on the shared PTB-XL subset, with a tiny network:
#   - the auxiliary outputs listed in aux_statements.json (names, order and training
#     positives) equal an independent Python computation from ptbxl_database.csv and
#     scp_statements.csv (standard library only);
#   - pretrain.safetensors keeps the 16 rhythm outputs of the wide head (fc.weight
#     16 x 32), and `protoecg eval` of that file reproduces the validation macro-AUROC
#     that training recorded for it;
#   - a run killed inside the pretraining and continued with --resume ends with the same
#     pretrain.safetensors and metrics.jsonl as an uninterrupted run;
#   - a root without scp_statements.csv is refused with a message naming the file;
#   - on a synthetic dataset (scripts/make_tiny_ptbxl.py, NORM added to the SR records)
#     with batches of nearly the training split's size, the run completes (under the sanitizer
#     build: without a memory error) and lists NORM and the NORM superclass.
# Skips (exit 77) without the shared data.
set -u
cd "$(dirname "$0")/.."
source tests/data_test_env.sh "$@"
bg=
trap '[[ -n "$bg" ]] && kill -9 "$bg" 2>/dev/null; rm -rf "$tmp"' EXIT
cfg=(--width 4 --latent 32 --protos-per-class 2 --epochs-pretrain 3 --stage pretrain
     --aux-statements 10 --batch 64 --threads 1 --seed 3 --cache "$tmp/cache.bin" --quiet)

run() { # run DIR ARGS...: a training that must succeed
  local d=$1
  shift
  "$bin" train --ptbxl "$data" --out "$d" "${cfg[@]}" "$@" >"$tmp/out" 2>"$tmp/err" ||
    fail "train --out $d: $(head -5 "$tmp/err")"
  ! grep -qE "AddressSanitizer|LeakSanitizer|runtime error" "$tmp/err" ||
    fail "train --out $d: sanitizer report: $(head -20 "$tmp/err")"
}
run "$tmp/a"

"$py" - "$data" "$tmp/a/aux_statements.json" <<'PYEOF' || fail "aux_statements.json differs from the Python computation"
import ast, collections, csv, json, sys
root, path = sys.argv[1], sys.argv[2]
C16 = set("1AVB IVCD 3AVB 2AVB SR AFIB STACH SARRH SBRAD PACE SVARR BIGU AFLT SVTAC PSVT TRIGU".split())
st = {r[""]: r["diagnostic_class"] for r in csv.DictReader(open(f"{root}/scp_statements.csv"))}
count, supers = collections.Counter(), collections.Counter()
for r in csv.DictReader(open(f"{root}/ptbxl_database.csv")):
    if int(r["strat_fold"]) <= 8:
        d = ast.literal_eval(r["scp_codes"])
        count.update(d.keys())  # most_common: by count, ties in first-seen order
        supers.update({st[k] for k in d if st.get(k)})
want = [(k, n) for k, n in count.most_common() if k not in C16 and n >= 10]
want += [("class:" + s, supers[s]) for s in ["NORM", "MI", "STTC", "CD", "HYP"] if supers[s] >= 10]
got = [(o["name"], o["train_positives"]) for o in json.load(open(path))["outputs"]]
print(f"{len(got)} outputs, e.g. {got[:3]} ... {got[-2:]}")
sys.exit(0 if got == want else f"expected {want}")
PYEOF
echo "ok: aux_statements.json equals the Python computation"

"$py" - "$tmp/a/pretrain.safetensors" <<'PYEOF' || fail "pretrain.safetensors does not hold the 16 rhythm outputs"
import json, struct, sys
b = open(sys.argv[1], "rb").read()
h = json.loads(b[8:8 + struct.unpack("<Q", b[:8])[0]])
print("fc.weight", h["fc.weight"]["shape"], "fc.bias", h["fc.bias"]["shape"])
sys.exit(0 if h["fc.weight"]["shape"] == [16, 32] and h["fc.bias"]["shape"] == [16] else 1)
PYEOF
"$bin" eval --model "$tmp/a/pretrain.safetensors" --ptbxl "$data" --split val --threads 1 \
  --bootstrap 10 --cache "$tmp/eval_cache.bin" --json "$tmp/eval.json" --quiet >/dev/null 2>"$tmp/err" ||
  fail "eval of pretrain.safetensors: $(head -5 "$tmp/err")"
"$py" - "$tmp/a/results.json" "$tmp/eval.json" <<'PYEOF' || fail "eval of pretrain.safetensors differs from training's figure"
import json, sys
a = json.load(open(sys.argv[1]))["pretrain"]["val_macro_auroc"]
b = json.load(open(sys.argv[2]))["macro_auroc"]
print(f"validation macro-AUROC: training {a:.6f}, eval {b:.6f}")
sys.exit(0 if abs(a - b) < 1e-4 else 1)
PYEOF
echo "ok: pretrain.safetensors holds the 16 rhythm outputs and evaluates as recorded"

# killed once its first checkpoint is written (renamed into place whole), then resumed
"$bin" train --ptbxl "$data" --out "$tmp/b" "${cfg[@]}" >/dev/null 2>&1 &
bg=$!
while kill -0 "$bg" 2>/dev/null && [[ ! -e "$tmp/b/checkpoint.safetensors" ]]; do
  sleep 0.01
done
kill -9 "$bg" 2>/dev/null
wait "$bg" 2>/dev/null
rc=$?
bg=
((rc == 137)) || fail "the run to kill ended by itself (exit $rc)"
run "$tmp/b" --resume
strip() { sed -E 's/"seconds":[[:space:]]*[0-9.eE+-]+,?//g' "$1"; }
cmp -s "$tmp/a/pretrain.safetensors" "$tmp/b/pretrain.safetensors" ||
  fail "resumed run: pretrain.safetensors differs"
diff <(strip "$tmp/a/metrics.jsonl") <(strip "$tmp/b/metrics.jsonl") >/dev/null ||
  fail "resumed run: metrics.jsonl differs"
echo "ok: killed in the pretraining and resumed: the same pretrain.safetensors and metrics"

# a root without scp_statements.csv
mkdir -p "$tmp/root"
ln -s "$(realpath "$data")/ptbxl_database.csv" "$tmp/root/"
ln -s "$(realpath "$data")/records100" "$tmp/root/"
if "$bin" train --ptbxl "$tmp/root" --out "$tmp/c" "${cfg[@]}" >/dev/null 2>"$tmp/err"; then
  fail "a root without scp_statements.csv was accepted"
elif ! grep -q "scp_statements.csv" "$tmp/err"; then
  fail "no clear message for a missing scp_statements.csv: $(cat "$tmp/err")"
else
  echo "ok: a root without scp_statements.csv is refused: $(cat "$tmp/err")"
fi

# a synthetic root: 48 training records, batches of 46 (46 x 18 logits > 48 x 16)
"$py" scripts/make_tiny_ptbxl.py "$tmp/tiny" >/dev/null || fail "make_tiny_ptbxl.py"
sed -i "s/'SR': /'NORM': 100.0, 'SR': /" "$tmp/tiny/ptbxl_database.csv"
printf ',description,diagnostic_class\nNORM,normal ECG,NORM\nSR,sinus rhythm,\n' \
  >"$tmp/tiny/scp_statements.csv"
"$bin" train --ptbxl "$tmp/tiny" --out "$tmp/t" --width 4 --latent 32 --protos-per-class 2 \
  --epochs-pretrain 2 --epochs-warmup 1 --epochs-last 1 --batch 46 --aux-statements 1 \
  --threads 1 --quiet >/dev/null 2>"$tmp/err" || fail "synthetic run: $(head -5 "$tmp/err")"
! grep -qE "AddressSanitizer|LeakSanitizer|runtime error" "$tmp/err" ||
  fail "synthetic run: sanitizer report: $(head -20 "$tmp/err")"
names=$("$py" -c "import json,sys; print(' '.join(o['name'] for o in json.load(open(sys.argv[1]))['outputs']))" \
  "$tmp/t/aux_statements.json")
[[ "$names" == "NORM class:NORM" ]] || fail "synthetic run: outputs '$names', expected 'NORM class:NORM'"
[[ -f "$tmp/t/model.safetensors" ]] || fail "synthetic run: no model.safetensors"
echo "ok: a synthetic run with batches of 46 of 48 training records: outputs $names"
