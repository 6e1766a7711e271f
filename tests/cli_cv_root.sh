#!/usr/bin/env bash
# scripts/cv_root.py (the roots of scripts/cv_last_layer) keeps the test fold out:
#   - the derived ptbxl_database.csv holds every training-fold and validation record of
#     the source once, with the held-out folds rewritten to 10 and all other columns as
#     they were, and no record of the source's fold 10;
#   - records are symbolic links (no signal copied), and protoecg prepares the root with
#     the expected split sizes;
#   - overlapping or out-of-range folds are refused.
# Skips (77) without the shared data.
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/data_test_env.sh

"$py" scripts/cv_root.py "$data" "$tmp/root" --train 1,2,3,4 --heldout 5,6,7,8 >"$tmp/log" ||
  fail "cv_root.py failed: $(cat "$tmp/log")"
[[ -L "$tmp/root/records100" ]] || fail "records100 is not a symbolic link"
"$py" - "$data/ptbxl_database.csv" "$tmp/root/ptbxl_database.csv" <<'EOF' || fail "derived CSV"
import csv, sys
src = {r["ecg_id"]: r for r in csv.DictReader(open(sys.argv[1], newline=""))}
out = list(csv.DictReader(open(sys.argv[2], newline="")))
bad = []
ids = [r["ecg_id"] for r in out]
if len(ids) != len(set(ids)): bad.append("duplicate records")
for r in out:
    s = src[r["ecg_id"]]
    f = int(s["strat_fold"])
    want = {1: 1, 2: 2, 3: 3, 4: 4, 5: 10, 6: 10, 7: 10, 8: 10, 9: 9}.get(f)
    if want is None: bad.append(f"test-fold record {r['ecg_id']} kept")
    elif int(r["strat_fold"]) != want: bad.append(f"{r['ecg_id']}: fold {r['strat_fold']}, want {want}")
    if any(r[k] != s[k] for k in s if k != "strat_fold"): bad.append(f"{r['ecg_id']}: a column changed")
kept = sum(1 for s in src.values() if int(s["strat_fold"]) != 10)
if len(out) != kept: bad.append(f"{len(out)} records, want {kept}")
for b in bad[:5]: print("  " + b)
sys.exit(1 if bad else 0)
EOF
"$bin" prepare --ptbxl "$tmp/root" --out "$tmp/cache.bin" >"$tmp/prep" 2>&1 || fail "prepare: $(cat "$tmp/prep")"
grep -q "0 skipped" "$tmp/prep" || fail "prepare skipped records: $(cat "$tmp/prep")"

rc=0; "$py" scripts/cv_root.py "$data" "$tmp/r2" --train 1,2 --heldout 2,3 2>"$tmp/err" || rc=$?
((rc != 0)) && grep -q "share folds" "$tmp/err" || fail "overlapping folds accepted (rc $rc)"
rc=0; "$py" scripts/cv_root.py "$data" "$tmp/r3" --train 1,10 --heldout 2 2>"$tmp/err" || rc=$?
((rc != 0)) && grep -q "folds must be in 1..8" "$tmp/err" || fail "fold 10 accepted as a training fold"
# scripts/cv_common.sh (CV_PARTS=4): the quarters' roots hold out folds 1-2, 3-4, 5-6 and
# 7-8 in turn, each training on the other six, so every training-fold record is held out
# exactly once; other part counts are refused.
out="$tmp/cv4"
mkdir -p "$out"
(CV_PARTS=4 && source scripts/cv_common.sh && cv_make_roots "$data") >"$tmp/log4" 2>&1 ||
  fail "cv_make_roots: $(cat "$tmp/log4")"
"$py" - "$data/ptbxl_database.csv" "$out" <<'EOF2' || fail "quarter roots"
import csv, sys
src = {r["ecg_id"]: int(r["strat_fold"]) for r in csv.DictReader(open(sys.argv[1], newline=""))}
held, bad = [], []
for q, h in (("Q1", {1, 2}), ("Q2", {3, 4}), ("Q3", {5, 6}), ("Q4", {7, 8})):
    rows = list(csv.DictReader(open(f"{sys.argv[2]}/root{q}/ptbxl_database.csv", newline="")))
    for r in rows:
        f, g = src[r["ecg_id"]], int(r["strat_fold"])
        want = 10 if f in h else f
        if f == 10 or g != want: bad.append(f"{q}: {r['ecg_id']} fold {f} -> {g}")
        if g == 10: held.append(r["ecg_id"])
    if len(rows) != sum(1 for f in src.values() if f != 10): bad.append(f"{q}: {len(rows)} records")
if sorted(held) != sorted(i for i, f in src.items() if f <= 8): bad.append("held-out sets do not partition folds 1-8")
for b in bad[:5]: print("  " + b)
sys.exit(1 if bad else 0)
EOF2
rc=0; (CV_PARTS=3 && source scripts/cv_common.sh) 2>"$tmp/err" || rc=$?
((rc == 2)) && grep -q "CV_PARTS must be 2 or 4" "$tmp/err" || fail "CV_PARTS=3 accepted (rc $rc)"
echo "cli_cv_root: OK"
