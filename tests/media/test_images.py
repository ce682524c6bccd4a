"""Thumbnail and spritesheet encoding with Pillow."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import Image

from reelforge.errors import MediaError
from reelforge.media import pick_thumbnail_frame, sprite_indices, spritesheet_jpg, thumbnail_webp
from reelforge.media.images import Stills


def _frames(count: int, height: int = 448, width: int = 256) -> np.ndarray:
    frames = np.zeros((count, height, width, 3), np.uint8)
    for i in range(count):
        frames[i, :, :, 0] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
        frames[i, :, :, 1] = (i * 255) // max(1, count - 1)
    return frames


@pytest.mark.parametrize(
    ("height", "width", "max_side", "expected"),
    [
        (1280, 720, 640, (360, 640)),
        (720, 1280, 640, (1280 // 2, 720 // 2)),
        (448, 256, 640, (256, 448)),  # never upscaled
        (448, 256, 100, (57, 100)),
    ],
)
def test_thumbnail_is_webp_with_aspect_kept(height, width, max_side, expected):
    frame = _frames(1, height, width)[0]
    data = thumbnail_webp(frame, max_side=max_side)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "WEBP"
        assert image.size == expected
        assert max(image.size) <= max_side
        pixels = np.asarray(image.convert("RGB"))
    # Content survives: the red ramp still rises left to right.
    assert pixels[:, -4:, 0].mean() > pixels[:, :4, 0].mean() + 150


@pytest.mark.parametrize(
    ("count_frames", "count", "columns", "tiles"),
    [(48, 20, 5, 20), (7, 20, 5, 7), (1, 20, 5, 1), (48, 12, 4, 12), (3, 20, 5, 3)],
)
def test_spritesheet_grid_dimensions(count_frames, count, columns, tiles):
    frames = _frames(count_frames)
    data = spritesheet_jpg(frames, count=count, columns=columns, tile_width=80)
    tile_height = round(448 * 80 / 256)
    cols = min(columns, tiles)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        assert image.size == (cols * 80, math.ceil(tiles / cols) * tile_height)


def test_spritesheet_tiles_are_in_time_order():
    frames = _frames(40)
    data = spritesheet_jpg(frames, count=10, columns=5, tile_width=64)
    with Image.open(io.BytesIO(data)) as image:
        sheet = np.asarray(image.convert("RGB")).astype(int)
    tile_height = round(448 * 64 / 256)
    greens = [
        sheet[
            row * tile_height + 10 : (row + 1) * tile_height - 10, col * 64 + 10 : col * 64 + 54, 1
        ].mean()
        for row in range(2)
        for col in range(5)
    ]
    assert greens == sorted(greens)
    expected = [(i * 255) // 39 for i in sprite_indices(40, 10)]
    assert np.allclose(greens, expected, atol=6)


def test_sprite_indices_are_even_and_valid():
    assert sprite_indices(5, 20) == [0, 1, 2, 3, 4]
    picks = sprite_indices(240, 20)
    assert len(picks) == 20 and picks == sorted(set(picks))
    assert picks[0] >= 0 and picks[-1] <= 239
    gaps = np.diff(picks)
    assert gaps.max() - gaps.min() <= 1


def test_pick_thumbnail_frame_is_valid():
    assert pick_thumbnail_frame(_frames(1)) == 0
    assert pick_thumbnail_frame(_frames(2)) == 0
    assert pick_thumbnail_frame(_frames(96)) == 32
    for count in range(1, 12):
        assert 0 <= pick_thumbnail_frame(_frames(count, 8, 8)) < count


def test_bad_frames_raise_media_error():
    with pytest.raises(MediaError):
        thumbnail_webp(np.zeros((8, 8), np.uint8))
    with pytest.raises(MediaError):
        spritesheet_jpg(np.zeros((0, 8, 8, 3), np.uint8))
    with pytest.raises(MediaError):
        pick_thumbnail_frame(np.zeros((0, 8, 8, 3), np.uint8))


@pytest.mark.parametrize("count_frames", [1, 7, 48, 240])
def test_stills_taken_while_streaming_are_the_same_images(count_frames):
    """The job worker takes its thumbnail and spritesheet while the clip is encoded: the
    same bytes as from the whole array, keeping only the frames they need."""
    frames = _frames(count_frames, 1280, 720)
    stills = Stills()
    stills.expect(count_frames, 1280, 720)
    buffer = np.empty_like(frames[0])  # the encoder draws every frame into one buffer
    for index, frame in enumerate(frames):
        buffer[...] = frame
        stills.take(index, buffer)
    buffer[...] = 0  # what the stills kept must be theirs
    assert stills.thumbnail_webp() == thumbnail_webp(frames[pick_thumbnail_frame(frames)])
    assert stills.spritesheet_jpg() == spritesheet_jpg(frames)


def test_stills_missing_a_frame_say_which():
    stills = Stills()
    stills.expect(48, 64, 64)
    stills.take(0, _frames(1, 64, 64)[0])
    with pytest.raises(MediaError, match="16"):
        stills.thumbnail_webp()
    with pytest.raises(MediaError, match="not taken"):
        stills.spritesheet_jpg()
