"""What each engine can make, read without building the engine or loading its weights.

The API checks a request against its engine's capabilities when it is created (a 400
naming the field, before anything is stored), and GET /v1/models and `reelforge models
list` show them. Building an engine to ask is not an option: a learned engine may load
gigabytes of weights in its constructor, and the ltx2 engine needs an optional extra
(`reelforge[ltx2]`) that a base install lacks. So the built-in engines' classes are named
here by module and read as class attributes; an engine registered by other code is built
through the registry (its own business what that costs).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from reelforge.engines import Capabilities, engine_names, get_engine
from reelforge.errors import InvalidRequest
from reelforge.extras import EXTRAS, NotInstalled, require
from reelforge.settings import Settings

# Built-in engines: their class, by module and name (imported only when asked about).
ENGINE_CLASSES = {
    "sim": ("reelforge.engines.sim", "SimEngine"),
    "dit": ("reelforge.engines.dit.engine", "DitEngine"),
    "ltx2": ("reelforge.engines.ltx2", "LTX2Engine"),
}


class EngineNotInstalled(InvalidRequest):
    """The engine is known, but the code it needs is not installed here."""


@dataclass(frozen=True)
class EngineInfo:
    """An engine as the model list shows it: its capabilities, or why there are none."""

    name: str
    capabilities: Capabilities | None
    problem: str | None = None  # e.g. "not installed: No module named 'diffusers'"


def known_engines() -> list[str]:
    """The registry's engines and the built-in ones that may not be installed, sorted."""
    return sorted(set(engine_names()) | set(ENGINE_CLASSES))


def capabilities_of(name: str, settings: Settings) -> Capabilities:
    """The capabilities of engine `name`. InvalidRequest naming `model` for an unknown
    engine; EngineNotInstalled when its code cannot be imported (ltx2 without its extra)."""
    if name in ENGINE_CLASSES:
        module_name, class_name = ENGINE_CLASSES[name]
        try:
            if name in EXTRAS:
                require(name, f"engine {name}")  # names the extra, not a deep ImportError
            module = importlib.import_module(module_name)
        except NotInstalled as error:
            raise EngineNotInstalled(str(error), param="model", code="model_not_found") from None
        except ImportError as error:
            raise EngineNotInstalled(
                f"engine {name} is not installed: {error}", param="model", code="model_not_found"
            ) from None
        engine_class = getattr(module, class_name, None)
        capabilities = getattr(engine_class, "capabilities", None)
        if not isinstance(capabilities, Capabilities):
            raise EngineNotInstalled(
                f"engine {name} is not installed: {module_name}.{class_name} declares "
                "no capabilities",
                param="model",
                code="model_not_found",
            )
        return capabilities
    if name not in engine_names():
        raise InvalidRequest(
            f"engine must be one of {', '.join(known_engines())}, got {name!r}", param="model"
        )
    return get_engine(name, settings).capabilities


def engine_info(name: str, settings: Settings) -> EngineInfo:
    """`capabilities_of`, with a problem in words instead of an exception."""
    try:
        return EngineInfo(name, capabilities_of(name, settings))
    except InvalidRequest as error:
        return EngineInfo(name, None, str(error))
