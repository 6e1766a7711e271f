#!/usr/bin/env bash
# scripts/download_ptbxl without the internet: a fake PTB-XL release (a few files,
# one with a space in its name, and a SHA256SUMS.txt in PhysioNet's "hash path" form)
# is zipped and "downloaded" from a file:// URL (PTBXL_URL; needs curl), unpacked and
# verified; then --verify must catch a corrupted file, a missing file and a malformed
# checksum list (exit 1, naming the file), accept unlisted extra files with a warning,
# and the download must fail on a truncated zip and on a release whose checksums do
# not match. The protoecg binary ($1) is not used.
set -euo pipefail
cd "$(dirname "$0")/.."
script=scripts/download_ptbxl
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
name=ptb-xl-a-large-publicly-available-electrocardiography-dataset-1.0.3

# a fake release
rel="$tmp/src/$name"
mkdir -p "$rel/records100/00000"
printf 'ecg_id,patient_id\n1,15709.0\n' >"$rel/ptbxl_database.csv"
printf '00001_lr 12 100 1000\n' >"$rel/records100/00000/00001_lr.hea"
head -c 24000 /dev/urandom >"$rel/records100/00000/00001_lr.dat"
echo "license" >"$rel/LICENSE file.txt"
(cd "$rel" && find . -type f -printf '%P\n' | sort | xargs -d '\n' sha256sum | sed 's/  / /') \
  >"$tmp/SHA256SUMS.txt"
mv "$tmp/SHA256SUMS.txt" "$rel/SHA256SUMS.txt"
n_files=$(wc -l <"$rel/SHA256SUMS.txt")

# usage
rc=0; "$script" >/dev/null 2>&1 || rc=$?
((rc == 2)) || fail "no argument: exit $rc (want 2)"

# verify the pristine tree
"$script" --verify "$rel" >"$tmp/ok.log" 2>&1 || { cat "$tmp/ok.log"; fail "a good tree was rejected"; }
grep -q "OK: all $n_files files verified" "$tmp/ok.log" || fail "no OK line: $(cat "$tmp/ok.log")"

# the whole download path from a file:// URL
if command -v curl >/dev/null 2>&1; then
  (cd "$tmp/src" && /usr/bin/env python3 -m zipfile -c "$tmp/$name.zip" "$name") ||
    (cd "$tmp/src" && zip -qr "$tmp/$name.zip" "$name")
  PTBXL_URL="file://$tmp/$name.zip" "$script" "$tmp/dl" >"$tmp/dl.log" 2>&1 ||
    { cat "$tmp/dl.log"; fail "download from file:// failed"; }
  grep -q "ready: use --ptbxl $tmp/dl/$name" "$tmp/dl.log" || fail "no ready line: $(cat "$tmp/dl.log")"
  cmp "$tmp/dl/$name/records100/00000/00001_lr.dat" "$rel/records100/00000/00001_lr.dat" ||
    fail "unpacked file differs"
  [[ ! -e "$tmp/dl/$name.zip" ]] || fail "the zip was not removed"
  # a truncated zip
  head -c 300 "$tmp/$name.zip" >"$tmp/trunc.zip"
  rc=0; PTBXL_URL="file://$tmp/trunc.zip" "$script" "$tmp/dl2" >"$tmp/dl2.log" 2>&1 || rc=$?
  ((rc == 1)) || { cat "$tmp/dl2.log"; fail "truncated zip: exit $rc (want 1)"; }
  # a release whose file does not match its checksum
  cp -r "$tmp/src" "$tmp/src3"
  printf 'X' | dd of="$tmp/src3/$name/ptbxl_database.csv" bs=1 seek=3 conv=notrunc status=none
  (cd "$tmp/src3" && /usr/bin/env python3 -m zipfile -c "$tmp/bad.zip" "$name")
  rc=0; PTBXL_URL="file://$tmp/bad.zip" "$script" "$tmp/dl3" >"$tmp/dl3.log" 2>&1 || rc=$?
  ((rc == 1)) || { cat "$tmp/dl3.log"; fail "mismatching release: exit $rc (want 1)"; }
  grep -q "ptbxl_database.csv: FAILED" "$tmp/dl3.log" || fail "mismatch not named: $(cat "$tmp/dl3.log")"
else
  echo "curl not installed: download path not tested"
fi

# one corrupted byte
cp -r "$rel" "$tmp/c1"
printf '\x00' | dd of="$tmp/c1/records100/00000/00001_lr.dat" bs=1 seek=100 conv=notrunc status=none
if cmp -s "$tmp/c1/records100/00000/00001_lr.dat" "$rel/records100/00000/00001_lr.dat"; then
  printf '\x01' | dd of="$tmp/c1/records100/00000/00001_lr.dat" bs=1 seek=100 conv=notrunc status=none
fi
rc=0; "$script" --verify "$tmp/c1" >"$tmp/c1.log" 2>&1 || rc=$?
((rc == 1)) || { cat "$tmp/c1.log"; fail "corrupted file: exit $rc (want 1)"; }
grep -q "records100/00000/00001_lr.dat: FAILED" "$tmp/c1.log" || fail "corrupted file not named: $(cat "$tmp/c1.log")"
grep -q "1 file(s) with a wrong checksum, 0 missing" "$tmp/c1.log" || fail "count: $(cat "$tmp/c1.log")"

# a missing file (the one with a space in its name)
cp -r "$rel" "$tmp/c2"
rm "$tmp/c2/LICENSE file.txt"
rc=0; "$script" --verify "$tmp/c2" >"$tmp/c2.log" 2>&1 || rc=$?
((rc == 1)) || { cat "$tmp/c2.log"; fail "missing file: exit $rc (want 1)"; }
grep -q "LICENSE file.txt: FAILED open or read" "$tmp/c2.log" || fail "missing file not named: $(cat "$tmp/c2.log")"

# a malformed checksum list
cp -r "$rel" "$tmp/c3"
echo "not a checksum line" >>"$tmp/c3/SHA256SUMS.txt"
rc=0; "$script" --verify "$tmp/c3" >"$tmp/c3.log" 2>&1 || rc=$?
((rc == 1)) || { cat "$tmp/c3.log"; fail "malformed list: exit $rc (want 1)"; }
grep -q "malformed" "$tmp/c3.log" || fail "malformed list not reported: $(cat "$tmp/c3.log")"

# no checksum list at all
cp -r "$rel" "$tmp/c4"
rm "$tmp/c4/SHA256SUMS.txt"
rc=0; "$script" --verify "$tmp/c4" >"$tmp/c4.log" 2>&1 || rc=$?
((rc == 1)) || fail "no SHA256SUMS.txt: exit $rc (want 1)"

# an extra, unlisted file: accepted with a warning
cp -r "$rel" "$tmp/c5"
echo x >"$tmp/c5/notes.txt"
"$script" --verify "$tmp/c5" >"$tmp/c5.log" 2>&1 || { cat "$tmp/c5.log"; fail "extra file rejected"; }
grep -q "warning: 1 file(s) .* not in SHA256SUMS.txt" "$tmp/c5.log" || fail "no warning: $(cat "$tmp/c5.log")"
grep -q "notes.txt" "$tmp/c5.log" || fail "extra file not named"
echo "cli_download: OK"
