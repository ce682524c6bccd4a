import pytest

from reelforge.errors import InvalidRequest
from reelforge.types import Request


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
