#!/usr/bin/env bash
# Browser check of the rendered pages (src/explain/render.c): test_render (built next to
# the protoecg binary given as $1) writes an explanation page, a prototype gallery and a
# chart page from real PTB-XL records into a private directory; scripts/browser_check
# renders them in headless Chromium, offline, and asserts that they are not blank, show
# ECG paper and traces, make no network request, log nothing to the console, and that the
# parsed DOM has 12 lead traces + 1 rhythm strip per ECG. A deliberately bad page (an
# external image, stylesheet and script, a console error) must be caught.
# Skips (exit 77) without Chromium, without the test_render binary or without the data.
set -euo pipefail
cd "$(dirname "$0")/.."
bin_dir=$(dirname "${1:-build/protoecg}")
test_render="$bin_dir/test_render"
if [[ ! -x "$test_render" ]]; then
  echo "SKIP: $test_render not built"
  exit 77
fi
if ! command -v "${CHROMIUM:-chromium}" >/dev/null 2>&1; then
  echo "SKIP: Chromium not installed (apt-get install chromium)"
  exit 77
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/pages"
rc=0
PE_RENDER_OUT="$work/pages" "$test_render" >"$work/test_render.log" 2>&1 || rc=$?
if ((rc == 77)); then
  echo "SKIP: test_render skipped: $(cat "$work/test_render.log")"
  exit 77
elif ((rc != 0)); then
  cat "$work/test_render.log"
  echo "FAIL: test_render failed"
  exit 1
fi

fail=0
scripts/browser_check --out "$work/shots" --expect-ecg \
  "$work/pages/explanation.html" "$work/pages/gallery.html" || fail=1
scripts/browser_check --out "$work/shots" "$work/pages/charts.html" || fail=1

# The checker itself must catch what it is there to catch.
cat >"$work/bad.html" <<'EOF'
<!DOCTYPE html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="https://fonts.example.invalid/font.css"></head>
<body><h1>bad page</h1><img src="http://example.invalid/x.png">
<script>console.error("boom")</script></body></html>
EOF
if scripts/browser_check --out "$work/shots" "$work/bad.html" >"$work/bad.log" 2>&1; then
  cat "$work/bad.log"
  echo "FAIL: browser_check accepted a page with network requests and console errors"
  fail=1
else
  for want in "network request" "console message" "example.invalid/x.png"; do
    if ! grep -q "$want" "$work/bad.log"; then
      cat "$work/bad.log"
      echo "FAIL: browser_check did not report: $want"
      fail=1
    fi
  done
fi

if ((fail)); then
  echo "cli_browser: FAIL"
  exit 1
fi
echo "cli_browser: OK"
