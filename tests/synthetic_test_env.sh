# Sourced (after `cd` to the project root) by the shell tests that write a synthetic
# dataset (scripts/make_tiny_ptbxl.py): sets bin (the protoecg binary given as $1), PY
# (python3; exits 77, ctest's SKIP, when absent), work (a directory removed on exit; a
# test that needs more cleanup sets its own trap after sourcing this), fails (0) and
# fail() (prints FAIL and counts it in fails; the test exits with fails > 0), run_case,
# expect_fail / expect_ok (a command's exit code and output against a pattern, counted in
# n_cases) and tiny_model (a synthetic dataset and a tiny model trained on it).
bin=$(realpath "${1:-build/protoecg}")
PY=${PYTHON:-python3}
if ! command -v "$PY" >/dev/null 2>&1; then
  echo "SKIP: python3 not found (needed to write the synthetic dataset)"
  exit 77
fi
if [[ ! -x "$bin" ]]; then
  echo "FAIL: $bin is not an executable"
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
fail() {
  echo "FAIL: $*"
  fails=$((fails + 1))
}
n_cases=0

# The last command's stderr has no sanitizer report and its exit code is not a signal's.
no_crash() {
  local name=$1 rc=$2
  if ((rc >= 128)); then fail "$name: exit code $rc (killed by a signal?)"; return 1; fi
  if grep -qE "AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error" \
    "$work/err"; then
    fail "$name: sanitizer report:"
    sed 's/^/    /' "$work/err" | head -30
    return 1
  fi
  return 0
}

# run_case NAME CMD...: runs CMD as one counted case (n_cases), its stdout and stderr in
# $work/out and $work/err, its exit code in case_rc; fails (returns 1) if it crashed.
run_case() {
  local name=$1
  shift
  n_cases=$((n_cases + 1))
  "$@" >"$work/out" 2>"$work/err"
  case_rc=$?
  no_crash "$name" $case_rc
}

# expect_fail NAME REGEX CMD...: CMD exits with 1..127 and its stderr matches REGEX
# (extended, case-insensitive).
expect_fail() {
  local name=$1 re=$2
  shift 2
  run_case "$name" "$@" || return
  if ((case_rc == 0)); then
    fail "$name: exit code 0, expected an error"
  elif ! grep -qiE -- "$re" "$work/err"; then
    fail "$name: stderr does not match /$re/:"
    sed 's/^/    /' "$work/err" | head -10
  else
    echo "ok: $name (exit $case_rc): $(grep -iE -m1 -- "$re" "$work/err")"
  fi
}

# expect_ok NAME REGEX CMD...: CMD exits with 0 and stdout+stderr match REGEX ('' = any).
expect_ok() {
  local name=$1 re=$2
  shift 2
  run_case "$name" "$@" || return
  if ((case_rc != 0)); then
    fail "$name: exit code $case_rc, expected 0:"
    sed 's/^/    /' "$work/err" | head -10
  elif [[ -n "$re" ]] && ! cat "$work/out" "$work/err" | grep -qiE -- "$re"; then
    fail "$name: output does not match /$re/:"
    cat "$work/out" "$work/err" | sed 's/^/    /' | head -10
  else
    echo "ok: $name"
  fi
}

# tiny_model N: writes a synthetic dataset of N records to $work/d and trains a tiny
# prototype model on it (seconds); sets D (the dataset) and M (the model file).
tiny_model() {
  D=$work/d M=$work/run/model.safetensors
  "$PY" scripts/make_tiny_ptbxl.py "$D" --n "$1" || { echo "FAIL: make_tiny_ptbxl.py"; exit 1; }
  "$bin" train --ptbxl "$D" --out "$work/run" --width 4 --latent 32 --protos-per-class 2 \
    --epochs 1 --epochs-pretrain 0 --epochs-warmup 0 --epochs-last 1 --batch 16 --threads 1 \
    --quiet >"$work/out" 2>&1 || { cat "$work/out"; echo "FAIL: tiny training run"; exit 1; }
}
