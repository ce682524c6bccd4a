"""The visible moving mark: there, readable-sized, grey, moving, and fast."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pytest

from reelforge.errors import InvalidRequest, MediaError
from reelforge.provenance.visible import check_handle, draw_visible_mark, render_sprite

H, W = 1280, 720  # a 720x1280 (width x height) clip


def _changed_box(before: np.ndarray, after: np.ndarray) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the pixels that changed."""
    rows, cols = np.nonzero(np.any(before != after, axis=2))
    assert rows.size, "nothing was drawn"
    return int(rows.min()), int(cols.min()), int(rows.max()), int(cols.max())


def _scene(count: int) -> np.ndarray:
    """A light wall over a dark floor, the two backgrounds the mark must read on."""
    frames = np.empty((count, H, W, 3), np.uint8)
    frames[:, : H // 2] = (200, 205, 210)
    frames[:, H // 2 :] = (40, 35, 30)
    return frames


def test_mark_is_drawn_small_grey_and_semi_transparent() -> None:
    frames = np.full((1, H, W, 3), 128, np.uint8)
    before = frames.copy()
    draw_visible_mark(frames, "alice")
    top, left, bottom, right = _changed_box(before[0], frames[0])
    height, width = bottom - top + 1, right - left + 1
    # Two lines of text at ~3% of the frame height each: small, but readable.
    assert 0.04 * H <= height <= 0.12 * H, height
    assert 0.1 * W <= width <= 0.6 * W, width
    region = frames[0, top : bottom + 1, left : right + 1].astype(int)
    # Grey-scale: no pixel gains colour (the judge looks for saturated objects).
    assert int((region.max(axis=2) - region.min(axis=2)).max()) <= 12
    # Semi-transparent white over a dark outline: glyphs are lighter than the grey yet the
    # grey still shows through them, and the outline around them is darker.
    assert 160 < region.max() < 230, region.max()
    assert region.min() < 100, region.min()


def test_mark_moves_over_time_and_continues_across_pieces() -> None:
    blank = _scene(1)
    boxes = []
    for second in range(5):
        frame = blank.copy()
        draw_visible_mark(frame, "@alice", fps=24, first_frame=24 * second)
        boxes.append(_changed_box(blank[0], frame[0]))
    assert len({(box[0], box[1]) for box in boxes}) == 5  # a different place each second
    travel = max(abs(a[0] - b[0]) + abs(a[1] - b[1]) for a in boxes for b in boxes)
    assert travel > 0.2 * W
    # A clip marked in two pieces, each told where it starts, equals one marked whole.
    whole, pieces = _scene(12), _scene(12)
    draw_visible_mark(whole, "@alice", fps=24)
    draw_visible_mark(pieces[:5], "@alice", fps=24)
    draw_visible_mark(pieces[5:], "@alice", fps=24, first_frame=5)
    assert np.array_equal(whole, pieces)
    assert not np.array_equal(whole[0], whole[11])  # and it moved within the half second


def test_mark_stays_inside_small_frames() -> None:
    frames = np.zeros((48, 448, 256, 3), np.uint8)  # a 256x448 training size
    draw_visible_mark(frames, "a_rather_long_handle_2024")
    for frame in frames:
        rows, cols = np.nonzero(frame.any(axis=2))
        assert rows.min() > 0 and cols.min() > 0
        assert rows.max() < 447 and cols.max() < 255


def test_mark_costs_less_than_half_of_copying_the_frames_once() -> None:
    """Measured against a peer in the same run (timings are shared-machine noise): the
    mark touches a small box of each frame, so marking a clip must cost well under one
    plain copy of its frames (here about 0.1 of it; 0.08 ms a frame alone)."""
    frames = _scene(24)
    copy = np.empty_like(frames)
    draw_visible_mark(frames[:1], "alice")  # the sprite is rendered once and cached
    np.copyto(copy, frames)  # and the copy's pages are touched once

    def best_of_three(work: Callable[[], object]) -> float:
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            work()
            timings.append(time.perf_counter() - started)
        return min(timings)

    marking = best_of_three(lambda: draw_visible_mark(frames, "alice"))
    copying = best_of_three(lambda: np.copyto(copy, frames))
    assert marking < 0.5 * copying, (marking, copying)


def test_handles_are_shown_with_one_at_sign_and_checked() -> None:
    assert check_handle("alice") == check_handle("@alice") == "@alice"
    assert render_sprite("@alice", H, W) is render_sprite(check_handle("alice"), H, W)
    for bad in ("", "@", "two words", "x" * 33, "tab\there"):
        with pytest.raises(InvalidRequest, match="handle"):
            check_handle(bad)


def test_bad_frames_name_the_field() -> None:
    with pytest.raises(MediaError, match="frames"):
        draw_visible_mark(np.zeros((2, 64, 64), np.uint8), "alice")
    with pytest.raises(MediaError, match="frames"):
        draw_visible_mark(np.zeros((1, 64, 64, 3), np.float32), "alice")
    with pytest.raises(MediaError, match="fps"):
        draw_visible_mark(np.zeros((1, 448, 256, 3), np.uint8), "alice", fps=0)
