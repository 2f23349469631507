"""The HTTP API (`regcite serve`): FastAPI over one Pipeline and one RecordBook, with an OpenAI-compatible endpoint."""
