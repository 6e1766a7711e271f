# Sourced (after `cd` to the project root) by the shell tests that need the shared
# PTB-XL data: sets bin (the protoecg binary given as $1), data (the dataset; exits 77,
# ctest's SKIP, when it is absent), py (python3), tmp (a directory removed on exit) and
# fail() (prints FAIL and exits 1).
bin=$(realpath "${1:-build/protoecg}")
data="${PROTOECG_PTBXL:-../shared/data/ptbxl}"
if [[ ! -f "$data/ptbxl_database.csv" ]]; then
  echo "SKIP: PTB-XL data not found at $data (set PROTOECG_PTBXL)"
  exit 77
fi
py=/usr/bin/python3
[[ -x "$py" ]] || py=$(command -v python3)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
