#!/usr/bin/env bash
# CSV tables as input: `predict` and `explain` read a 12-lead table (a header naming the
# leads, a row per sample in mV) written from a WFDB record by scripts/record_to_csv.py
# (standard library, independent of protoecg's readers) like the record itself: the same
# probabilities (1e-6) with a time column, with --fs instead, with the leads shuffled and in
# lower case, and window by window for a 25-s record; `eval --records` takes tables in
# its list. --fs on a WFDB record, a table without a time column or --fs, a table in
# microvolts, a missing lead and a text cell are refused with the file named.
# Synthetic data and a tiny model (seconds).
set -u
cd "$(dirname "$0")/.."
source tests/synthetic_test_env.sh
tiny_model 24
R=$work/d/records100/00000
"$PY" scripts/concat_records.py "$work/l25" "$R/00001_lr" "$R/00002_lr" "$R/00003_lr" --seconds 25 || fail "concat"
to_csv() { "$PY" scripts/record_to_csv.py "$@" || fail "record_to_csv.py $*"; }
to_csv "$R/00001_lr" "$work/t.csv"
to_csv "$R/00001_lr" "$work/notime.csv" --no-time
to_csv "$R/00002_lr" "$work/shuffled.csv" --shuffle
to_csv "$work/l25" "$work/l25.csv" --shuffle
to_csv "$R/00001_lr" "$work/uv.csv" --scale 1000

"$bin" predict --model "$M" --json "$work/wfdb.json" "$R/00001_lr" "$R/00002_lr" "$work/l25" \
  >/dev/null || fail "predict on the WFDB records"
"$bin" predict --model "$M" --json "$work/csv.json" "$work/t.csv" "$work/shuffled.csv" "$work/l25.csv" \
  >/dev/null || fail "predict on the tables"
"$bin" predict --model "$M" --fs 100 --json "$work/fs.json" "$work/notime.csv" >/dev/null \
  || fail "predict --fs on a table without a time column"
"$bin" explain --model "$M" --json "$work/ex_wfdb.json" "$work/l25" >/dev/null 2>&1 || fail "explain WFDB"
"$bin" explain --model "$M" --json "$work/ex_csv.json" "$work/l25.csv" >/dev/null 2>&1 || fail "explain a table"
printf 'record,labels\n%s,SR\n%s,AFIB\n' "$R/00001_lr" "$R/00002_lr" >"$work/wfdb_list.csv"
printf 'record,labels\n%s,SR\n%s,AFIB\n' "$work/t.csv" "$work/shuffled.csv" >"$work/csv_list.csv"
"$bin" eval --model "$M" --records "$work/wfdb_list.csv" --predictions "$work/p_wfdb.csv" >/dev/null 2>&1 \
  || fail "eval --records (WFDB)"
"$bin" eval --model "$M" --records "$work/csv_list.csv" --predictions "$work/p_csv.csv" >/dev/null 2>&1 \
  || fail "eval --records (tables)"

"$PY" - "$work" <<'PYEOF' || fail "tables against records"
import csv, json, sys
w = sys.argv[1]
load = lambda f: json.load(open(f"{w}/{f}"))
def same(a, b, what):
    assert a.keys() == b.keys(), what
    for k in a:
        assert abs(a[k] - b[k]) <= 1e-6, (what, k, a[k], b[k])
wfdb, tab, fs = load("wfdb.json"), load("csv.json"), load("fs.json")
for r, t in zip(wfdb, tab):
    same(r["probabilities"], t["probabilities"], t["record"])
    assert r["seconds"] == t["seconds"] and len(r["windows"]) == len(t["windows"]), t["record"]
    for rw, tw in zip(r["windows"], t["windows"]):
        assert rw["start_s"] == tw["start_s"]
        same(rw["probabilities"], tw["probabilities"], (t["record"], tw["start_s"]))
same(wfdb[0]["probabilities"], fs[0]["probabilities"], "--fs")
ew, ec = load("ex_wfdb.json"), load("ex_csv.json")
assert ew["window"] == ec["window"], (ew["window"], ec["window"])
same(ew["probabilities"], ec["probabilities"], "explain")
rows = lambda f: list(csv.reader(open(f"{w}/{f}")))
pw, pc = rows("p_wfdb.csv"), rows("p_csv.csv")
assert len(pw) == len(pc) == 3 and pw[0] == pc[0], (pw, pc)
for a, b in zip(pw[1:], pc[1:]):
    assert a[1] == b[1], (a, b)  # the labels
    assert all(abs(float(x) - float(y)) <= 1e-6 for x, y in zip(a[2:], b[2:])), (a, b)
print("ok: 3 tables, 7 windows, an explanation and an eval list score like their WFDB records")
PYEOF

expect_fail "--fs on a WFDB record" "00001_lr.*--fs is for CSV tables" \
  "$bin" predict --model "$M" --fs 100 "$R/00001_lr"
expect_fail "a table without a time column or --fs" "notime.csv.*no time column.*--fs" \
  "$bin" predict --model "$M" "$work/notime.csv"
expect_fail "a table in microvolts" "uv.csv.*millivolts" "$bin" predict --model "$M" "$work/uv.csv"
expect_fail "--fs disagreeing with the time column" "gives 100 Hz, but 500 Hz" \
  "$bin" explain --model "$M" --fs 500 "$work/t.csv"
head -1 "$work/t.csv" | grep -q ',V6$' || fail "the table does not end with V6"
sed 's/,[^,]*$//' "$work/t.csv" >"$work/noV6.csv"
expect_fail "a missing lead" "noV6.csv.*missing: V6" "$bin" predict --model "$M" "$work/noV6.csv"
sed -E '5s/^([^,]*,[^,]*,[^,]*,)[^,]*/\1oops/' "$work/t.csv" >"$work/text.csv"
expect_fail "a text cell" "text.csv: line 5, column 4 \(II\): 'oops' is not a number" \
  "$bin" predict --model "$M" "$work/text.csv"
expect_fail "--fs 0" "--fs expects a sampling rate" "$bin" predict --model "$M" --fs 0 "$work/t.csv"

echo "cli_csv: $n_cases refusal cases, $fails failure(s)"
((fails == 0))
