"""Character uploads must be real videos (issue 21): still images, however named, a
one-frame "video", a silent or frozen clip, are a 422 naming `video`, on a real server."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from tests.e2e.test_videos_api import Server, start_server, stop

from reelforge.media import encode_mp4


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start_server(
        tmp_path_factory.mktemp("serve"),
        REELFORGE_RATE_LIMIT_PER_MINUTE="600",
        REELFORGE_VERIFY_RATE_LIMIT_PER_MINUTE="600",
    )
    yield s
    stop(s.process)


_keys: dict[str, str] = {}


def _upload(server: Server, filename: str, data: bytes) -> httpx.Response:
    key = _keys.setdefault(server.url, server.key("uploader"))
    return httpx.post(
        f"{server.url}/videos/characters",  # url ends in /v1
        headers={"Authorization": f"Bearer {key}"},
        data={"name": "Blob"},
        files={"video": (filename, data)},
        timeout=60,
    )


def _image(fmt: str, size: tuple[int, int] = (320, 240)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 100, 50)).save(buffer, fmt)
    return buffer.getvalue()


def _clip(tmp_path: Path, *, moving: bool, seconds: float, with_audio: bool = True) -> bytes:
    fps, width, height = 24, 160, 120
    count = round(seconds * fps)
    frames = np.full((count, height, width, 3), (40, 90, 160), np.uint8)  # (T, H, W, 3)
    for t in range(count):
        x = 10 + (4 * t if moving else 0)
        frames[t, 40:80, x : x + 40] = (230, 120, 30)
    path = tmp_path / "clip.mp4"
    samples = round(seconds * 48_000) if with_audio else 0
    encode_mp4(path, frames, np.zeros((1, samples), np.float32), fps, 48_000)
    return path.read_bytes()


def _refused(response: httpx.Response, words: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()["error"]
    assert body["param"] == "video", body
    assert words in body["message"], body["message"]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
def test_a_still_image_named_mp4_is_refused(server: Server, fmt: str) -> None:
    _refused(_upload(server, "still.mp4", _image(fmt)), "frames")


def test_a_30000_square_image_bomb_is_refused_by_its_header(server: Server) -> None:
    buffer = io.BytesIO()
    Image.new("1", (30000, 30000)).save(buffer, "PNG")
    # Its size may not be known without decoding; its single frame gives it away first.
    _refused(_upload(server, "bomb.mp4", buffer.getvalue()), "still image is not a video")


def test_a_clip_under_a_second_is_refused(server: Server, tmp_path: Path) -> None:
    _refused(_upload(server, "short.mp4", _clip(tmp_path, moving=True, seconds=0.25)), "frames")


def test_a_frozen_clip_is_refused(server: Server, tmp_path: Path) -> None:
    _refused(_upload(server, "frozen.mp4", _clip(tmp_path, moving=False, seconds=2)), "still")


def test_a_moving_clip_with_sound_is_a_character(server: Server, tmp_path: Path) -> None:
    response = _upload(server, "ball.mp4", _clip(tmp_path, moving=True, seconds=2))
    assert response.status_code == 200, response.text


def _verify(server: Server, data: bytes) -> httpx.Response:
    key = _keys.setdefault(server.url, server.key("uploader"))
    return httpx.post(
        f"{server.url}/provenance/verify",
        headers={"Authorization": f"Bearer {key}"},
        files={"file": ("clip.mp4", data)},
        timeout=60,
    )


def _grey_clip(tmp_path: Path, seconds: float, width: int, height: int, fps: int) -> bytes:
    frames = np.full((round(seconds * fps), height, width, 3), 128, np.uint8)  # (T, H, W, 3)
    path = tmp_path / "grey.mp4"
    encode_mp4(path, frames, np.zeros((1, round(seconds * 48_000)), np.float32), fps, 48_000)
    return path.read_bytes()


def test_verify_refuses_a_long_video_by_its_header(server: Server, tmp_path: Path) -> None:
    response = _verify(server, _grey_clip(tmp_path, 26, 64, 48, 4))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("file", "video_too_long"), error


def test_verify_refuses_a_picture_over_1080p(server: Server, tmp_path: Path) -> None:
    response = _verify(server, _grey_clip(tmp_path, 1, 2560, 1440, 4))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("file", "video_too_large"), error


def test_verify_answers_a_clip_within_the_bounds(server: Server, tmp_path: Path) -> None:
    response = _verify(server, _grey_clip(tmp_path, 2, 64, 48, 8))
    assert response.status_code == 200, response.text
