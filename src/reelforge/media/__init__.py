"""Media I/O: MP4 encode/decode/probe and still images (thumbnail, spritesheet)."""

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
    resample,
)

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
