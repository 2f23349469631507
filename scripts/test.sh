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
.venv/bin/python -m pytest "$@"
# issue 17: the answer, versions and access tests once more with index_backend = "milvus" (Milvus Lite per test)
if [ $# -eq 0 ]; then
  REGCITE_TEST_INDEX_BACKEND=milvus .venv/bin/python -m pytest -q -p no:cacheprovider \
    tests/rag/test_answer.py tests/rag/test_versions.py tests/rag/test_versions_shared.py \
    tests/ingest/test_ingest_versions.py tests/test_access_matrix.py
fi
