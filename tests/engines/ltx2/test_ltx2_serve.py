"""A whole ltx2 job through `reelforge serve`, driven by the official `openai` SDK: the
tiny random snapshot is loaded by the server's worker with the network blocked in that
process too, and the clip comes back at the exact size, length and sample rate, marked
and signed, with the manifest naming LTX-2 as the model that made it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.conftest import ffprobe
from tests.e2e.test_videos_api import Server, start_server, stop
from tests.engines.ltx2.network_guard import guard_directory

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_snapshot: Path) -> Iterator[Server]:
    guard = guard_directory(tmp_path_factory.mktemp("guard"), str(ROOT))
    python_path = os.pathsep.join(filter(None, [guard, os.environ.get("PYTHONPATH")]))
    s = start_server(
        tmp_path_factory.mktemp("serve-ltx2"),
        REELFORGE_LTX2_DIR=str(tiny_snapshot),
        REELFORGE_LTX2_STEPS="1",  # a step of the tiny model at 720x1280 costs seconds here
        PYTHONPATH=python_path,
    )
    yield s
    stop(s.process)


def test_an_ltx2_job_through_serve_is_exact_marked_and_signed(server: Server, tmp_path: Path):
    client = server.client(server.key("ltx"))
    models = {m.id: m for m in client.models.list()}
    ltx2 = models["ltx2"].model_extra["reelforge"]  # type: ignore[index]
    assert ltx2["installed"] and ltx2["capabilities"]["audio"], ltx2
    assert not ltx2["capabilities"]["cameos"]

    video = client.videos.create_and_poll(
        model="ltx2",
        prompt='A chef flips a pancake and says "order up".',
        seconds="4",
        size="1280x720",  # 720 is no multiple of 32: generated at 1280x736, then cropped
        poll_interval_ms=200,
    )
    assert video.status == "completed", video.error
    assert (video.model, video.seconds, video.size) == ("ltx2", "4", "1280x720")

    clip = tmp_path / "ltx2.mp4"
    clip.write_bytes(client.videos.download_content(video.id).read())
    probe = ffprobe(clip)
    streams = {s["codec_type"]: s for s in probe["streams"]}
    assert (streams["video"]["width"], streams["video"]["height"]) == (1280, 720)
    assert streams["video"]["nb_frames"] == "96"  # 4 s at 24 fps: 97 generated, trimmed
    assert streams["audio"]["sample_rate"] == "48000"
    assert abs(float(streams["audio"]["duration"]) - 4.0) < 0.03

    response = httpx.post(
        f"{server.url}/provenance/verify",
        files={"file": ("ltx2.mp4", clip.read_bytes(), "video/mp4")},
        headers={"Authorization": f"Bearer {client.api_key}"},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["c2pa"]["state"] == "Trusted", report["summary"]
    assert report["watermark"]["video"]["detected"] and report["watermark"]["audio"]["detected"]
    generation = report["c2pa"]["generation"]
    assert generation["engine"] == "ltx2" and generation["video_id"] == video.id
    assert generation["model"]["name"] == "LTX-2"
    assert generation["model"]["version"].startswith("tiny-ltx2-distilled (configs ")
    assert report["record"]["engine"] == "ltx2"


def test_the_server_refuses_what_ltx2_cannot_make(server: Server):
    """Checked against the engine's capabilities at create time: a 400 naming the field."""
    headers = {"Authorization": f"Bearer {server.client(server.key('ltx-refused')).api_key}"}
    response = httpx.post(
        f"{server.url}/videos",
        json={"prompt": "a ball", "model": "ltx2", "seconds": "4", "size": "640x360"},
        headers=headers,
    )
    assert response.status_code == 400 and response.json()["error"]["param"] == "size"
