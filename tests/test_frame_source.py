"""FrameSource: frames drawn when asked for, one at a time, or held once as an array."""

from __future__ import annotations

import numpy as np
import pytest

from reelforge.types import FrameSource

COUNT, HEIGHT, WIDTH = 6, 4, 6


def _source() -> tuple[FrameSource, list[int]]:
    """Frame i is filled with 10·i; `drawn` lists the indices drawn, in order."""
    drawn: list[int] = []

    def render(index: int, out: np.ndarray) -> None:
        drawn.append(index)
        out[...] = 10 * index

    return FrameSource(COUNT, HEIGHT, WIDTH, render), drawn


def _expected() -> np.ndarray:
    return np.broadcast_to(
        (10 * np.arange(COUNT, dtype=np.uint8))[:, None, None, None], (COUNT, HEIGHT, WIDTH, 3)
    )


def test_it_describes_the_array_it_stands_for() -> None:
    source, drawn = _source()
    assert source.shape == (COUNT, HEIGHT, WIDTH, 3) and len(source) == COUNT
    assert source.ndim == 4 and source.dtype == np.uint8
    assert drawn == [] and not source.held


def test_one_frame_or_a_selection_draws_only_those() -> None:
    source, drawn = _source()
    assert source[2].shape == (HEIGHT, WIDTH, 3) and (source[2] == 20).all()
    assert (source[-1] == 50).all()
    assert source[1, 0, 0].tolist() == [10, 10, 10]
    picked = source[[4, 0]]
    assert picked.shape == (2, HEIGHT, WIDTH, 3) and picked[:, 0, 0, 0].tolist() == [40, 0]
    assert source[1:5:2, :2].shape == (2, 2, WIDTH, 3)
    assert drawn == [2, 2, 5, 1, 4, 0, 1, 3] and not source.held
    with pytest.raises(IndexError):
        source[COUNT]
    with pytest.raises(IndexError):
        source[-COUNT - 1]


def test_stream_yields_each_frame_in_order_and_keeps_none() -> None:
    source, drawn = _source()
    frames = list(source.stream())
    assert np.array_equal(np.stack(frames), _expected())
    assert drawn == list(range(COUNT)) and source.frames_drawn == COUNT
    assert not source.held
    assert source.render_s > 0


def test_the_whole_array_is_drawn_once_and_then_kept() -> None:
    source, drawn = _source()
    array = np.asarray(source)
    assert np.array_equal(array, _expected()) and source.held
    assert np.asarray(source) is array and np.array_equal(source[1:3], array[1:3])
    copy = source.copy()
    copy[:] = 0
    assert np.array_equal(np.asarray(source), _expected())
    assert drawn == list(range(COUNT))  # nothing drawn again
    assert np.asarray(source, dtype=np.float32).dtype == np.float32
    assert source.astype(np.int16).dtype == np.int16 and source.astype(int)[3, 0, 0, 0] == 30


def test_edits_made_while_iterating_stick_as_on_an_array() -> None:
    source, _ = _source()
    for frame in source:
        frame[0, 0] = 255
    assert (np.asarray(source)[:, 0, 0] == 255).all()


def test_transforms_apply_as_frames_are_drawn() -> None:
    source, _ = _source()

    def stamp(index: int, frame: np.ndarray) -> None:
        frame[0, 0] = index + 1

    source.add_transform(stamp)
    assert source[3][0, 0].tolist() == [4, 4, 4] and (source[3][1:] == 30).all()
    assert [f[0, 0, 0] for f in source.stream()] == list(range(1, COUNT + 1))
    assert source.transform_s > 0


def test_a_transform_on_a_held_array_is_applied_at_once() -> None:
    source, drawn = _source()
    array = np.asarray(source)
    source.add_transform(lambda index, frame: frame.__setitem__((0, 0), 200 + index))
    assert array[:, 0, 0, 0].tolist() == [200 + i for i in range(COUNT)]
    assert drawn == list(range(COUNT))


def test_an_empty_source_is_refused() -> None:
    with pytest.raises(ValueError, match="0 frames"):
        FrameSource(0, HEIGHT, WIDTH, lambda index, out: None)
