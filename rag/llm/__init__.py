"""LLM backends behind one interface: openai-compatible server, in-process transformers, extractive."""
