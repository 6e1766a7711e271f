#!/usr/bin/env bash
# External validation: `eval --records LIST.csv` scores labelled WFDB records from
# anywhere. A list of the synthetic dataset's test-fold records (paths relative to the
# list, labels from its scp_codes) must hold what `eval --ptbxl` has on that fold (the
# records, labels and, to float rounding, probabilities), and its per-class and macro
# AUROC equal sklearn's roc_auc_score on its predictions CSV; a malformed list (no
# labels column, an unknown label, a missing record, no records) and --records with
# --ptbxl are refused with the file, line or record named. Synthetic data, tiny model.
set -u
cd "$(dirname "$0")/.."
source tests/synthetic_test_env.sh
tiny_model 150
mkdir -p "$work/lists"
"$PY" - "$work" <<'PYEOF' || fail "writing the lists"
import ast, csv, sys
w = sys.argv[1]
names = "1AVB IVCD 3AVB 2AVB SR AFIB STACH SARRH SBRAD PACE SVARR BIGU AFLT SVTAC PSVT TRIGU".split()
rows = [r for r in csv.DictReader(open(f"{w}/d/ptbxl_database.csv")) if r["strat_fold"] == "10"]
assert rows, "no test-fold record"
with open(f"{w}/lists/test.csv", "w") as f:
    f.write("note,record,labels\n")
    for r in rows:
        codes = ast.literal_eval(r["scp_codes"])
        f.write("x,../d/%s,%s\n" % (r["filename_lr"], " ".join(c for c in names if c in codes)))
open(f"{w}/lists/nolabels.csv", "w").write("record\n../d/records100/00000/00001_lr\n")
open(f"{w}/lists/unknown.csv", "w").write("record,labels\n../d/records100/00000/00001_lr,SR\n../d/records100/00000/00002_lr,AFIB;NORM\n")
open(f"{w}/lists/missing.csv", "w").write("record,labels\n../d/records100/00000/00001_lr,SR\nnowhere/00009_lr,\n")
open(f"{w}/lists/empty.csv", "w").write("record,labels\n")
PYEOF
"$bin" eval --model "$M" --ptbxl "$work/d" --json "$work/ptbxl.json" --predictions "$work/ptbxl.csv" \
  --quiet >/dev/null 2>&1 || fail "eval --ptbxl"
"$bin" eval --model "$M" --records "$work/lists/test.csv" --json "$work/rec.json" \
  --predictions "$work/rec.csv" --quiet >"$work/out" 2>&1 || fail "eval --records: $(cat "$work/out")"
grep -q "macro-AUROC" "$work/out" || fail "eval --records printed no macro-AUROC"
PYS=/usr/bin/python3
[[ -x $PYS ]] && $PYS -c "import sklearn" 2>/dev/null || PYS=$PY
"$PYS" - "$work" <<'PYEOF' || fail "eval --records against eval --ptbxl and sklearn"
import csv, json, math, sys
w = sys.argv[1]
a, b = json.load(open(f"{w}/rec.json")), json.load(open(f"{w}/ptbxl.json"))
ra, rb = list(csv.DictReader(open(f"{w}/rec.csv"))), list(csv.DictReader(open(f"{w}/ptbxl.csv")))
assert a["n_records"] == b["n_records"] == len(ra) == len(rb) > 0
# the same records, labels and (to float rounding) probabilities as the PTB-XL path
for x, y in zip(ra, rb):
    assert x["record"].endswith("%05d_lr" % int(y["ecg_id"])), (x["record"], y["ecg_id"])
    for k in y:
        if k.startswith("true_"): assert x[k] == y[k], (k, x, y)
        if k.startswith("prob_"): assert abs(float(x[k]) - float(y[k])) <= 1e-5, (k, x[k], y[k])
for x, y in zip(a["per_class"], b["per_class"]):
    assert x["support"] == y["support"]
    if x["auroc"] is not None: assert abs(x["auroc"] - y["auroc"]) <= 0.02, (x, y)
# the scores against sklearn's roc_auc_score on the predictions CSV (17 digits: exact)
try:
    from sklearn.metrics import roc_auc_score
except ImportError:
    print("note: sklearn not available, AUROC not checked against it")
    roc_auc_score = None
if roc_auc_score:
    defined = []
    for c in a["per_class"]:
        y = [int(r["true_" + c["label"]]) for r in ra]
        p = [float(r["prob_" + c["label"]]) for r in ra]
        if 0 < sum(y) < len(y):
            ref = roc_auc_score(y, p)
            assert abs(c["auroc"] - ref) <= 1e-9, (c["label"], c["auroc"], ref)
            defined.append(ref)
        else:
            assert c["auroc"] is None and c["label"] in a["undefined_classes"]
    assert abs(a["macro_auroc"] - sum(defined) / len(defined)) <= 1e-9
print("ok: eval --records on the test-fold list: the --ptbxl path's records and probabilities; "
      "AUROC = sklearn (macro %.4f over %d records)" % (a["macro_auroc"], a["n_records"]))
PYEOF

expect_fail "no labels column" "nolabels.csv: the header must name the columns 'record' and 'labels'" \
  "$bin" eval --model "$M" --records "$work/lists/nolabels.csv"
expect_fail "an unknown label" "unknown.csv:3: unknown label 'NORM'" \
  "$bin" eval --model "$M" --records "$work/lists/unknown.csv"
expect_fail "a missing record" "record 2 of .*missing.csv: .*nowhere/00009_lr.hea: cannot open" \
  "$bin" eval --model "$M" --records "$work/lists/missing.csv"
expect_fail "no records" "empty.csv: no records listed" "$bin" eval --model "$M" --records "$work/lists/empty.csv"
expect_fail "--records with --ptbxl" "--records needs --model and goes without --ptbxl" \
  "$bin" eval --model "$M" --records "$work/lists/test.csv" --ptbxl "$work/d"
((fails == 0)) || exit 1
echo "cli_records: all passed"
