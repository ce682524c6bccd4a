"""Engines turn a ScenePlan into a Clip. Each declares what it supports; a registry finds
them by name. Engines know nothing of the service, the database or the web."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from reelforge.errors import InvalidRequest
from reelforge.extras import require
from reelforge.settings import Settings
from reelforge.types import Clip, Progress, ScenePlan


@dataclass(frozen=True)
class Capabilities:
    audio: bool
    image_input: bool
    cameos: bool
    max_seconds: float
    sizes: tuple[str, ...]
    fps: tuple[int, ...]
    # Whether a cameo's reference image and voice sample are what the engine reads (a
    # learned engine's reference tokens). False: it only draws a cameo's likeness, which
    # the pipeline casts into the plan (the sim), so a cameo without one is refused.
    cameo_images: bool = True


@dataclass(frozen=True)
class References:
    """Conditioning beyond text: a first frame, cameo appearance images and voice samples."""

    first_frame: np.ndarray | None = None  # uint8 (H, W, 3)
    cameo_images: tuple[np.ndarray, ...] = ()
    cameo_voices: tuple[np.ndarray, ...] = ()


class Engine(Protocol):
    name: str
    capabilities: Capabilities

    def generate(
        self,
        plan: ScenePlan,
        *,
        seconds: float,
        size: str,
        fps: int,
        seed: int,
        references: References | None,
        progress: Progress,
    ) -> Clip: ...


EngineFactory = Callable[[Settings], Engine]
_REGISTRY: dict[str, EngineFactory] = {}


def register(name: str, factory: EngineFactory) -> None:
    _REGISTRY[name] = factory


def engine_names() -> list[str]:
    _register_builtins()
    return sorted(_REGISTRY)


def get_engine(name: str, settings: Settings) -> Engine:
    _register_builtins()
    if name not in _REGISTRY:
        raise InvalidRequest(
            f"engine must be one of {', '.join(sorted(_REGISTRY))}, got {name!r}", param="engine"
        )
    return _REGISTRY[name](settings)


def _register_builtins() -> None:
    if "sim" not in _REGISTRY:
        from reelforge.engines.sim import SimEngine

        register("sim", SimEngine)
    if "dit" not in _REGISTRY:
        register("dit", _dit)
    if "ltx2" not in _REGISTRY:
        register("ltx2", _ltx2)


def _dit(settings: Settings) -> Engine:
    require("dit", "the dit engine")
    from reelforge.engines.dit.engine import DitEngine  # torch: imported on first use

    return DitEngine(settings)


def _ltx2(settings: Settings) -> Engine:
    require("ltx2", "the ltx2 engine")
    from reelforge.engines.ltx2 import engine_for  # diffusers: imported on first use

    return engine_for(settings)
