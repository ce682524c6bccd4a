"""/v1/models: OpenAI's model list, as `client.models.list()` reads it, naming the models
this server's /v1/videos takes: the API names (sora-2, sora-2-pro and their dated
snapshots, each mapped to an engine by the settings) and every engine by its own name.

Beside OpenAI's fields each model carries `reelforge`: the engine it runs on, whether that
engine is installed here, and its capabilities (what a create is checked against), or
why there are none. Reading them never loads weights (engines/capabilities.py).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from reelforge.engines.capabilities import engine_info, known_engines
from reelforge.service.deps import StateDep, UserDep
from reelforge.service.errors import APIError
from reelforge.service.v1_schemas import ModelList, ModelPublic
from reelforge.service.videos import engine_for_model
from reelforge.settings import Settings

router = APIRouter(prefix="/v1/models", tags=["models"])

API_MODELS = ("sora-2", "sora-2-pro", "sora-2-2025-10-06", "sora-2-pro-2025-10-06")
# `created` of a name without a date: sora-2's release day (OpenAI's field is required).
RELEASED = int(datetime(2025, 10, 6, tzinfo=UTC).timestamp())


def model_public(model: str, settings: Settings) -> dict[str, Any]:
    """One model in OpenAI's shape, plus `reelforge`. APIError 404 for an unknown name."""
    try:
        engine = model if model in known_engines() else engine_for_model(model, settings)
    except APIError:
        raise APIError(404, f"no model {model!r}", param="model", code="model_not_found") from None
    info = engine_info(engine, settings)
    return {
        "id": model,
        "object": "model",
        "created": _created(model),
        "owned_by": "reelforge",
        "reelforge": {
            "engine": engine,
            "installed": info.capabilities is not None,
            "capabilities": asdict(info.capabilities) if info.capabilities else None,
            "problem": info.problem,
        },
    }


def _created(model: str) -> int:
    """The date a dated snapshot names (sora-2-2025-10-06), else RELEASED."""
    try:
        return int(datetime.strptime(model[-10:], "%Y-%m-%d").replace(tzinfo=UTC).timestamp())
    except ValueError:
        return RELEASED


def model_list(settings: Settings) -> dict[str, Any]:
    names = [*API_MODELS, *(e for e in known_engines() if e not in API_MODELS)]
    return {"object": "list", "data": [model_public(name, settings) for name in names]}


# In a thread: the first read of a learned engine's capabilities imports torch.
@router.get("", response_model=ModelList)
async def list_models(user: UserDep, service: StateDep) -> dict[str, Any]:
    return await run_in_threadpool(model_list, service.settings)


@router.get("/{model}", response_model=ModelPublic)
async def retrieve_model(model: str, user: UserDep, service: StateDep) -> dict[str, Any]:
    return await run_in_threadpool(model_public, model, service.settings)
