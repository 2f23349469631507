#!/usr/bin/env bash
# Rebuilds corpus/regulations/sample_12cfr1002_excerpt_20220101.pdf from reg-b-excerpt.html with Debian's chromium.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
  --no-first-run --no-pdf-header-footer --user-data-dir="$(mktemp -d)" \
  --print-to-pdf="$here/../regulations/sample_12cfr1002_excerpt_20220101.pdf" "file://$here/reg-b-excerpt.html"
