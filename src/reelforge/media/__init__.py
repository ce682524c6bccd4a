"""Media I/O: MP4 encode/decode/probe and still images (thumbnail, spritesheet)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reelforge.media.images import (
        load_image,
        pick_thumbnail_frame,
        sprite_indices,
        spritesheet_jpg,
        thumbnail_webp,
    )
    from reelforge.media.mp4 import (
        Decoded,
        ProbeInfo,
        decode_audio,
        decode_mp4,
        encode_mp4,
        iter_luma,
        probe,
    )
    from reelforge.media.resampling import resample

# Where each name lives. Submodules load on first use: PyAV (mp4) is not needed to
# render sim clips, train or run the dit engine, and costs 45 ms to import.
_HOMES = {
    "Decoded": "mp4",
    "ProbeInfo": "mp4",
    "decode_audio": "mp4",
    "decode_mp4": "mp4",
    "encode_mp4": "mp4",
    "iter_luma": "mp4",
    "load_image": "images",
    "pick_thumbnail_frame": "images",
    "probe": "mp4",
    "resample": "resampling",
    "sprite_indices": "images",
    "spritesheet_jpg": "images",
    "thumbnail_webp": "images",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"reelforge.media.{_HOMES[name]}"), name)


__all__ = [
    "Decoded",
    "ProbeInfo",
    "decode_audio",
    "decode_mp4",
    "encode_mp4",
    "iter_luma",
    "load_image",
    "pick_thumbnail_frame",
    "probe",
    "resample",
    "sprite_indices",
    "spritesheet_jpg",
    "thumbnail_webp",
]
