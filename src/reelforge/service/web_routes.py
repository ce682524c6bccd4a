"""The web UI at `/` and offline API docs at `/docs` (docs/APP.md): being written."""

from __future__ import annotations

from fastapi import FastAPI


def install(app: FastAPI) -> None:
    """Serve the web UI's pages and static files."""
