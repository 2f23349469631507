#!/usr/bin/env bash
# Installs regcite, ingests the sample corpus, runs a search and a question, then starts the app and prints its URL.
# Set REGCITE_DATA_DIR to keep the index elsewhere; REGCITE_NO_UI=1 stops before starting the app.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 REGCITE_DATA_DIR=${REGCITE_DATA_DIR:-$PWD/.regcite}
.venv/bin/regcite ingest corpus/regulations corpus/reports
.venv/bin/regcite docs
.venv/bin/regcite search "How long does a creditor have to notify an applicant after adverse action on an existing account?" -k 3
.venv/bin/regcite ask "How long does a creditor have to notify an applicant after taking adverse action on an existing account?"
[ -n "${REGCITE_NO_UI:-}" ] || exec .venv/bin/regcite ui
