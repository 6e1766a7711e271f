#!/usr/bin/env bash
# protoecg report: trains a tiny model on the shared PTB-XL subset (seconds), writes the
# report, and checks it against independent computations:
#   - the JSON has the expected keys, one phase row per results.json entry and one epoch
#     row per metrics.jsonl line;
#   - the final and baseline test macro-AUROC equal what training recorded in
#     results.json (computed there on the standardized training cache, here from the
#     raw cache: same numbers), and the per-class AUROC equal sklearn's roc_auc_score on
#     the predictions CSV of `protoecg eval` (when sklearn is available);
#   - the four examples follow the documented rule (recomputed from that CSV);
#   - the HTML is one self-contained page (no script, no URL but the SVG namespace), has
#     every section, 4 example articles, and every ECG drawing has 12 leads + 1 rhythm
#     strip; headless Chromium (scripts/browser_check) renders it offline without a
#     network request or console message (skipped without Chromium);
#   - eval --compare: the baseline's macro-AUROC as in the report, the difference inside
#     its paired bootstrap interval, a model against itself 0 with the interval [0, 0];
#   - usage errors exit 2, a missing run (or --compare model) exits 1 naming the file.
# Usage: tests/cli_report.sh path/to/protoecg. Skips (77) without the shared data.
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/data_test_env.sh
boot=200
[[ "${PE_TEST_QUICK:-0}" == 1 ]] && boot=20

# 1. a tiny model, all phases (pretrain, joint, warm-up, projection, last layer)
start=$SECONDS
"$bin" train --ptbxl "$data" --out "$tmp/run" --width 4 --latent 32 --protos-per-class 2 \
  --epochs 1 --epochs-pretrain 1 --epochs-warmup 1 --epochs-last 2 --batch 64 --quiet \
  --threads 1 >"$tmp/train.log" 2>&1 || { cat "$tmp/train.log"; fail "training failed"; }
echo "tiny training: $((SECONDS - start)) s"
for f in model.safetensors pretrain.safetensors metrics.jsonl results.json; do
  [[ -f "$tmp/run/$f" ]] || fail "training wrote no $f"
done

# 2. the report
start=$SECONDS
"$bin" report --run "$tmp/run" --ptbxl "$data" --html "$tmp/report.html" --json "$tmp/report.json" \
  --bootstrap "$boot" --quiet --threads 1 || fail "report failed"
echo "report: $((SECONDS - start)) s, $(stat -c %s "$tmp/report.html") bytes of HTML"
"$bin" eval --model "$tmp/run/model.safetensors" --ptbxl "$data" --bootstrap 0 --quiet \
  --threads 1 --predictions "$tmp/pred.csv" --json "$tmp/eval.json" >/dev/null 2>&1 || fail "eval failed"
# eval --compare: the final model against its baseline, and against itself
for other in pretrain model; do
  "$bin" eval --model "$tmp/run/model.safetensors" --ptbxl "$data" --bootstrap "$boot" --quiet \
    --threads 1 --compare "$tmp/run/$other.safetensors" --json "$tmp/cmp_$other.json" >/dev/null 2>&1 ||
    fail "eval --compare $other failed"
done
set +e
msg=$("$bin" eval --model "$tmp/run/model.safetensors" --ptbxl "$data" --quiet --threads 1 \
  --compare "$tmp/missing.safetensors" 2>&1 >/dev/null)
rc=$?
set -e
[[ $rc == 1 && "$msg" == *missing.safetensors* ]] || fail "eval --compare of a missing model: rc $rc: $msg"

# 3. the JSON against results.json, metrics.jsonl, sklearn and the example rule
"$py" - "$tmp" <<'EOF' || fail "JSON checks"
import csv, json, math, sys
tmp = sys.argv[1]
r = json.load(open(f"{tmp}/report.json"))
res = json.load(open(f"{tmp}/run/results.json"))
lines = [json.loads(l) for l in open(f"{tmp}/run/metrics.jsonl") if l.strip()]
bad = []
def check(cond, msg):
    if not cond: bad.append(msg)
for k in ["run", "phases", "epochs", "bootstrap_resamples", "final", "baseline", "prototypes", "examples"]:
    check(k in r, f"missing key {k}")
check([p["phase"] for p in r["phases"]] == list(res), "phases differ from results.json")
check([p["phase"] for p in r["phases"]] == ["pretrain", "joint1", "warmup1", "projected1", "model"],
      "unexpected phases " + str([p["phase"] for p in r["phases"]]))
for p in r["phases"]:
    for k in ["description", "val_macro_auroc", "test_macro_auroc", "val_loss", "seconds"]:
        check(k in p, f"phase {p['phase']} lacks {k}")
    check(abs(p["test_macro_auroc"] - res[p["phase"]]["test_macro_auroc"]) < 1e-12, "phase value copied wrong")
check(len(r["epochs"]) == len(lines), "one epoch row per metrics.jsonl line")
for e, l in zip(r["epochs"], lines):
    check(e["phase"] == l["phase"] and e["seq"] == l["seq"] and abs(e["val_loss"] - l["val"]["loss"]) < 1e-9,
          f"epoch row {e} != {l}")
C = 16
for name, phase in [("final", "model"), ("baseline", "pretrain")]:
    m = r[name]
    for k in ["model", "n_records", "macro_auroc", "macro_auroc_ci95", "per_class", "n_classes_defined"]:
        check(k in m, f"{name} lacks {k}")
    check(abs(m["macro_auroc"] - res[phase]["test_macro_auroc"]) < 2e-4,
          f"{name} test macro-AUROC {m['macro_auroc']} != training's {res[phase]['test_macro_auroc']}")
    lo, hi = m["macro_auroc_ci95"]
    check(lo is not None and hi is not None and lo < hi, f"{name} CI {lo} {hi}")
    check(len(m["per_class"]) == C, f"{name}: {len(m['per_class'])} classes")
    for pc in m["per_class"]:
        for k in ["label", "support", "auroc", "auroc_ci95"]:
            check(k in pc, f"{name} class lacks {k}")
g = r["prototypes"]
check(g["n_prototypes"] == 32 and g["protos_per_class"] == 2 and len(g["classes"]) == C, "prototypes")
check(1 <= len(g["cards"]) <= 4, "cards")

# eval --compare: the baseline's figure is the report's, the difference final - baseline
# lies in its paired interval; a model against itself differs by exactly 0
for other, base in (("pretrain", r["baseline"]["macro_auroc"]), ("model", r["final"]["macro_auroc"])):
    cmp = json.load(open(f"{tmp}/cmp_{other}.json"))
    c = cmp.get("comparison", {})
    check(abs(c.get("macro_auroc", -1) - base) < 1e-12, f"--compare {other}: {c.get('macro_auroc')} != {base}")
    d = cmp["macro_auroc"] - base
    check(abs(c.get("difference", -9) - d) < 1e-12, f"--compare {other}: difference {c.get('difference')} != {d}")
    lo, hi = c.get("difference_ci95", [None, None])
    check(lo is not None and lo <= d <= hi, f"--compare {other}: {d} outside [{lo}, {hi}]")
    if other == "model":
        check(lo == 0 and hi == 0, f"a model against itself: CI [{lo}, {hi}]")

# the final model's predictions, as written by protoecg eval
rows = list(csv.DictReader(open(f"{tmp}/pred.csv")))
names = [k[5:] for k in rows[0] if k.startswith("true_")]
ids = [int(x["ecg_id"]) for x in rows]
Y = [[int(x["true_" + c]) for c in names] for x in rows]
P = [[float(x["prob_" + c]) for c in names] for x in rows]
check(len(rows) == r["final"]["n_records"], "record count")
# protoecg eval scores the same predictions (pe_evaluate_model): identical numbers
ev = json.load(open(f"{tmp}/eval.json"))
check(ev["macro_auroc"] == r["final"]["macro_auroc"], "macro-AUROC differs from protoecg eval's")
for a, b in zip(ev["per_class"], r["final"]["per_class"]):
    check(a["auroc"] == b["auroc"] and a["support"] == b["support"], f"{a['label']}: differs from eval")
# sklearn on the CSV: its probabilities have 6 significant digits, and the rounding can
# tie a positive with a negative, so allow a few tied pairs' worth of difference
try:
    from sklearn.metrics import roc_auc_score
    n_bad = len(bad)
    for c, pc in enumerate(r["final"]["per_class"]):
        y = [row[c] for row in Y]
        if 0 < sum(y) < len(y):
            ref = roc_auc_score(y, [p[c] for p in P])
            tol = max(1e-6, 3.0 / (sum(y) * (len(y) - sum(y))))
            check(abs(pc["auroc"] - ref) <= tol, f"{pc['label']}: AUROC {pc['auroc']} != sklearn {ref}")
            check(pc["support"] == sum(y), f"{pc['label']}: support")
        else:
            check(pc["auroc"] is None, f"{pc['label']}: undefined AUROC should be null")
    if len(bad) == n_bad: print("per-class AUROC agrees with sklearn's")
except ImportError:
    print("sklearn not available: per-class AUROC not compared")

# the example rule, recomputed: ties within the CSV's 6 digits are accepted
ex = r["examples"]
check([e["kind"] for e in ex] == ["correct", "correct", "false_positive", "false_negative"],
      "example kinds " + str([e["kind"] for e in ex]))
used = []
def best(kind, only):
    cand = []
    for i in range(len(rows)):
        if ids[i] in used: continue
        for c in range(C):
            if only is not None and names[c] != only: continue
            y, p = Y[i][c], P[i][c]
            if (kind == "correct" and y and p >= 0.5) or (kind == "false_positive" and not y and p >= 0.5) \
               or (kind == "false_negative" and y and p < 0.5):
                cand.append(p)
    if not cand: return None
    return min(cand) if kind == "false_negative" else max(cand)
for k, e in enumerate(ex):
    i = ids.index(e["ecg_id"])
    c = names.index(e["class"])
    check(abs(P[i][c] - e["probability"]) < 1e-5, f"example {k}: probability")
    y = Y[i][c]
    if e["kind"] == "correct":
        check(y == 1 and e["probability"] >= 0.5, f"example {k} is not a true positive")
        want = ["AFIB", "SR"][k]
        ref = best("correct", want)
        if ref is None: ref = best("correct", None)
        else: check(e["class"] == want, f"example {k} should be {want}")
    elif e["kind"] == "false_positive":
        check(y == 0 and e["probability"] >= 0.5, f"example {k} is not a false positive")
        ref = best("false_positive", None)
    else:
        check(y == 1 and e["probability"] < 0.5, f"example {k} is not a false negative")
        ref = best("false_negative", None)
    check(ref is not None and abs(ref - e["probability"]) < 2e-6,
          f"example {k}: probability {e['probability']} but the rule gives {ref}")
    check(sorted(e["true_labels"]) == sorted(names[j] for j in range(C) if Y[i][j]), f"example {k}: labels")
    check(e["explanations"][0]["label"] == e["class"], f"example {k}: first explanation")
    check(abs(e["explanations"][0]["probability"] - e["probability"]) < 1e-4,
          f"example {k}: the explanation's probability differs from eval's")
    used.append(e["ecg_id"])
for b in bad: print("  " + b)
sys.exit(1 if bad else 0)
EOF

# 4. the HTML: self-contained, every section, ECG drawings complete
html="$tmp/report.html"
head -c 15 "$html" | grep -q '<!DOCTYPE html>' || fail "not an HTML page"
grep -qi '<script' "$html" && fail "the page has a script"
if grep -o 'https\?://[^"<> ]*' "$html" | grep -v '^http://www.w3.org/2000/svg$' | grep -q .; then
  fail "the page references a URL: $(grep -o 'https\?://[^"<> ]*' "$html" | grep -v w3.org | head -3)"
fi
for id in phases curves classes roc prototypes examples config; do
  grep -q "<section id=\"$id\">" "$html" || fail "no section $id"
done
n=$(grep -o '<article class="example"' "$html" | wc -l)
((n == 4)) || fail "$n example articles (want 4)"
grep -q 'class="roc"' "$html" || fail "no ROC chart"
grep -q 'class="chart"' "$html" || fail "no training curve"
grep -Eq 'id="ex1-class-[0-9A-Z]+"' "$html" || fail "example ids are not prefixed"
"$py" - "$html" <<'EOF' || fail "ECG drawings"
import sys
sys.path.insert(0, "scripts")
from browser_check import EcgCounter
c = EcgCounter()
c.feed(open(sys.argv[1], encoding="utf-8").read())
bad = [i for i, e in enumerate(c.ecgs) if e["lead"] != 12 or e["rhythm"] != 1 or len(set(e["leads"])) != 12]
print(f"{len(c.ecgs)} ECG drawings in the page")
sys.exit(1 if bad or len(c.ecgs) < 8 else 0)
EOF
rc=0
scripts/browser_check --out "$tmp/shots" "$html" || rc=$?
if ((rc == 77)); then
  echo "browser check skipped (no Chromium): HTML checked with grep only"
elif ((rc != 0)); then
  fail "browser_check"
fi

# 5. errors
rc=0; "$bin" report --run "$tmp/run" --html "$tmp/x.html" 2>/dev/null || rc=$?
((rc == 2)) || fail "missing --ptbxl: exit $rc (want 2)"
rc=0; "$bin" report --run "$tmp/nonexistent" --ptbxl "$data" --html "$tmp/x.html" 2>"$tmp/err" || rc=$?
((rc == 1)) || fail "missing run: exit $rc (want 1)"
grep -q "nonexistent/model.safetensors" "$tmp/err" || fail "the error does not name the model file: $(cat "$tmp/err")"
[[ ! -e "$tmp/x.html" ]] || fail "a failed report left a page"
echo "cli_report: OK"
