#!/usr/bin/env bash
# Records longer than 10 s through the command line: a record made of three 10-s records
# one after the other (scripts/concat_records.py) gets, window by window, exactly the
# probabilities `predict` gives those records, its labels are the per-class maxima,
# `explain --at` explains a window like the 10-s record, the default window is the one
# where the most probable label peaks (its HTML page charts the windows), and bad
# strides, windows outside the record and records shorter than 10 s are refused; windows
# over a lead-off stretch are skipped with a warning; a record with 15 shuffled
# lower-case signals gives its 12 standard leads by name.
# Synthetic data and a tiny model (seconds).
set -u
cd "$(dirname "$0")/.."
source tests/synthetic_test_env.sh
tiny_model 24
R=$work/d/records100/00000
"$PY" scripts/concat_records.py "$work/long" "$R/00001_lr" "$R/00002_lr" "$R/00003_lr" || fail "concat"
"$PY" scripts/concat_records.py "$work/l25" "$R/00001_lr" "$R/00002_lr" "$R/00003_lr" --seconds 25 || fail "concat 25 s"
"$PY" scripts/concat_records.py "$work/short" "$R/00001_lr" --seconds 9.99 || fail "concat 9.99 s"

"$bin" predict --model "$M" --json "$work/alone.json" "$R/00001_lr" "$R/00002_lr" "$R/00003_lr" \
  >/dev/null || fail "predict on the 10-s records"
"$bin" predict --model "$M" --stride 10 --json "$work/s10.json" "$work/long" >/dev/null || fail "predict --stride 10"
"$bin" predict --model "$M" --windows --json "$work/s5.json" "$work/long" "$work/l25" >"$work/s5.txt" \
  || fail "predict (default stride)"
grep -q "30.0 s read in 5 windows" "$work/s5.txt" || fail "predict: no window summary: $(cat "$work/s5.txt")"
grep -q "^ *20.0-30.0 s:" "$work/s5.txt" || fail "predict --windows: no per-window line"
"$bin" explain --model "$M" --at 10 --json "$work/ex10.json" "$work/long" >/dev/null || fail "explain --at 10"
"$bin" explain --model "$M" --json "$work/ex2.json" "$R/00002_lr" >/dev/null || fail "explain a 10-s record"
"$bin" explain --model "$M" --json "$work/exd.json" --html "$work/exd.html" "$work/long" >/dev/null \
  2>"$work/err" || fail "explain (default window)"
grep -q "most probable label" "$work/err" || fail "explain: does not say which window it chose"

"$PY" - "$work" <<'PYEOF' || fail "the windows' figures"
import json, sys
w = sys.argv[1]
load = lambda f: json.load(open(f"{w}/{f}"))
alone, s10, s5 = load("alone.json"), load("s10.json")[0], load("s5.json")
assert [x["start_s"] for x in s10["windows"]] == [0, 10, 20], s10["windows"]
for win, rec in zip(s10["windows"], alone):  # the windows are the three records, exactly
    assert win["probabilities"] == rec["probabilities"], (win, rec)
    assert win["labels"] == rec["labels"]
for k, p in s10["probabilities"].items():  # record level: the largest over the windows
    assert p == max(x["probabilities"][k] for x in s10["windows"]), k
assert s10["seconds"] == 30
assert [x["start_s"] for x in s5[0]["windows"]] == [0, 5, 10, 15, 20]
assert [x["start_s"] for x in s5[1]["windows"]] == [0, 5, 10, 15], s5[1]["windows"]
assert s5[1]["seconds"] == 25
ex10, ex2, exd = load("ex10.json"), load("ex2.json"), load("exd.json")
assert ex10["window"] == {"start_s": 10, "end_s": 20}, ex10["window"]
assert ex10["probabilities"] == ex2["probabilities"] == alone[1]["probabilities"]
assert ex10["explanations"] == ex2["explanations"]
top = max(s5[0]["probabilities"], key=lambda k: s5[0]["probabilities"][k])
best = max(s5[0]["windows"], key=lambda x: x["probabilities"][top])
assert exd["window"]["start_s"] == best["start_s"], (exd["window"], best["start_s"], top)
print("ok: windows equal their 10-s records; labels are the maxima; explain picks", best["start_s"], "s for", top)
PYEOF
s=$(grep -o '"start_s":[^,]*' "$work/exd.json" | head -1 | tr -dc '0-9.')
grep -q "long, ${s}.0-" "$work/exd.html" || fail "explain --html: the page does not name the window"
grep -q "The whole record" "$work/exd.html" && grep -q "Probability along the record" "$work/exd.html" \
  || fail "explain --html: no timeline of the windows"
"$bin" explain --model "$M" --html "$work/ex2.html" "$R/00002_lr" >/dev/null 2>&1 || fail "explain --html, 10 s"
grep -q "The whole record" "$work/ex2.html" && fail "explain --html: a timeline for a 10-s record"

# 15 signals, shuffled, in lower case (like the PTB Diagnostic database's i ... v6 vx vy
# vz): the 12 standard leads are picked by name and score like the 12-lead record
"$PY" - "$R/00001_lr" "$work/l15" <<'PYEOF' || fail "writing the 15-lead record"
import random, sys
sys.path.insert(0, "scripts")
from concat_records import read_record
from make_tiny_ptbxl import write_record
fs, leads, d = read_record(sys.argv[1])
sigs = [[v / 1000.0 for v in x] for x in d] + [[0.001 * (k % 50) for k in range(len(d[0]))]] * 3
names = [desc.lower() for _, desc in leads] + ["vx", "vy", "vz"]
order = list(range(15))
random.Random(3).shuffle(order)
write_record(sys.argv[2], [sigs[i] for i in order], int(fs), [names[i] for i in order])
PYEOF
"$bin" predict --model "$M" --json "$work/l15.json" "$work/l15" >/dev/null || fail "predict on 15 leads"
"$PY" -c "import json,sys; a=json.load(open(sys.argv[1]))[0]; b=json.load(open(sys.argv[2]))[0]; \
assert a['probabilities'] == b['probabilities'], (a, b)" "$work/l15.json" "$work/alone.json" \
  && echo "ok: 15 shuffled leads score like the 12-lead record" || fail "15 leads: other probabilities"

# a lead off for 0.1 s at 20 s (WFDB's invalid value, from make_tiny_ptbxl.py --nan's
# record 4): the two windows over it are skipped with a warning, the others count
"$PY" scripts/make_tiny_ptbxl.py "$work/dn" --n 20 --nan || fail "make_tiny_ptbxl.py --nan"
"$PY" scripts/concat_records.py "$work/off" "$R/00001_lr" "$R/00002_lr" "$work/dn/records100/00000/00004_lr" \
  || fail "concat with a lead off"
"$bin" predict --model "$M" --windows --json "$work/off.json" --csv "$work/off.csv" "$work/off" "$R/00001_lr" \
  >"$work/off.txt" 2>"$work/err" \
  || fail "predict with a lead off: $(cat "$work/err")"
grep -q "2 of 5 windows skipped" "$work/err" || fail "predict: no warning of the skipped windows"
grep -q "20.0-30.0 s: skipped" "$work/off.txt" || fail "predict --windows: the skipped window is not shown"
"$PY" - "$work" <<'PYEOF' || fail "the figures with skipped windows"
import json, sys
w = sys.argv[1]
off, s5 = json.load(open(f"{w}/off.json"))[0], json.load(open(f"{w}/s5.json"))[0]
assert [x.get("skipped") for x in off["windows"]] == [None, None, None, "non-finite sample", "non-finite sample"]
for a, b in zip(off["windows"][:3], s5["windows"][:3]):  # the same first 20 s as the long record
    assert a["probabilities"] == b["probabilities"]
for k, p in off["probabilities"].items():
    assert p == max(x["probabilities"][k] for x in off["windows"][:3]), k
import csv, struct
f32 = lambda x: struct.unpack("f", struct.pack("f", float(x)))[0]
rows = list(csv.DictReader(open(f"{w}/off.csv")))
assert [r["kind"] for r in rows] == ["record"] + ["window"] * 5 + ["record"], rows
assert [(r["start_s"], r["end_s"]) for r in rows[1:6]] == [("0", "10"), ("5", "15"), ("10", "20"), ("15", "25"), ("20", "30")]
for r, j in zip(rows[:6], [off] + off["windows"]):  # the CSV holds the JSON's floats exactly
    for k in j.get("probabilities", {}):
        assert f32(r["prob_" + k]) == f32(j["probabilities"][k]), (r, k)
assert all(rows[i]["prob_SR"] == "" for i in (4, 5)) and rows[3]["prob_SR"] != ""
print("ok: a lead off skips its two windows; the record's labels come from the other three; CSV = JSON")
PYEOF

expect_fail "predict: --stride 0" "stride must be in" "$bin" predict --model "$M" --stride 0 "$work/long"
expect_fail "predict: --stride 12" "stride must be in" "$bin" predict --model "$M" --stride 12 "$work/long"
expect_fail "predict: a 9.99-s record" "short.*999 samples at 100 Hz.*at least 10 s" \
  "$bin" predict --model "$M" "$work/short"
expect_fail "explain: --at 20.5 on 30 s" "--at 20.5: the record lasts 30.00 s, so a 10-s window starts at 0-20.00 s" \
  "$bin" explain --model "$M" --at 20.5 "$work/long"
expect_fail "explain: --at -1" "--at must be >= 0" "$bin" explain --model "$M" --at -1 "$work/long"
expect_fail "explain: a 9.99-s record" "at least 10 s" "$bin" explain --model "$M" "$work/short"
((fails == 0)) || exit 1
echo "cli_windows: all passed"
