"""The `ltx2` engine: LTX-2 from a diffusers-format snapshot on disk (engine.py).

Importing this package imports neither torch nor diffusers; it fails with ImportError
when diffusers or transformers is not installed (the `reelforge[ltx2]` extra)."""

from reelforge.engines.ltx2.engine import LTX2Engine, engine_for

__all__ = ["LTX2Engine", "engine_for"]
