# regcite app and ingest image (CPU; the LLM runs in the vllm service). Build: docker compose build
FROM python:3.11-slim-bookworm

ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 REGCITE_DATA_DIR=/data
WORKDIR /app

# The torch pin first, from the CPU wheel index, so nothing below resolves a multi-GB CUDA build.
RUN pip install "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu

COPY pyproject.toml README.md ./
COPY rag ./rag
COPY ingest ./ingest
COPY ui ./ui
COPY evals ./evals
COPY api ./api
COPY regcite ./regcite
COPY corpus ./corpus
# the milvus extra: the same image serves index_backend = "milvus" (docker compose --profile scale)
RUN pip install ".[milvus]" pypdfium2 && useradd --create-home --uid 1000 regcite && mkdir -p /data && chown regcite /data

USER regcite
VOLUME ["/data"]
EXPOSE 8501 8100
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"
CMD ["regcite", "ui", "--host", "0.0.0.0", "--port", "8501"]
