#!/usr/bin/env bash
# The Python references' own checks: scripts/test_convert_torch.py (the PyTorch ->
# safetensors converter) and scripts/verify_golden_model.py (the network golden files
# against finite differences, a hand-written Adam and a float32 torch run). Skips (exit
# 77) without python3-torch (`scripts/setup --dev` installs it; CI does not).
set -u
cd "$(dirname "$0")/.."
py=/usr/bin/python3
if ! "$py" -c "import torch, numpy" 2>/dev/null; then
  echo "SKIP: python3-torch not installed (scripts/setup --dev)"
  exit 77
fi
rc=0
for s in scripts/test_convert_torch.py scripts/verify_golden_model.py; do
  OMP_NUM_THREADS=1 "$py" "$s" || { echo "FAIL: $s"; rc=1; }
done
exit $rc
