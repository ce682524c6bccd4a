"""A request its engine cannot serve is refused when it is created (400 naming the field),
with nothing stored: /v1/videos and the app's /api/videos, on the real app in-process.

The `stills` engine registered here takes no image and no cameos (no built-in engine
lacks both); `dit` makes at most 12 seconds."""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select
from tests.app.conftest import AppUnderTest, app_settings

from reelforge.cameos.draw import random_likeness
from reelforge.db.models import Cameo, Video
from reelforge.engines import _REGISTRY, Capabilities, register
from reelforge.engines.dit.engine import DitEngine
from reelforge.errors import InvalidRequest
from reelforge.pipeline import check_request
from reelforge.service.app import create_app
from reelforge.settings import Settings
from reelforge.types import API_SIZES


class StillsEngine:
    """Capabilities only: every request to it must be refused before a job exists."""

    name = "stills"
    capabilities = Capabilities(
        audio=False,
        image_input=False,
        cameos=False,
        max_seconds=20.0,
        sizes=API_SIZES,
        fps=(24,),
    )

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def generate(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("a request to the stills engine reached generation")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[AppUnderTest]:
    register("stills", StillsEngine)  # type: ignore[arg-type]
    settings = app_settings(tmp_path / "data", sora2_engine="stills")
    app = create_app(settings, run_worker=False)
    under_test = AppUnderTest(app, app.state.reelforge.settings, {}, [])
    yield under_test
    for client in under_test._clients:
        client.__exit__(None, None, None)
    _REGISTRY.pop("stills", None)


def _videos(site: AppUnderTest) -> int:
    with site.state.factory() as db:
        return int(db.scalar(select(func.count()).select_from(Video)) or 0)


def _png_data_url() -> str:
    buffer = io.BytesIO()
    Image.fromarray(np.full((64, 36, 3), 200, np.uint8)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_v1_refuses_what_the_engine_cannot_make_and_stores_nothing(site: AppUnderTest) -> None:
    client = site.anonymous()
    headers = {"authorization": f"Bearer {site.api_key('ada')}"}

    def create(**fields: object) -> dict[str, object]:
        response = client.post(
            "/v1/videos", json={"prompt": "a red ball", **fields}, headers=headers
        )
        assert response.status_code == 400, response.text
        error: dict[str, object] = response.json()["error"]
        return error

    too_long = create(model="dit", seconds="16")
    assert too_long["param"] == "seconds" and "at most 12" in str(too_long["message"])
    image = create(model="stills", input_reference={"image_url": _png_data_url()})
    assert image["param"] == "input_reference"
    assert "cannot start from an image" in str(image["message"])
    assert create(model="sora-2", input_reference={"image_url": _png_data_url()})["param"] == (
        "input_reference"  # sora-2 maps to stills here
    )
    assert _videos(site) == 0
    assert not list((site.settings.data_dir).rglob("references/*"))  # the image was not kept
    ok = client.post(
        "/v1/videos",
        json={"prompt": "a red ball", "model": "dit", "seconds": "12"},
        headers=headers,
    )
    assert ok.status_code == 200, ok.text  # within the engine's limits: accepted
    assert _videos(site) == 1


def test_the_app_refuses_a_cameo_to_an_engine_without_cameos(site: AppUnderTest) -> None:
    ada = site.sign_up("ada")
    with site.state.factory() as db:
        likeness = random_likeness(np.random.default_rng(0))
        db.add(
            Cameo(
                id="cameo_ada",
                owner_id=ada.user_id,
                handle="ada",
                kind="person",
                display_name="Ada",
                likeness_json=json.dumps(likeness.as_dict()),
                verified_at=int(time.time()),
            )
        )
        db.commit()
    response = ada.post("/api/videos", json={"prompt": "@ada waves hello", "cameos": ["ada"]})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == "cameos" and "cannot take cameos" in error["message"]
    without = ada.post("/api/videos", json={"prompt": "a dog waves hello"})
    assert without.status_code in (200, 201), without.text  # no cameo: the same engine is fine
    assert _videos(site) == 1


def test_the_one_check_names_size_and_fps_for_dit() -> None:
    dit = DitEngine.capabilities
    check_request("dit", dit, seconds=12, size="720x1280", fps=24)  # within every limit
    for field, request in {
        "seconds": {"seconds": 16.0, "size": "720x1280", "fps": 24},
        "size": {"seconds": 4.0, "size": "640x480", "fps": 24},
        "fps": {"seconds": 4.0, "size": "720x1280", "fps": 13},
    }.items():
        with pytest.raises(InvalidRequest) as refused:
            check_request("dit", dit, **request)  # type: ignore[arg-type]
        assert refused.value.param == field
        assert "dit" in str(refused.value)
