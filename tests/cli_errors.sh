#!/usr/bin/env bash
# Bad input through the command line, end to end: broken model files (truncated, another
# format version, a missing tensor, another label list, a header claiming another width),
# bad datasets (an empty split, no rhythm label, a class without positives, an invalid
# (NaN) sample), records the model cannot use (6 leads, an unusable rate or length, a
# missing file), bad options, and a 500 Hz record from outside the dataset that must work.
# Every failing case must exit with a code in 1..127 (no crash, no signal), print a message
# that names the file or the problem, and leave no sanitizer report. The datasets are
# synthetic (scripts/make_tiny_ptbxl.py, Python standard library only) and the models are
# tiny, so the whole test takes seconds. Skips (exit 77) only without python3.
set -u
cd "$(dirname "$0")/.."
source tests/synthetic_test_env.sh

# ---- datasets ---------------------------------------------------------------------------
mk() { "$PY" scripts/make_tiny_ptbxl.py "$work/$1" "${@:2}" || { echo "FAIL: make_tiny_ptbxl.py $*"; exit 1; }; }
mk good --500hz
mk empty_split --empty-split --n 20
mk no_rhythm --no-rhythm-labels --n 20
mk no_pace --class-without-positives --n 30
mk nan --nan --n 30
mk six --6leads --n 20
D=$work/good
REC=$D/records100/00000/00001_lr

tiny=(--width 4 --latent 32 --protos-per-class 2 --epochs 1 --epochs-pretrain 0
      --epochs-warmup 0 --epochs-last 1 --batch 16 --threads 1)
if ! "$bin" train --ptbxl "$D" --out "$work/run" "${tiny[@]}" --quiet >"$work/out" 2>"$work/err"; then
  cat "$work/err"
  echo "FAIL: the tiny training run on the good synthetic dataset failed"
  exit 1
fi
M=$work/run/model.safetensors
ST=scripts/safetensors_edit.py

# ---- model files ------------------------------------------------------------------------
size=$(stat -c %s "$M")
head -c 100 "$M" >"$work/trunc_header.st"
head -c $((size - 100)) "$M" >"$work/trunc_data.st"
: >"$work/empty.st"
"$PY" $ST "$M" "$work/v2.st" --set-meta format_version=2
"$PY" $ST "$M" "$work/other_format.st" --set-meta format=some-other-model
"$PY" $ST "$M" "$work/missing_tensor.st" --drop-tensor prototype_vectors
"$PY" $ST "$M" "$work/labels.st" --set-meta 'labels=["SR","AFIB","STACH"]'
"$PY" $ST "$M" "$work/labels_order.st" --set-meta \
  'labels=["IVCD","1AVB","3AVB","2AVB","SR","AFIB","STACH","SARRH","SBRAD","PACE","SVARR","BIGU","AFLT","SVTAC","PSVT","TRIGU"]'
"$PY" $ST "$M" "$work/labels_json.st" --set-meta 'labels=[not json'
"$PY" $ST "$M" "$work/wide.st" --set-meta \
  'network={"head":"prototype","base_width":1024,"latent_dim":8192,"protos_per_class":100,"in_leads":12,"in_len":1000}'
"$PY" $ST "$M" "$work/copy.st"
expect_ok "an unedited rewrite of the model loads (the editor is faithful)" "00001_lr" \
  "$bin" predict --model "$work/copy.st" "$REC"

for cmd in predict explain eval; do
  run() {
    case $cmd in
      predict) "$bin" predict --model "$1" "$REC" ;;
      explain) "$bin" explain --model "$1" "$REC" ;;
      eval) "$bin" eval --model "$1" --ptbxl "$D" --bootstrap 0 --quiet --cache "$work/evc.bin" ;;
    esac
  }
  expect_fail "$cmd: model truncated in its header" "trunc_header.st.*truncated" run "$work/trunc_header.st"
  expect_fail "$cmd: model truncated in its data" "trunc_data.st.*truncated" run "$work/trunc_data.st"
  expect_fail "$cmd: empty model file" "empty.st.*not a safetensors file" run "$work/empty.st"
  expect_fail "$cmd: model of format version 2" "v2.st.*format version 2" run "$work/v2.st"
  expect_fail "$cmd: not a protoecg model" "other_format.st.*not a protoecg model" run "$work/other_format.st"
  expect_fail "$cmd: model without prototype_vectors" "missing_tensor.st.*missing tensor prototype_vectors" \
    run "$work/missing_tensor.st"
  expect_fail "$cmd: model with 3 labels" "labels.st.*label list differs" run "$work/labels.st"
  expect_fail "$cmd: model with the labels in another order" "labels_order.st.*label list differs" \
    run "$work/labels_order.st"
  expect_fail "$cmd: model whose labels are not JSON" "labels_json.st.*'labels'.*not valid JSON" \
    run "$work/labels_json.st"
  # a header that claims a far wider network than the file holds fails before allocating
  expect_fail "$cmd: model whose header claims another width" \
    "wide.st.*layer4.1.conv2.weight does not have the shape" run "$work/wide.st"
  expect_fail "$cmd: model file that does not exist" "nope.st.*cannot open" run "$work/nope.st"
done

# ---- caches -----------------------------------------------------------------------------
# eval needs an unstandardized cache; given the training run's standardized one it must
# refuse (naming the file) and leave that file as it was, not rebuild it in place
cp "$work/run/cache.bin" "$work/train_cache.bin"
expect_fail "eval: --cache a training (standardized) cache" \
  "train_cache.bin.*prepared with other settings.*standardized" \
  "$bin" eval --model "$M" --ptbxl "$D" --bootstrap 0 --quiet --cache "$work/train_cache.bin"
cmp -s "$work/run/cache.bin" "$work/train_cache.bin" ||
  fail "eval: the refused training cache was modified"

# ---- training data ----------------------------------------------------------------------
expect_fail "train: empty test split" "test split is empty" \
  "$bin" train --ptbxl "$work/empty_split" --out "$work/r_empty" "${tiny[@]}" --quiet
expect_fail "train: no rhythm label at all" "no training record carries any of the 16 rhythm labels" \
  "$bin" train --ptbxl "$work/no_rhythm" --out "$work/r_norhythm" "${tiny[@]}" --quiet
expect_ok "train: PACE without positives works, with a warning" "warning: class PACE has no training positive" \
  "$bin" train --ptbxl "$work/no_pace" --out "$work/r_nopace" "${tiny[@]}"
[[ -s "$work/r_nopace/model.safetensors" ]] || fail "train without PACE positives wrote no model"
if grep -qiE "nan|inf" "$work/r_nopace/metrics.jsonl"; then
  fail "train without PACE positives: NaN/inf in metrics.jsonl"
fi
expect_ok "prepare: a record with invalid (NaN) samples is skipped with its reason" \
  "skipping ecg_id 4: .*00004_lr: lead 2 has a non-finite sample" \
  "$bin" prepare --ptbxl "$work/nan" --out "$work/nan.bin" --threads 1
grep -q "29 records (1 skipped of 30 rows)" "$work/out" || fail "prepare (NaN): count not reported: $(cat "$work/out")"
expect_ok "train: dataset with a NaN record trains on the rest" "skipping ecg_id 4" \
  "$bin" train --ptbxl "$work/nan" --out "$work/r_nan" "${tiny[@]}" --quiet
expect_ok "predict: options after the record" "00001_lr: " \
  "$bin" predict "$REC" --model "$M" --threshold 0.5
expect_fail "predict: an unknown option after the record" "unknown option '--bogus'" \
  "$bin" predict "$REC" --model "$M" --bogus
expect_fail "predict: after --, an option-like name is a record" "--model.hea.*cannot open" \
  "$bin" predict --model "$M" -- --model
expect_fail "predict: record with a NaN sample" "00004_lr.*non-finite sample" \
  "$bin" predict --model "$M" "$work/nan/records100/00000/00004_lr"
expect_fail "train: --resume without a run" "nothing to resume in .*r_none" \
  "$bin" train --ptbxl "$D" --out "$work/r_none" "${tiny[@]}" --resume --quiet
# a run killed before its first checkpoint left its config.json and a metrics line:
# --resume starts it again from its first epoch, and it ends as the uninterrupted run
mkdir -p "$work/r_early"
cp "$work/run/config.json" "$work/r_early/"
head -1 "$work/run/metrics.jsonl" >"$work/r_early/metrics.jsonl"
expect_ok "train: --resume of a run stopped before its first checkpoint" \
  "r_early stopped before its first checkpoint: it starts again from its first epoch" \
  "$bin" train --ptbxl "$D" --out "$work/r_early" "${tiny[@]}" --resume
cmp -s "$work/run/model.safetensors" "$work/r_early/model.safetensors" ||
  fail "train: the run restarted by --resume differs from the uninterrupted one"
expect_fail "train: a new run over a finished one" "already holds a training run.*--resume" \
  "$bin" train --ptbxl "$D" --out "$work/run" "${tiny[@]}" --quiet
expect_fail "train: --ptbxl DIR that does not exist" "missing_dir/ptbxl_database.csv: cannot open" \
  "$bin" train --ptbxl "$work/missing_dir" --out "$work/r_missing" "${tiny[@]}" --quiet
expect_fail "train: no --ptbxl" "--ptbxl DIR is required" "$bin" train --out "$work/r_x"
expect_fail "train: unknown --lr-schedule" "--lr-schedule must be cosine or plateau" \
  "$bin" train --ptbxl "$D" --out "$work/r_sched" --lr-schedule step
expect_fail "train: --crop 11 (records are 10 s)" "--crop must be 0 or 0.16-10 s.*got 11" \
  "$bin" train --ptbxl "$D" --out "$work/r_crop" --crop 11
expect_fail "train: negative --aug-noise" "--aug-noise must not be negative, got -1" \
  "$bin" train --ptbxl "$D" --out "$work/r_noise" --aug-noise -1
expect_fail "prepare: --ptbxl DIR that does not exist" "missing_dir/ptbxl_database.csv: cannot open" \
  "$bin" prepare --ptbxl "$work/missing_dir" --out "$work/x.bin"
expect_fail "prepare: dataset with only 6-lead records" "no record could be read" \
  "$bin" prepare --ptbxl "$work/six" --out "$work/six.bin" --quiet

# ---- eval options -------------------------------------------------------------------------
expect_fail "eval: --split train" "--split must be 'test' or 'val', got 'train'" \
  "$bin" eval --model "$M" --ptbxl "$D" --split train
expect_fail "eval: --ptbxl DIR that does not exist" "missing_dir/ptbxl_database.csv: cannot open" \
  "$bin" eval --model "$M" --ptbxl "$work/missing_dir" --quiet
expect_fail "eval: no --ptbxl" "--ptbxl DIR is required" "$bin" eval --model "$M"
expect_ok "eval: the tiny model on the synthetic test split" "macro-AUROC" \
  "$bin" eval --model "$M" --ptbxl "$D" --bootstrap 20 --quiet

# ---- int8: calibration and --precision int8 --------------------------------------------------
"$PY" $ST "$M" "$work/calib_bad.st" --set-meta 'int8_calibration={"version":1,"stem":-1}'
"$PY" $ST "$M" "$work/calib_v2.st" --set-meta 'int8_calibration={"version":2}'
expect_ok "predict --precision int8: the trained model carries a calibration" "00001_lr" \
  "$bin" predict --model "$M" --precision int8 "$REC"
grep -qi "calibration" "$work/err" && fail "predict --precision int8 fell back on a trained model"
expect_fail "predict: malformed int8 calibration" "calib_bad.st.*'int8_calibration' is invalid" \
  "$bin" predict --model "$work/calib_bad.st" "$REC"
expect_fail "predict: int8 calibration of a future version" "calib_v2.st.*'int8_calibration' has version 2" \
  "$bin" predict --model "$work/calib_v2.st" "$REC"
expect_ok "calibrate: recalibrate the tiny model" "int8 calibration on .* training records" \
  "$bin" calibrate --model "$M" --ptbxl "$D" --out "$work/m8.st" --records 8 --percentile 99.9
expect_ok "eval --precision int8 on the recalibrated model" "macro-AUROC" \
  "$bin" eval --model "$work/m8.st" --ptbxl "$D" --bootstrap 0 --quiet --precision int8
expect_fail "calibrate: no --out" "--out .* required" "$bin" calibrate --model "$M" --ptbxl "$D"
expect_fail "calibrate: --percentile 0" "--percentile must be in \(0, 100\]" \
  "$bin" calibrate --model "$M" --ptbxl "$D" --out "$work/m8b.st" --percentile 0
expect_fail "train: --precision int8" "int8 is for inference" \
  "$bin" train --ptbxl "$D" --out "$work/r_int8" --precision int8
expect_fail "predict: --precision int4" "--precision must be fp32, bf16 or int8" \
  "$bin" predict --model "$M" --precision int4 "$REC"

# ---- records for predict / explain -----------------------------------------------------------
SIX=$work/six/records100/00000/00001_lr
expect_fail "predict: 6-lead record" "00001_lr.*6 leads.*12 standard leads" "$bin" predict --model "$M" "$SIX"
expect_fail "explain: 6-lead record" "00001_lr.*6 leads.*12 standard leads" "$bin" explain --model "$M" "$SIX"
expect_fail "predict: record that does not exist" "nowhere/00001_lr.hea: cannot open" \
  "$bin" predict --model "$M" "$work/nowhere/00001_lr"
expect_fail "explain: record that does not exist" "nowhere/00001_lr.hea: cannot open" \
  "$bin" explain --model "$M" "$work/nowhere/00001_lr"
expect_fail "predict: one good and one missing record (exit 1, good one still printed)" \
  "nowhere/00002_lr.hea: cannot open" "$bin" predict --model "$M" "$REC" "$work/nowhere/00002_lr"
grep -q "00001_lr:" "$work/out" || fail "predict: the good record's result is missing when another fails"
expect_fail "explain: ecg_id without --ptbxl" "needs --ptbxl" "$bin" explain --model "$M" 3
expect_fail "explain: ecg_id not in the dataset" "ecg_id 999 is not in .*ptbxl_database.csv" \
  "$bin" explain --model "$M" --ptbxl "$D" 999

# a 500 Hz record in a directory of its own (outside any dataset): resampled, works
out500=$work/outside
mkdir -p "$out500"
cp "$D"/records500/00000/00002_hr.hea "$D"/records500/00000/00002_hr.dat "$out500/"
expect_ok "explain: 500 Hz record outside the dataset" "outside/00002_hr" \
  "$bin" explain --model "$M" "$out500/00002_hr" --json "$work/ex500.json"
grep -q '"probabilities"' "$work/ex500.json" 2>/dev/null || fail "explain 500 Hz: no JSON written"
expect_ok "explain: 500 Hz record outside the dataset, HTML with the prototypes' sources" "" \
  "$bin" explain --model "$M" --ptbxl "$D" "$out500/00002_hr" --html "$work/ex500.html"
grep -q "<svg" "$work/ex500.html" 2>/dev/null || fail "explain 500 Hz: no SVG in the HTML page"
expect_ok "predict: 500 Hz record outside the dataset" "outside/00002_hr:" \
  "$bin" predict --model "$M" "$out500/00002_hr"
expect_ok "explain: 100 Hz record given by its path" "" \
  "$bin" explain --model "$M" "$REC"
expect_ok "predict --ptbxl: records given by their ecg_id" "^3: .*" "$bin" predict --model "$M" --ptbxl "$D" 3
expect_fail "predict --ptbxl: an ecg_id not in the dataset" "ecg_id 999 is not in .*ptbxl_database.csv" \
  "$bin" predict --model "$M" --ptbxl "$D" 999
expect_fail "predict: an ecg_id without --ptbxl" "record 3: an ecg_id needs --ptbxl DIR" \
  "$bin" predict --model "$M" 3
mkdir -p "$work/digits" && cp "$REC.hea" "$work/digits/100.hea" && cp "$REC.dat" "$work/digits/"
expect_ok "predict: a record named by digits (MIT-BIH style), without --ptbxl" "^100: " \
  bash -c 'cd "$0/digits" && "$1" predict --model "$2" 100' "$work" "$bin" "$M"
expect_ok "predict: records given by their .hea and .dat files" "00001_lr.hea: .*00002_lr.dat: " \
  bash -c '"$0" predict --model "$1" "$2.hea" "${2%1_lr}2_lr.dat" | tr "\n" " "' "$bin" "$M" "$REC"

# rates and lengths that cannot be used (same samples, edited record line)
sed '1s/ 500 5000$/ 257.3 5000/' "$out500/00002_hr.hea" >"$out500/rate.hea"
sed '1s/ 500 5000$/ 250 5000/' "$out500/00002_hr.hea" >"$out500/len.hea"
sed '1s/ 500 5000$/ 1000 5000/' "$out500/00002_hr.hea" >"$out500/short.hea"
expect_fail "explain: record at 257.3 Hz" "rate.*sampling rate 257.3 Hz cannot be used" \
  "$bin" explain --model "$M" "$out500/rate"
expect_ok "predict: record of 20 s (5000 samples at 250 Hz), in 10-s windows" "20.0 s read in 3 windows" \
  "$bin" predict --model "$M" "$out500/len"
expect_fail "predict: record of 5 s (5000 samples at 1000 Hz)" "short.*5000 samples at 1000 Hz.*at least 10 s" \
  "$bin" predict --model "$M" "$out500/short"

# a baseline model has no prototypes to explain with
expect_ok "train: tiny baseline" "" \
  "$bin" train --ptbxl "$D" --out "$work/base" --stage baseline "${tiny[@]}" --quiet
expect_fail "explain: baseline model" "baseline.*no prototypes" \
  "$bin" explain --model "$work/base/baseline.safetensors" "$REC"

echo "$n_cases cases, $fails failure(s)"
((fails == 0)) || exit 1
exit 0
