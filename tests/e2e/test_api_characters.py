"""The API's characters are cameos: a real `reelforge serve` on a local port, driven by the
official `openai` SDK (and raw HTTP for the other encodings of `characters`).

A character is made from a clip of a moving ball (no face); a clip of a real photographed
face is refused. Casting one goes through the app's consent rules: the video's use is
recorded (deleting the character takes the video down, its receipt naming it), and an
@mention of someone else's "only me" cameo is a 403 before anything is made.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import numpy as np
import openai
import pytest
from tests.cameos.fixtures import make_take
from tests.e2e.test_videos_api import Server, assert_error, cli, start_server, stop

from reelforge.media import encode_mp4

warnings.filterwarnings("ignore", category=DeprecationWarning)  # the SDK's Sora notice


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start_server(
        tmp_path_factory.mktemp("serve"),
        REELFORGE_RATE_LIMIT_PER_MINUTE="600",
        REELFORGE_VERIFY_RATE_LIMIT_PER_MINUTE="600",
    )
    yield s
    stop(s.process)


@pytest.fixture(scope="module")
def alice(server: Server) -> openai.OpenAI:
    return server.client(server.key("alice"))


@pytest.fixture(scope="module")
def bob(server: Server) -> openai.OpenAI:
    return server.client(server.key("bob"))


@pytest.fixture(scope="module")
def ball_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 s of an orange ball moving over blue, 320 × 240 at 24 fps, encoded by the
    project's encoder."""
    fps, count, width, height = 24, 72, 320, 240
    frames = np.full((count, height, width, 3), (40, 90, 160), np.uint8)  # (T, H, W, 3)
    ys, xs = np.mgrid[0:height, 0:width]
    for t in range(count):
        cx, cy = 40 + 3 * t, 120 + 60 * np.sin(t / 8)
        frames[t][(xs - cx) ** 2 + (ys - cy) ** 2 < 30**2] = (230, 120, 30)
    path = tmp_path_factory.mktemp("clips") / "ball.mp4"
    encode_mp4(path, frames, np.zeros((1, 3 * 48_000), np.float32), fps, 48_000)
    return path


def make_character(client: openai.OpenAI, name: str, clip: Path) -> Any:
    with clip.open("rb") as handle:
        return client.videos.create_character(name=name, video=handle)


def error_of(info: pytest.ExceptionInfo[openai.APIStatusError]) -> dict[str, Any]:
    body = cast(dict, info.value.body)
    assert body["message"] and "Traceback" not in body["message"]
    return body


def test_a_character_is_a_cameo_its_videos_cast(alice, ball_clip):
    before = int(time.time())
    created = make_character(alice, "Pip the Ball", ball_clip)
    assert re.fullmatch(r"char_[0-9a-f]{24}", created.id)
    assert created.name == "Pip the Ball" and before <= created.created_at <= time.time() + 1
    assert (created.model_extra or {})["handle"] == "pip_the_ball"
    again = alice.videos.get_character(created.id)
    assert (again.id, again.name, again.created_at) == (
        created.id,
        created.name,
        created.created_at,
    )
    listed = alice.get("/videos/characters", cast_to=object)
    assert listed["object"] == "list"
    assert [c["id"] for c in listed["data"]] == [created.id]

    prompt = "pip the ball rolls across a sunny gym"  # its name, in another case
    video = alice.videos.create_and_poll(
        prompt=prompt,
        seconds="4",
        extra_body={"characters": [{"id": created.id}]},  # as the SDK's form: characters[][id]
        poll_interval_ms=200,
    )
    assert video.status == "completed", video.error
    assert video.prompt == prompt  # stored as sent

    # The use was recorded: deleting the character takes the video down and says so.
    deleted = alice.delete(f"/videos/characters/{created.id}", cast_to=object)
    assert (deleted["id"], deleted["object"], deleted["deleted"]) == (
        created.id,
        "character.deleted",
        True,
    )
    assert [v["video_id"] for v in deleted["receipt"]["videos_removed"]] == [video.id]
    assert deleted["receipt"]["recording_deleted"] is True
    with pytest.raises(openai.NotFoundError):
        alice.videos.retrieve(video.id)
    with pytest.raises(openai.NotFoundError):
        alice.videos.get_character(created.id)
    assert alice.get("/videos/characters", cast_to=object)["data"] == []


def test_a_taken_handle_gets_a_suffix(server, ball_clip):
    carol = server.client(server.key("carol"))
    first = make_character(carol, "Zig Zag", ball_clip)
    second = make_character(carol, "zig-zag!", ball_clip)
    assert (first.model_extra or {})["handle"] == "zig_zag"
    assert (second.model_extra or {})["handle"] == "zig_zag_2"


def test_the_prompt_must_name_each_character(alice, ball_clip):
    character = make_character(alice, "Bolt", ball_clip)
    before = [v.id for v in alice.videos.list(limit=100)]
    with pytest.raises(openai.BadRequestError) as info:
        alice.videos.create(
            prompt="a ball rolls across a gym", extra_body={"characters": [{"id": character.id}]}
        )
    body = error_of(info)
    assert body["param"] == "characters" and "'Bolt'" in body["message"]
    assert [v.id for v in alice.videos.list(limit=100)] == before


def test_at_most_two_characters(alice, ball_clip):
    three = [make_character(alice, name, ball_clip) for name in ("Uno", "Dos", "Tres")]
    with pytest.raises(openai.BadRequestError) as info:
        alice.videos.create(
            prompt="Uno, Dos and Tres roll across a gym",
            extra_body={"characters": [{"id": c.id} for c in three]},
        )
    assert error_of(info)["param"] == "characters"


def test_someone_elses_character_is_not_found(alice, bob, ball_clip):
    theirs = make_character(bob, "Wobble", ball_clip)
    with pytest.raises(openai.NotFoundError):
        alice.videos.get_character(theirs.id)
    with pytest.raises(openai.NotFoundError) as info:
        alice.videos.create(
            prompt="Wobble rolls across a gym", extra_body={"characters": [{"id": theirs.id}]}
        )
    assert error_of(info)["param"] == "characters"
    with pytest.raises(openai.NotFoundError) as unknown:
        alice.videos.create(prompt="Wobble rolls", extra_body={"characters": [{"id": "char_nope"}]})
    assert error_of(unknown)["param"] == "characters"


def test_a_real_face_is_refused(alice, tmp_path):
    take = make_take("positive", 4, tmp_path)  # a photographed face, turning and talking
    with pytest.raises(openai.UnprocessableEntityError) as info:
        make_character(alice, "Not A Person", take.path)
    body = error_of(info)
    assert (body["param"], body["code"]) == ("video", "real_person")
    assert "/cameos" in body["message"]
    names = [c["name"] for c in alice.get("/videos/characters", cast_to=object)["data"]]
    assert "Not A Person" not in names


def test_a_public_figure_or_a_users_handle_is_no_character_name(server, alice, ball_clip):
    with pytest.raises(openai.BadRequestError) as figure:
        make_character(alice, "Barack Obama", ball_clip)
    assert (error_of(figure)["param"], error_of(figure)["code"]) == ("name", "real_person")
    port = server.url.rsplit(":", 1)[1].split("/")[0]
    cli(server.env, "keys", "create", "--user", f"dave_{port}")  # a person, @dave_<port>
    with pytest.raises(openai.BadRequestError) as person:
        make_character(alice, f"dave_{port}", ball_clip)  # their handle, as a name
    assert (error_of(person)["param"], error_of(person)["code"]) == ("name", "real_person")


def test_mentioning_someone_elses_only_me_cameo_is_403_and_makes_nothing(alice, bob, ball_clip):
    rex = make_character(bob, "Rexy", ball_clip)  # only bob may cast it
    handle = (rex.model_extra or {})["handle"]
    before = [v.id for v in alice.videos.list(limit=100)]
    with pytest.raises(openai.PermissionDeniedError) as info:
        alice.videos.create(prompt=f"@{handle} chases a ball across a gym")
    body = error_of(info)
    assert body["code"] == "cameo_not_allowed" and f"@{handle}" in body["message"]
    assert [v.id for v in alice.videos.list(limit=100)] == before
    # bob himself may: his own cameo, by @handle, with no `characters` at all.
    own = bob.videos.create(prompt=f"@{handle} chases a ball across a gym")
    assert own.status == "queued"


def test_a_remix_is_cast_again(server, alice, bob, ball_clip):
    """The remix's prompt is checked too: an @mention alice may not use is a 403."""
    source = alice.videos.create_and_poll(
        prompt="a red ball bounces", seconds="4", poll_interval_ms=200
    )
    make_character(bob, "Sly", ball_clip)
    with pytest.raises(openai.PermissionDeniedError) as info:
        alice.videos.remix(source.id, prompt="@sly joins the red ball")
    assert error_of(info)["param"] == "prompt"
    headers = {"Authorization": f"Bearer {alice.api_key}"}
    extension = httpx.post(
        f"{server.url}/videos/extensions",
        headers=headers,
        json={"prompt": "then @sly appears", "seconds": "4", "video": {"id": source.id}},
    )
    assert_error(extension, 403, "prompt")


@pytest.mark.parametrize(
    "encoding",
    ["json ids", "json objects", "form indexed", "form JSON field", "form plain id"],
)
def test_characters_in_every_encoding(server, alice, ball_clip, encoding):
    character = make_character(alice, f"Dot {encoding.replace(' ', '')}", ball_clip)
    name, cid = character.name, character.id
    headers = {"Authorization": f"Bearer {alice.api_key}"}
    url = f"{server.url}/videos"
    prompt = f"{name} rolls across a gym"
    if encoding == "json ids":
        response = httpx.post(url, headers=headers, json={"prompt": prompt, "characters": [cid]})
    elif encoding == "json objects":
        body = {"prompt": prompt, "characters": [{"id": cid}]}
        response = httpx.post(url, headers=headers, json=body)
    elif encoding == "form indexed":
        response = httpx.post(
            url, headers=headers, data={"prompt": prompt, "characters[0][id]": cid}
        )
    elif encoding == "form JSON field":
        data = {"prompt": prompt, "characters": f'[{{"id": "{cid}"}}]'}
        response = httpx.post(url, headers=headers, data=data)
    else:
        response = httpx.post(url, headers=headers, data={"prompt": prompt, "characters": cid})
    assert response.status_code == 200, response.text
    missing = httpx.post(url, headers=headers, json={"prompt": "a ball", "characters": [cid]})
    assert_error(missing, 400, "characters")


def test_bad_characters_values_name_the_field(server, alice, tmp_path):
    headers = {"Authorization": f"Bearer {alice.api_key}"}
    url = f"{server.url}/videos"
    for bad in ([{"name": "x"}], [3], "[not json", ["char_a", "char_a"]):
        body: dict[str, Any] = {"prompt": "a ball"}
        if isinstance(bad, str):
            response = httpx.post(url, headers=headers, data={**body, "characters": bad})
        else:
            response = httpx.post(url, headers=headers, json={**body, "characters": bad})
        assert_error(response, 400, "characters")
    for bad_name in ("", "x" * 81):
        response = httpx.post(
            f"{url}/characters",
            headers=headers,
            data={"name": bad_name},
            files={"video": ("a.mp4", b"\0" * 10)},
        )
        assert_error(response, 400, "name")
    no_video = httpx.post(
        f"{url}/characters", headers=headers, data={"name": "Nil"}, files={"other": ("a", b"")}
    )
    assert_error(no_video, 400, "video")
    not_a_video = httpx.post(
        f"{url}/characters",
        headers=headers,
        data={"name": "Nil"},
        files={"video": ("notes.mp4", b"not a video" * 100)},
    )
    assert_error(not_a_video, 422, "video")
    long_path = tmp_path / "long.mp4"  # 31 s of grey, 64 x 48 at 8 fps
    frames = np.full((31 * 8, 48, 64, 3), 128, np.uint8)
    encode_mp4(long_path, frames, np.zeros((1, 31 * 48_000), np.float32), 8, 48_000)
    too_long = httpx.post(
        f"{url}/characters",
        headers=headers,
        data={"name": "Longy"},
        files={"video": ("long.mp4", long_path.read_bytes())},
    )
    assert "31.0 s" in assert_error(too_long, 400, "video")["message"]
    names = [c["name"] for c in alice.get("/videos/characters", cast_to=object)["data"]]
    assert "Longy" not in names and "Nil" not in names
