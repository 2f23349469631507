"""regcite's core: types, settings, the index (catalog + vectors), retrieval, answering and LLM backends.

Importing this package loads no model and no heavy library; torch, faiss and transformers load on first use.
"""

__version__ = "0.1.0"
