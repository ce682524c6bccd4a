"""/api/ routes: notifications (docs/APP.md). Being written."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api", tags=["app: notifications"])
