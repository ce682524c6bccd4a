"""Still images from clips: a WebP thumbnail and a JPEG spritesheet (Pillow)."""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, ImageOps

from reelforge.errors import MediaError


def _check_frame(frame: np.ndarray) -> np.ndarray:
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3:
        raise MediaError(f"a frame must be an (H, W, 3) array, got {getattr(frame, 'shape', None)}")
    if frame.shape[0] < 1 or frame.shape[1] < 1:
        raise MediaError(f"a frame must not be empty, got shape {frame.shape}")
    return np.ascontiguousarray(frame, dtype=np.uint8)


def _check_frames(frames: np.ndarray) -> np.ndarray:
    if not isinstance(frames, np.ndarray) or frames.ndim != 4 or frames.shape[3] != 3:
        raise MediaError(
            f"frames must be a (T, H, W, 3) array, got {getattr(frames, 'shape', None)}"
        )
    if frames.shape[0] < 1:
        raise MediaError("frames must hold at least one frame, got 0")
    return frames


def thumbnail_webp(frame: np.ndarray, *, max_side: int = 640, quality: int = 85) -> bytes:
    """One RGB frame → WebP bytes, scaled down (never up) so its longer side ≤ `max_side`."""
    if max_side < 1:
        raise MediaError(f"max_side must be ≥ 1, got {max_side}")
    image = Image.fromarray(_check_frame(frame), mode="RGB")
    scale = min(1.0, max_side / max(image.width, image.height))
    if scale < 1.0:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="WEBP", quality=quality, method=4)
    return out.getvalue()


def spritesheet_jpg(
    frames: np.ndarray,
    *,
    count: int = 20,
    columns: int = 5,
    tile_width: int = 160,
    quality: int = 85,
) -> bytes:
    """`count` evenly spaced frames (all of them if fewer) as a JPEG grid.

    Tiles are `tile_width` wide with the frames' aspect ratio, laid out row by row in
    `columns` columns (fewer if there are fewer tiles); rows = ceil(n / columns). Empty
    cells of the last row are black.
    """
    frames = _check_frames(frames)
    if count < 1 or columns < 1 or tile_width < 1:
        raise MediaError(
            f"count, columns and tile_width must be ≥ 1, got {count}, {columns}, {tile_width}"
        )
    indices = sprite_indices(frames.shape[0], count)
    height, width = int(frames.shape[1]), int(frames.shape[2])
    tile_height = max(1, round(height * tile_width / width))
    cols = min(columns, len(indices))
    rows = math.ceil(len(indices) / cols)
    sheet = Image.new("RGB", (cols * tile_width, rows * tile_height))
    for slot, index in enumerate(indices):
        tile = Image.fromarray(np.ascontiguousarray(frames[index], dtype=np.uint8), mode="RGB")
        tile = tile.resize((tile_width, tile_height), Image.Resampling.BILINEAR, reducing_gap=2.0)
        row, col = divmod(slot, cols)
        sheet.paste(tile, (col * tile_width, row * tile_height))
    out = io.BytesIO()
    sheet.save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()


def sprite_indices(frame_count: int, count: int) -> list[int]:
    """Indices of `count` evenly spaced frames out of `frame_count` (all if fewer).

    Each index is the middle of its equal share of the clip, so the first and last tiles
    are not the (often static) very first and last frames.
    """
    if frame_count <= count:
        return list(range(frame_count))
    return [min(frame_count - 1, int((i + 0.5) * frame_count / count)) for i in range(count)]


def pick_thumbnail_frame(frames: np.ndarray) -> int:
    """A representative frame index: one third into the clip (0 for a single frame)."""
    frames = _check_frames(frames)
    return min(frames.shape[0] - 1, frames.shape[0] // 3)


MAX_IMAGE_PIXELS = 40_000_000  # decompression-bomb guard: 40 MP is above any real photo


def cover_fit(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """uint8 (H, W, 3) scaled until it covers (width, height), then centre-cropped (the
    array twin of `load_image`'s fit)."""
    import cv2

    h, w = frame.shape[:2]
    scale = max(width / w, height / h)
    resized = cv2.resize(
        frame,
        (max(width, round(w * scale)), max(height, round(h * scale))),
        interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC,
    )
    top, left = (resized.shape[0] - height) // 2, (resized.shape[1] - width) // 2
    return np.ascontiguousarray(resized[top : top + height, left : left + width])


def load_image(data: bytes, width: int, height: int) -> np.ndarray:
    """An uploaded image (PNG, JPEG, WebP, ...) as uint8 (height, width, 3) RGB, fitted to
    the frame the way a cover photo is: scaled until it covers it, then centre-cropped.
    EXIF orientation is applied; transparency is flattened onto black. MediaError if it is
    not a decodable image."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise MediaError(
                    f"the image is {image.width}x{image.height}; at most "
                    f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels are accepted"
                )
            image.load()
            oriented = ImageOps.exif_transpose(image)
            if oriented.mode in ("RGBA", "LA", "P"):
                flat = Image.new("RGB", oriented.size)
                flat.paste(oriented.convert("RGBA"), mask=oriented.convert("RGBA").getchannel("A"))
                oriented = flat
            fitted = ImageOps.fit(
                oriented.convert("RGB"), (width, height), Image.Resampling.LANCZOS
            )
    except MediaError:
        raise
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise MediaError(f"not a decodable image ({type(error).__name__})") from None
    return np.asarray(fitted, dtype=np.uint8).copy()
