"""Live notifications (docs/APP.md): being written."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from reelforge.settings import Settings


def install(app: FastAPI, factory: sessionmaker[Session], settings: Settings) -> None:
    """Wake open notification streams after commits that notified someone."""
