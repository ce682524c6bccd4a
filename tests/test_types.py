import dataclasses
import json
import pickle

import pytest

from reelforge.errors import InvalidRequest
from reelforge.types import Request, Size


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": "   \n\t"}, "prompt"),
        ({"prompt": "x" * 32_001}, "prompt"),
        ({"prompt": "a ball", "seconds": 0.5}, "seconds"),
        ({"prompt": "a ball", "seconds": 21}, "seconds"),
        ({"prompt": "a ball", "seconds": float("nan")}, "seconds"),
        ({"prompt": "a ball", "size": "100x100"}, "size"),
        ({"prompt": "a ball", "size": "720X1280"}, "size"),
        ({"prompt": "a ball", "fps": 7}, "fps"),
        ({"prompt": "a ball", "seed": -1}, "seed"),
        ({"prompt": "a ball", "seed": 2**32}, "seed"),
    ],
)
def test_bad_requests_name_their_field(kwargs, field):
    with pytest.raises(InvalidRequest) as info:
        Request(**kwargs)
    assert info.value.param == field
    assert field in str(info.value)


def test_limits_are_inclusive():
    assert Request(prompt="x" * 32_000, seconds=20).frame_count == 480
    assert Request(prompt="a", seconds=1, fps=30).frame_count == 30


def test_frame_count_rounds_to_nearest_frame():
    assert Request(prompt="a", seconds=1.02, fps=24).frame_count == 24
    assert Request(prompt="a", seconds=1.03, fps=24).frame_count == 25


def test_size_is_parsed_once_and_stays_the_string_it_was() -> None:
    size = Size("1280x720")
    assert (size.width, size.height) == (1280, 720) and size == "1280x720"
    assert Size(size) is size and json.dumps({"size": size}) == '{"size": "1280x720"}'
    assert pickle.loads(pickle.dumps(size)).width == 1280
    request = Request(prompt="a ball", size="360x640")
    assert isinstance(request.size, Size) and (request.width, request.height) == (360, 640)
    assert dataclasses.replace(request, size="720x1280").height == 1280
    for bad in ("640x480", "720X1280", 720, None):
        with pytest.raises(InvalidRequest) as raised:
            Size(bad)
        assert raised.value.param == "size"
