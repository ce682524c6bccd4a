"""`verify` answers truthfully whatever the container: a WebM or an MKV re-mux of a signed
clip, and an MP4 that never had a manifest, are "no C2PA manifest" with their container
named, never INVALID; a signed MP4 cut short is INVALID, with the reason in plain words;
no message or JSON field has a raw byte or an unprintable character in it. Through
`verify_file`, the CLI and POST /v1/provenance/verify."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from reelforge import pipeline
from reelforge.db.keys import create_key
from reelforge.deployment import Deployment
from reelforge.errors import MediaError
from reelforge.media import encode_mp4
from reelforge.provenance.manifest import MP4, Container, printable, read_manifest
from reelforge.provenance.verify import verify_file
from reelforge.service.app import create_app
from reelforge.settings import Settings
from reelforge.types import Request


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("containers-data")


@pytest.fixture(scope="module")
def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> dict[str, Path]:
    """A signed sim clip and what happens to clips out there: re-muxed to MKV, re-encoded
    to WebM (VP8 + Opus), cut short; and an MP4 that was never signed."""
    out = tmp_path_factory.mktemp("containers")
    request = Request(prompt="a dog barks in a park", seconds=4, size="360x640", seed=5)
    signed = pipeline.generate(request, out / "signed.mp4", settings=settings).video_path

    def ffmpeg(*args: str) -> None:
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(signed), *args], check=True)

    ffmpeg("-c", "copy", str(out / "remux.mkv"))
    ffmpeg("-c:v", "libvpx", "-b:v", "1M", "-c:a", "libopus", str(out / "clip.webm"))
    data = signed.read_bytes()
    (out / "cut.mp4").write_bytes(data[: len(data) * 7 // 10])
    rng = np.random.default_rng(0)
    frames = np.repeat(rng.integers(0, 255, (1, 640, 360, 3), np.uint8), 48, axis=0)
    audio = (0.1 * rng.standard_normal((1, 96_000))).astype(np.float32)
    encode_mp4(out / "unsigned.mp4", frames, audio, 24)
    return {
        "signed": signed,
        "mkv": out / "remux.mkv",
        "webm": out / "clip.webm",
        "cut": out / "cut.mp4",
        "unsigned": out / "unsigned.mp4",
    }


def printable_everywhere(value: Any, where: str = "report") -> None:
    """Every string (and key) in a JSON value is printable, with no U+FFFD."""
    if isinstance(value, str):
        assert value.isprintable() and "\ufffd" not in value, f"{where}: {value!r}"
    elif isinstance(value, dict):
        for key, item in value.items():
            printable_everywhere(key, where)
            printable_everywhere(item, f"{where}.{key}")
    elif isinstance(value, list):
        for n, item in enumerate(value):
            printable_everywhere(item, f"{where}[{n}]")


EXPECTED = {
    # name: (container, C2PA state, the summary's start, traced to the clip)
    "mkv": ("MKV", "absent", "no C2PA manifest (MKV file); watermark found", True),
    "webm": ("WebM", "absent", "no C2PA manifest (WebM file); watermark found", True),
    "unsigned": ("MP4", "absent", "no C2PA manifest (MP4 file); no watermark found", False),
    "cut": (
        "MP4",
        "Invalid",
        "C2PA manifest INVALID: the video or audio data differs from what was signed "
        "(the file was changed or cut short after signing); watermark found",
        True,
    ),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_each_file_gets_its_true_state(
    files: dict[str, Path], settings: Settings, name: str
) -> None:
    container, state, summary, traced = EXPECTED[name]
    report = verify_file(files[name], settings, registry=Deployment(settings).registry)
    public = report.public()
    assert (public["container"], public["c2pa"]["state"]) == (container, state)
    assert public["summary"].startswith(summary), public["summary"]
    assert "INVALID" not in public["summary"] or state == "Invalid"
    assert public["c2pa"]["present"] is (state != "absent")
    assert (public["c2pa"]["reason"] is None) is (state != "Invalid")
    assert (report.record is not None) is traced
    assert (public["media_problem"] is not None) is (name == "cut")
    printable_everywhere(public)
    json.dumps(public, ensure_ascii=True)  # JSON-clean too


def test_the_signed_original_is_still_trusted(files: dict[str, Path], settings: Settings) -> None:
    report = verify_file(files["signed"], settings, registry=Deployment(settings).registry)
    assert report.c2pa.state == "Trusted" and report.c2pa.container == "MP4"
    assert report.c2pa.reason is None and report.media_problem is None


def test_an_unsigned_file_cut_short_is_still_an_error(
    files: dict[str, Path], settings: Settings, tmp_path: Path
) -> None:
    """Without a manifest there is nothing to say about a file that does not decode."""
    data = files["unsigned"].read_bytes()
    cut = tmp_path / "cut-unsigned.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError, match="truncated"):
        verify_file(cut, settings, registry=Deployment(settings).registry)


def test_what_the_c2pa_library_says_is_made_printable(files: dict[str, Path]) -> None:
    """Told the WebM is an MP4, c2pa's error quotes the file's raw bytes (the old bug's
    text); the report says the manifest cannot be read, in printable characters."""
    report = read_manifest(files["webm"].read_bytes(), container=Container("MP4", MP4))
    assert report.state == "Invalid" and report.reason is not None
    assert report.reason.startswith("the manifest is there but cannot be read (")
    assert "?" in report.reason  # where the raw bytes were
    printable_everywhere(report.public())
    assert printable("a\x00b\ufffd\ud800\nc") == "a?b???c"
    assert printable("x" * 400, 10) == "xxxxxxx..."


def test_cli_says_which_container_has_no_manifest(files: dict[str, Path], data_dir: Path) -> None:
    env = {"REELFORGE_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin"}
    for name, (container, state, summary, _) in EXPECTED.items():
        run = subprocess.run(
            [sys.executable, "-m", "reelforge.cli", "verify", str(files[name])],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
        lines = run.stdout.splitlines()
        assert lines[0].startswith(f"{files[name]}: {summary}")
        assert f"  container: {container}" in lines and f"  C2PA: {state}" in run.stdout
        assert all(line.isprintable() for line in lines)


def test_api_verify_names_the_container(files: dict[str, Path], settings: Settings) -> None:
    app = create_app(settings, run_worker=False)
    with TestClient(app, base_url="http://localhost") as client:
        with app.state.reelforge.factory() as db:
            key = create_key(db, "verifier")
            db.commit()
        auth = {"authorization": f"Bearer {key}"}
        for name, content_type in (("mkv", "video/x-matroska"), ("cut", "video/mp4")):
            container, state, summary, traced = EXPECTED[name]
            with files[name].open("rb") as upload:
                response = client.post(
                    "/v1/provenance/verify",
                    headers=auth,
                    files={"file": (files[name].name, upload, content_type)},
                )
            assert response.status_code == 200, response.text
            body = response.json()
            assert (body["container"], body["c2pa"]["state"]) == (container, state)
            assert body["summary"].startswith(summary) and body["file"] == files[name].name
            assert (body["record"] is not None) is traced
            printable_everywhere(body)
