# Sourced (after `cd` to the project root) by the shell tests that write a synthetic
# dataset (scripts/make_tiny_ptbxl.py): sets bin (the protoecg binary given as $1), PY
# (python3; exits 77, ctest's SKIP, when absent), work (a directory removed on exit; a
# test that needs more cleanup sets its own trap after sourcing this), fails (0) and
# fail() (prints FAIL and counts it in fails; the test exits with fails > 0).
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
