#!/usr/bin/env bash
# Installs everything the tests need, then runs the whole suite (slow, e2e and browser tests included).
# Extra arguments go to pytest, e.g. scripts/test.sh -m "not slow".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --test
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
# the records tests run on SQLite and on PostgreSQL: start the packaged cluster (installed by install.sh)
REGCITE_TEST_POSTGRES=${REGCITE_TEST_POSTGRES:-$(bash scripts/postgres.sh)}
export REGCITE_TEST_POSTGRES
exec .venv/bin/python -m pytest "$@"
