"""The HTTP service: OpenAI-compatible Videos API under /v1."""
