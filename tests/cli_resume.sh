#!/usr/bin/env bash
# Determinism and resume of `protoecg train`, end to end, on a synthetic dataset
# (scripts/make_tiny_ptbxl.py) with a tiny network:
#   - the same seed and thread count give byte-identical model files (every phase) and the
#     same results.json and metrics.jsonl (timings aside), twice; another seed does not;
#   - a run killed with SIGKILL twice (inside the joint phase, then inside the last-layer
#     phase) and continued each time with --resume ends with the same files as the
#     uninterrupted run;
#   - the same with two joint + projection rounds, killed in the second joint phase;
#   - the same with the plateau schedule (the default is cosine), killed in the pretraining;
#   - the same with mixup and the weight average (--mixup, --ema: the average must
#     survive the kill), killed in the pretraining;
#   - the last-layer stage ends with the best (validation) of the layer it starts from
#     and its epochs, with the full-batch solver (default) and minibatch Adam;
#   - --preset authors writes the authors' settings to config.json;
#   - a new run in a directory that holds one is refused without --resume;
#   - no temporary file (*.tmp.*) is left behind, also not one that the kill left.
# Not run with 2 threads under PE_TEST_QUICK=1 (the sanitizer run). Skips (exit 77) only
# without python3.
set -u
cd "$(dirname "$0")/.."
source tests/synthetic_test_env.sh
bg=
trap '[[ -n "$bg" ]] && kill -9 "$bg" 2>/dev/null; rm -rf "$work"' EXIT

"$PY" scripts/make_tiny_ptbxl.py "$work/data" || { echo "FAIL: make_tiny_ptbxl.py"; exit 1; }
D=$work/data
# 2 + 4 + 1 epochs before the projection, 60 after: 67 lines of metrics.jsonl. The
# last-layer epochs are fast (cached similarities), so there are many of them (and no
# early stop) for the kill to land inside that phase.
cfg=(--width 4 --latent 32 --protos-per-class 2 --epochs 4 --epochs-pretrain 2
     --epochs-warmup 1 --epochs-last 60 --patience 1000 --batch 16 --quiet)
n_epochs=67
files=(pretrain joint1 warmup1 projected1 model)

# train DIR ARGS...: a run that must succeed
train() {
  local dir=$1
  shift
  if ! "$bin" train --ptbxl "$D" --out "$dir" "${cfg[@]}" "$@" >"$work/out" 2>"$work/err"; then
    fail "train --out $dir $*:"
    sed 's/^/    /' "$work/err" | head -20
    return 1
  fi
  if grep -qE "AddressSanitizer|LeakSanitizer|runtime error" "$work/err"; then
    fail "train --out $dir: sanitizer report"
    head -30 "$work/err"
  fi
}

# The JSON of results.json / metrics.jsonl without the "seconds" timings.
strip_times() { sed -E 's/"seconds":[[:space:]]*[0-9.eE+-]+,?//g' "$1"; }

# same_run A B WHAT: A and B hold identical model files, results and metrics.
same_run() {
  local a=$1 b=$2 what=$3 f ok=1
  for f in "${files[@]}"; do
    if ! cmp -s "$a/$f.safetensors" "$b/$f.safetensors"; then
      fail "$what: $f.safetensors differs"
      ok=0
    fi
  done
  if ! diff <(strip_times "$a/results.json") <(strip_times "$b/results.json") >"$work/diff"; then
    fail "$what: results.json differs:"
    head -20 "$work/diff"
    ok=0
  fi
  if ! diff <(strip_times "$a/metrics.jsonl") <(strip_times "$b/metrics.jsonl") >"$work/diff"; then
    fail "$what: metrics.jsonl differs:"
    head -20 "$work/diff"
    ok=0
  fi
  ((ok)) && echo "ok: $what: identical model files, results.json and metrics.jsonl"
}

no_tmp() {
  local left
  left=$(find "$1" -name '*.tmp.*')
  [[ -z "$left" ]] || fail "$2: temporary files left: $left"
}

# ---- same seed, same threads: identical -------------------------------------------------
train "$work/a" --threads 1 --seed 7
train "$work/b" --threads 1 --seed 7
[[ $(wc -l <"$work/a/metrics.jsonl") -eq $n_epochs ]] || fail "run a: expected $n_epochs epochs in metrics.jsonl"
same_run "$work/a" "$work/b" "two runs with seed 7, 1 thread"
no_tmp "$work/a" "uninterrupted run"
# kept_best DIR [below|nokeep]: the last-layer stage of DIR ended with the best
# (validation) of the layer it started from and its epochs; with "below", all its epochs
# scored lower than its start (so the start must have been kept); with "nokeep" (a run
# with --no-last-keep-start) the same epochs, and the best of the epochs alone was kept.
kept_best() {
  if "$PY" - "$@" >"$work/keep" 2>&1 <<'PYEOF'
import json, sys
d, mode = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else ""
res = json.load(open(d + "/results.json"))
rows = [json.loads(l) for l in open(d + "/metrics.jsonl")]
epochs = [r["val"]["macro_auroc"] for r in rows if r["phase"] == "model"]
start = res["projected1"]["val_macro_auroc"]
want = max(epochs) if mode == "nokeep" else max([start] + epochs)
got = res["model"]["val_macro_auroc"]
print(f"start {start:.6f}, best epoch {max(epochs):.6f}, kept {got:.6f}")
sys.exit(0 if abs(got - want) < 1e-5 and (not mode or max(epochs) < start - 1e-5) else 1)
PYEOF
  then
    echo "ok: the last-layer stage kept the expected layer ($(cat "$work/keep"))"
  else
    fail "$1: the last-layer stage did not keep the best of its start and its epochs, or the case was not exercised: $(cat "$work/keep")"
  fi
}
kept_best "$work/a"
# minibatch Adam (the authors' way) at a last-layer rate of 100 for 4 epochs leaves every
# epoch below the start (the last stage with seed 1 on the seed-7 run)
cp -r "$work/a" "$work/keep_start"
train "$work/keep_start" --threads 1 --seed 1 --stage last --last-fista-iters 0 --lr-last 100 \
  --epochs-last 4 &&
  kept_best "$work/keep_start" below
# the same without keeping the start: the best of those (lower) epochs is the result
cp -r "$work/a" "$work/no_keep"
train "$work/no_keep" --threads 1 --seed 1 --stage last --last-fista-iters 0 --lr-last 100 \
  --epochs-last 4 --no-last-keep-start &&
  kept_best "$work/no_keep" nokeep
# the authors' preset: their last layer (minibatch Adam, L1 1e-4) and class weights, with
# the tiny shape and epochs of cfg (options after the preset override it)
if train "$work/authors" --threads 1 --seed 7 --preset authors; then
  if "$PY" - "$work/authors" >"$work/keep" 2>&1 <<'PYEOF'
import json, sys
c = json.load(open(sys.argv[1] + "/config.json"))
ok = (c["last_fista_iters"] == 0 and abs(c["loss_weights"]["l1"] - 1e-4) < 1e-12
      and c["pos_weight_power"] == 1 and not c["warmup_last"] and c["warmup_clst"] == 0)
print(f"last_fista_iters {c['last_fista_iters']}, l1 {c['loss_weights']['l1']}, "
      f"pos_weight_power {c['pos_weight_power']}")
sys.exit(0 if ok else 1)
PYEOF
  then
    echo "ok: --preset authors: $(cat "$work/keep")"
  else
    fail "--preset authors: config.json does not hold the authors' settings: $(cat "$work/keep")"
  fi
  cmp -s "$work/a/model.safetensors" "$work/authors/model.safetensors" &&
    fail "--preset authors gives the default run's model"
fi
train "$work/c" --threads 1 --seed 8
if cmp -s "$work/a/model.safetensors" "$work/c/model.safetensors"; then
  fail "seeds 7 and 8 give the same model (is the seed used?)"
else
  echo "ok: another seed gives another model"
fi
# --crop: the pretraining on 2.5-s windows of the 10-s records is reproducible, is not the
# whole-record pretraining, and is recorded in config.json
train "$work/crop1" --threads 1 --seed 7 --crop 2.5
train "$work/crop2" --threads 1 --seed 7 --crop 2.5
same_run "$work/crop1" "$work/crop2" "two runs with --crop 2.5, seed 7, 1 thread"
if cmp -s "$work/a/pretrain.safetensors" "$work/crop1/pretrain.safetensors"; then
  fail "--crop 2.5 gives the whole-record pretraining"
elif ! grep -qE '"crop":[[:space:]]*250,' "$work/crop1/config.json"; then
  fail "config.json does not record the crop of 250 samples"
else
  echo "ok: --crop 2.5 trains another pretraining, recorded as 250 samples"
fi
if [[ "${PE_TEST_QUICK:-0}" != 1 ]]; then
  train "$work/t2a" --threads 2 --seed 7
  train "$work/t2b" --threads 2 --seed 7
  same_run "$work/t2a" "$work/t2b" "two runs with seed 7, 2 threads"
fi

# ---- a new run over an existing one is refused --------------------------------------------
if "$bin" train --ptbxl "$D" --out "$work/a" "${cfg[@]}" --threads 1 --seed 7 >"$work/out" 2>"$work/err"; then
  fail "a new run in a directory holding a run was not refused"
elif ! grep -q "already holds a training run: continue it with --resume" "$work/err"; then
  fail "refusal without a clear message: $(cat "$work/err")"
else
  echo "ok: a new run over an existing one is refused: $(cat "$work/err")"
fi
same_run "$work/a" "$work/b" "the refused run left the existing one untouched"

# ---- killed twice and resumed --------------------------------------------------------------
# kill_at DIR N [--resume]: starts the run in the background and kills it with SIGKILL as
# soon as metrics.jsonl has N lines. Fails if the run ends by itself first.
kill_at() {
  local dir=$1 n=$2
  shift 2
  "$bin" train --ptbxl "$D" --out "$dir" "${cfg[@]}" --threads 1 --seed 7 "$@" \
    >"$work/kout" 2>"$work/kerr" &
  bg=$!
  local lines=()
  while kill -0 "$bg" 2>/dev/null; do
    [[ -e "$dir/metrics.jsonl" ]] && mapfile -t lines <"$dir/metrics.jsonl"
    ((${#lines[@]} >= n)) && break
    sleep 0.005
  done
  kill -9 "$bg" 2>/dev/null
  wait "$bg" 2>/dev/null
  local rc=$?
  dead_pid=$bg
  bg=
  if ((rc != 137)); then
    fail "the run to kill at $n epochs ended by itself (exit $rc) before it could be killed:"
    head -5 "$work/kerr"
    return 1
  fi
  [[ -e "$dir/model.safetensors" ]] && fail "killed run has a model.safetensors already"
  echo "ok: run killed after $(wc -l <"$dir/metrics.jsonl") epochs (asked: $n), last:" \
    "$(tail -1 "$dir/metrics.jsonl" | grep -oE '"phase":"[a-z0-9]+","epoch":[0-9]+')"
  return 0
}

k=$work/k
if kill_at "$k" 3; then # inside joint1 (2 pretrain epochs + 1)
  if "$bin" train --ptbxl "$D" --out "$k" "${cfg[@]}" --threads 1 --seed 7 >"$work/out" 2>"$work/err"; then
    fail "restarting the killed run without --resume was not refused"
  else
    grep -q "already holds a training run" "$work/err" || fail "unclear refusal: $(cat "$work/err")"
  fi
  if kill_at "$k" 17 --resume; then # inside the last layer (2 + 4 + 1 + 10)
    # what an atomic write cut by the kill leaves (--resume removes it)
    touch "$k/checkpoint.safetensors.tmp.$dead_pid"
    train "$k" --threads 1 --seed 7 --resume
    same_run "$work/a" "$k" "killed twice (joint, last layer) and resumed vs uninterrupted"
    no_tmp "$k" "resumed run"
  fi
fi

# ---- two rounds: killed inside the second joint phase, resumed ------------------------------
# The second warm-up must hold its prototypes on the features of the backbone that the
# second joint phase trained, in the uninterrupted run as in the resumed one (which starts
# with no cached features).
ro=(--rounds 2)
train "$work/r2" --threads 1 --seed 7 "${ro[@]}"
if kill_at "$work/kr2" 9 "${ro[@]}"; then # inside joint2 (2 + 4 + 1 + 2)
  train "$work/kr2" --threads 1 --seed 7 "${ro[@]}" --resume
  same_run "$work/r2" "$work/kr2" "two rounds: killed in the second joint phase and resumed vs uninterrupted"
fi

# ---- the plateau schedule: killed inside the pretraining, resumed ----------------------------
# (the default, cosine, leaves the plateau state unset: +-inf, which JSON cannot hold
# verbatim; the runs above resume through such checkpoints)
lrs=$(grep -oE '"phase":"pretrain","epoch":[0-9]+,"lr":[0-9.e-]+' "$work/a/metrics.jsonl" | sed 's/.*"lr"://')
if [[ $(echo "$lrs" | wc -l) -eq 2 ]] && awk 'NR == 1 { a = $1 } NR == 2 { exit !($1 < a) }' <<<"$lrs"; then
  echo "ok: cosine pretraining lr decreases: $(echo $lrs)"
else
  fail "cosine pretraining lr does not decrease over its 2 epochs: $lrs"
fi
train "$work/pl" --threads 1 --seed 7 --lr-schedule plateau
if kill_at "$work/kp" 2 --lr-schedule plateau; then # at the end of the pretraining
  train "$work/kp" --threads 1 --seed 7 --lr-schedule plateau --resume
  same_run "$work/pl" "$work/kp" "plateau schedule: killed in pretraining and resumed vs uninterrupted"
fi

# ---- mixup and the weight average: killed inside the pretraining, resumed ------------------
me=(--mixup 0.4 --ema 0.9 --epochs-pretrain 3)
train "$work/me" --threads 1 --seed 7 "${me[@]}"
if cmp -s "$work/a/pretrain.safetensors" "$work/me/pretrain.safetensors"; then
  fail "--mixup/--ema left the pretraining unchanged"
fi
grep -qE '"ema":[[:space:]]*0\.(9|89)' "$work/me/config.json" || fail "config.json lacks the ema setting"
if kill_at "$work/kme" 2 "${me[@]}"; then # inside the pretraining (3 epochs)
  train "$work/kme" --threads 1 --seed 7 "${me[@]}" --resume
  same_run "$work/me" "$work/kme" "mixup + EMA: killed in pretraining and resumed vs uninterrupted"
fi

if ((fails)); then
  echo "$fails failure(s)"
  exit 1
fi
echo "all checks passed"
