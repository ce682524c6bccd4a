"""Still images from clips: a WebP thumbnail and a JPEG spritesheet (Pillow).

From a whole array (`thumbnail_webp(frames[pick_thumbnail_frame(frames)])`,
`spritesheet_jpg(frames)`), or from `Stills`, which takes the few frames they need while a
clip streams past once (encode_mp4's `on_frame`) and gives the same bytes."""

from __future__ import annotations

import io
import math
import threading

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
    return _webp(_thumbnail_image(_check_frame(frame), max_side), quality)


def _thumbnail_image(frame: np.ndarray, max_side: int) -> Image.Image:
    image = Image.fromarray(frame, mode="RGB")
    scale = min(1.0, max_side / max(image.width, image.height))
    if scale < 1.0:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    return image


def _webp(image: Image.Image, quality: int) -> bytes:
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
    _check_grid(count, columns, tile_width)
    indices = sprite_indices(frames.shape[0], count)
    tile_size = _tile_size(int(frames.shape[1]), int(frames.shape[2]), tile_width)
    tiles = [_tile(frames[index], tile_size) for index in indices]
    return _sheet_jpg(tiles, tile_size, columns, quality)


def _check_grid(count: int, columns: int, tile_width: int) -> None:
    if count < 1 or columns < 1 or tile_width < 1:
        raise MediaError(
            f"count, columns and tile_width must be ≥ 1, got {count}, {columns}, {tile_width}"
        )


def _tile_size(height: int, width: int, tile_width: int) -> tuple[int, int]:
    """(width, height) of a tile: `tile_width` wide with the frames' aspect ratio."""
    return tile_width, max(1, round(height * tile_width / width))


def _tile(frame: np.ndarray, size: tuple[int, int]) -> Image.Image:
    tile = Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8), mode="RGB")
    return tile.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def _sheet_jpg(
    tiles: list[Image.Image], tile_size: tuple[int, int], columns: int, quality: int
) -> bytes:
    tile_width, tile_height = tile_size
    cols = min(columns, len(tiles))
    rows = math.ceil(len(tiles) / cols)
    sheet = Image.new("RGB", (cols * tile_width, rows * tile_height))
    for slot, tile in enumerate(tiles):
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
    return thumbnail_index(_check_frames(frames).shape[0])


def thumbnail_index(frame_count: int) -> int:
    """The thumbnail's frame in a clip of `frame_count` frames: one third in."""
    return min(frame_count - 1, frame_count // 3)


class Stills:
    """A clip's thumbnail and spritesheet, from the few frames they need, taken as the
    clip streams past once (pass `take` as encode_mp4's `on_frame`): the thumbnail's frame
    scaled to `max_side` and the spritesheet's tiles (under 5 MB for 720x1280) instead
    of the whole clip. The bytes are those of thumbnail_webp(frames[pick_thumbnail_frame(
    frames)]) and spritesheet_jpg(frames) with the same settings.

        stills = Stills()
        stills.expect(clip.frame_count, clip.height, clip.width)
        encode_mp4(path, clip.frames, ..., on_frame=stills.take)
        stills.thumbnail_webp(), stills.spritesheet_jpg()
    """

    def __init__(
        self,
        *,
        max_side: int = 640,
        count: int = 20,
        columns: int = 5,
        tile_width: int = 160,
        quality: int = 85,
    ):
        if max_side < 1:
            raise MediaError(f"max_side must be ≥ 1, got {max_side}")
        _check_grid(count, columns, tile_width)
        self.max_side, self.count, self.columns = max_side, count, columns
        self.tile_width, self.quality = tile_width, quality
        self.thumbnail_at = 0
        self.tile_size = (tile_width, 1)
        self._thumbnail: Image.Image | None = None
        self._tiles: dict[int, Image.Image | None] = {}

    def expect(self, frame_count: int, height: int, width: int) -> None:
        """Get ready for a clip of `frame_count` frames of `width` x `height`."""
        if frame_count < 1 or height < 1 or width < 1:
            raise MediaError(
                f"a clip needs at least one frame of at least 1x1 pixels, "
                f"got {frame_count} frames of {width}x{height}"
            )
        self.thumbnail_at = thumbnail_index(frame_count)
        self.tile_size = _tile_size(height, width, self.tile_width)
        self._thumbnail = None
        self._tiles = dict.fromkeys(sprite_indices(frame_count, self.count))

    def take(self, index: int, frame: np.ndarray) -> None:
        """Frame `index` of the clip, (H, W, 3) RGB: kept (scaled) if a still needs it."""
        if index == self.thumbnail_at:
            self._thumbnail = _thumbnail_image(_check_frame(frame), self.max_side)
        if index in self._tiles:
            self._tiles[index] = _tile(frame, self.tile_size)

    def thumbnail_webp(self) -> bytes:
        if self._thumbnail is None:
            raise MediaError(f"the thumbnail's frame {self.thumbnail_at} was not taken")
        return _webp(self._thumbnail, self.quality)

    def spritesheet_jpg(self) -> bytes:
        tiles = [tile for tile in self._tiles.values() if tile is not None]
        if not tiles or len(tiles) < len(self._tiles):
            missing = [index for index, tile in self._tiles.items() if tile is None]
            raise MediaError(f"the spritesheet's frames were not taken: {missing or 'all'}")
        return _sheet_jpg(tiles, self.tile_size, self.columns, self.quality)


MAX_IMAGE_PIXELS = 40_000_000  # decompression-bomb guard: 40 MP is above any real photo
# Pillow's own guard (a warning above it, DecompressionBombError above twice it) for every
# Image.open in the process, the avatar upload's too.
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
# Memory one full-size decode may take (Pillow keeps 4 bytes a pixel for RGB, RGBA and P
# once converted). JPEG decodes at the scale the frame needs (`draft`), so this bounds
# the other formats: a 154 KB all-zero PNG of 40 MP used to cost the API process 815 MB.
MAX_DECODED_BYTES = 128 * 1024 * 1024
IMAGE_FORMATS = frozenset({"PNG", "JPEG", "MPO", "WEBP", "GIF", "BMP", "TIFF"})
# Full-size decodes at once in a process: with MAX_DECODED_BYTES, the memory images cost.
_DECODE_SLOTS = threading.BoundedSemaphore(2)


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
    not a decodable image, or too large by its header (format and size are read before
    any pixel is decoded; JPEG is decoded straight at the scale the frame needs, other
    formats reduced right after decoding)."""
    try:
        with _DECODE_SLOTS, Image.open(io.BytesIO(data)) as image:
            _check_header(image)
            if image.format in ("JPEG", "MPO"):
                image.draft("RGB", (width, height))  # smallest DCT scale still covering it
            image.load()
            reduced = _reduce_to_cover(image, width, height)
            oriented = ImageOps.exif_transpose(reduced)
            if oriented.mode in ("RGBA", "LA", "P", "PA"):
                rgba = oriented.convert("RGBA")
                flat = Image.new("RGB", oriented.size)
                flat.paste(rgba, mask=rgba.getchannel("A"))
                oriented = flat
            fitted = ImageOps.fit(
                oriented.convert("RGB"), (width, height), Image.Resampling.LANCZOS
            )
    except MediaError:
        raise
    except Image.DecompressionBombError:
        raise MediaError(
            f"the image is larger than {MAX_IMAGE_PIXELS // 1_000_000} megapixels"
        ) from None
    except (OSError, ValueError, SyntaxError) as error:
        raise MediaError(f"not a decodable image ({type(error).__name__})") from None
    return np.asarray(fitted, dtype=np.uint8).copy()


def _check_header(image: Image.Image) -> None:
    """Refuse by the header alone: an unknown format, too many pixels, or (for formats
    decoded at full size) more memory than MAX_DECODED_BYTES."""
    if image.format not in IMAGE_FORMATS:
        raise MediaError(
            f"{image.format} images are not accepted (PNG, JPEG, WebP, GIF, BMP or TIFF)"
        )
    pixels = image.width * image.height
    if pixels > MAX_IMAGE_PIXELS:
        raise MediaError(
            f"the image is {image.width}x{image.height}; at most "
            f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels are accepted"
        )
    if image.format not in ("JPEG", "MPO") and pixels * 4 > MAX_DECODED_BYTES:
        raise MediaError(
            f"the {image.format} image is {image.width}x{image.height}; at most "
            f"{MAX_DECODED_BYTES // 4 // 1_000_000} megapixels are accepted in "
            f"{image.format} (JPEG up to {MAX_IMAGE_PIXELS // 1_000_000})"
        )


def _reduce_to_cover(image: Image.Image, width: int, height: int) -> Image.Image:
    """`image` shrunk by the largest whole factor that still covers (width, height), so
    the copies made after it (orientation, mode, fit) are of frame size, not photo size."""
    factor = min(image.width // width, image.height // height)
    if factor < 2:
        return image
    if image.mode == "P":
        return image.resize(
            (image.width // factor, image.height // factor), Image.Resampling.NEAREST
        )
    return image.reduce(factor)
