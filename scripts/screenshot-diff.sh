#!/usr/bin/env bash
# Screenshots an HTML page of `strata diff --format html` with headless Chromium, offline.
#   scripts/screenshot-diff.sh PAGE.html OUT.png
# Without arguments: renders the shipped overlays' inputs against their output to
# target/diff-screenshot/{diff.html,diff.png}.
set -euo pipefail
cd "$(dirname "$0")/.."
page=${1:-}
out=${2:-}
if [ -z "$page" ]; then
  mkdir -p target/diff-screenshot
  page=target/diff-screenshot/diff.html
  out=target/diff-screenshot/diff.png
  cargo run --quiet -- diff 'overlays/*' --format html -o "$page" || [ $? -eq 1 ]
fi
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "chromium is not installed (apt-get install -y chromium)" >&2; exit 3; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
  --screenshot="$(realpath -m "$out")" --window-size=1400,1000 "file://$(realpath "$page")" \
  >/dev/null 2>&1
[ -s "$out" ] && echo "$out"
