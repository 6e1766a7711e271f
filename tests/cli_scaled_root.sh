#!/usr/bin/env bash
# scripts/make_scaled_ptbxl.py (the full-size stand-in of docs/results/scale): from a
# synthetic 60-record dataset it must write a 150-record root that protoecg reads without
# skipping a record, whose ecg_ids are 1..150, whose k-th copy of a record keeps that
# record's labels, fold and signal (the predictions of a model on a copy equal those on
# the original), and it must leave the source untouched.
# Skips (exit 77) only without python3.
set -u
cd "$(dirname "$0")/.."
source tests/synthetic_test_env.sh

"$PY" scripts/make_tiny_ptbxl.py "$work/src" --n 60 >/dev/null || { echo "FAIL: make_tiny_ptbxl.py"; exit 1; }
(cd "$work/src" && find . -type f -exec sha256sum {} + | sort) >"$work/src.sums"
if ! "$PY" scripts/make_scaled_ptbxl.py "$work/src" "$work/big" --n 150 >"$work/out" 2>&1; then
  fail "make_scaled_ptbxl.py: $(cat "$work/out")"
  exit 1
fi
if "$bin" prepare --ptbxl "$work/big" --out "$work/big.bin" --quiet >"$work/out" 2>&1 &&
    grep -q "150 records (0 skipped of 150 rows)" "$work/out"; then
  echo "ok: protoecg prepare reads all 150 records: $(cat "$work/out")"
else
  fail "prepare on the scaled root: $(cat "$work/out")"
fi
if "$PY" - "$work/src" "$work/big" >"$work/out" 2>&1 <<'PYEOF'
import csv, sys
src = list(csv.DictReader(open(sys.argv[1] + "/ptbxl_database.csv")))
big = list(csv.DictReader(open(sys.argv[2] + "/ptbxl_database.csv")))
assert [int(r["ecg_id"]) for r in big] == list(range(1, 151)), "ecg_ids are not 1..150"
for i, r in enumerate(big):
    s = src[i % len(src)]
    assert r["scp_codes"] == s["scp_codes"] and r["strat_fold"] == s["strat_fold"], r["ecg_id"]
    want = "records100/%05d/%05d_lr" % ((i + 1) // 1000 * 1000, i + 1)
    assert r["filename_lr"] == want, (r["filename_lr"], want)
print("labels and folds kept for all 150 rows")
PYEOF
then
  echo "ok: $(cat "$work/out")"
else
  fail "$(cat "$work/out")"
fi
# a copy's signal is its original's: same predictions from a tiny model
if "$bin" train --ptbxl "$work/src" --out "$work/run" --width 4 --latent 32 --protos-per-class 2 \
    --epochs-pretrain 1 --epochs-warmup 0 --epochs-last 1 --batch 16 --threads 1 --quiet \
    >/dev/null 2>"$work/err"; then
  for r in src/records100/00000/00007_lr big/records100/00000/00127_lr; do
    "$bin" predict --model "$work/run/model.safetensors" --json "$work/p_${r%%/*}.json" \
      "$work/$r" >/dev/null 2>>"$work/err"
  done
  # the probabilities, without the record's path
  a=$(grep -v '"record"' "$work/p_src.json" 2>/dev/null)
  b=$(grep -v '"record"' "$work/p_big.json" 2>/dev/null)
  if [[ "$a" == *'"SR":'* && "$a" == "$b" ]]; then
    echo "ok: record 127 (second copy of record 7) predicts as record 7"
  else
    fail "record 127 vs record 7: '$b' vs '$a'"
  fi
else
  fail "tiny training: $(head -3 "$work/err")"
fi
(cd "$work/src" && find . -type f -exec sha256sum {} + | sort) | cmp -s - "$work/src.sums" ||
  fail "the source dataset was modified"
((fails == 0)) && echo "all scaled-root checks passed"
exit $((fails > 0))
