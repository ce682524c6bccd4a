"""Every generated clip is watermarked (visible, video, audio) and C2PA-signed; `verify`
reads all of it back, traces stripped copies through the registry, and rejects bad files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pydantic import SecretStr

from reelforge import pipeline
from reelforge.deployment import Deployment
from reelforge.errors import ConfigError, InvalidRequest, MediaError
from reelforge.provenance.identity import load_identity
from reelforge.provenance.manifest import ManifestFacts, Parent, read_manifest, sign_mp4
from reelforge.provenance.verify import verify_file
from reelforge.settings import Settings
from reelforge.types import Request


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("provenance-data")


@pytest.fixture(scope="module")
def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> pipeline.Result:
    out = tmp_path_factory.mktemp("signed") / "clip.mp4"
    request = Request(
        prompt='Two red balls bounce in a gym. A girl says "Look at that!"',
        seconds=4,
        size="360x640",
        seed=21,
        creator="ada",
    )
    return pipeline.generate(request, out, settings=settings)


def payload_of(result: pipeline.Result) -> str:
    return str(json.loads(result.sidecar_path.read_text())["provenance"]["watermark_payload"])


def test_a_generated_clip_is_signed_watermarked_and_registered(clip, settings):
    report = verify_file(clip.video_path, settings, registry=Deployment(settings).registry)
    payload = payload_of(clip)
    assert report.c2pa.state == "Trusted" and report.c2pa.problems == []
    assert report.c2pa.actions == ["c2pa.created", "c2pa.watermarked.bound"]
    assert str(report.c2pa.digital_source_type).endswith("/trainedAlgorithmicMedia")
    assert report.c2pa.soft_binding == payload
    assert report.video is not None and report.video.detected
    assert report.audio is not None and report.audio.detected
    assert report.video.p_value <= 1e-6 and report.audio.p_value <= 1e-6
    assert f"{report.video.payload:016x}" == f"{report.audio.payload:016x}" == payload
    assert report.record is not None
    assert (report.record.creator, report.record.engine) == ("ada", "sim")


def test_the_visible_mark_is_drawn(clip, settings, tmp_path):
    """The same request without the visible mark differs from the marked clip only in a
    small region of each frame, and that region moves."""
    plain_settings = settings.model_copy(update={"visible_watermark": False})
    plain = pipeline.generate(
        Request(
            prompt='Two red balls bounce in a gym. A girl says "Look at that!"',
            seconds=4,
            size="360x640",
            seed=21,
            creator="ada",
        ),
        tmp_path / "plain.mp4",
        settings=plain_settings,
    )
    marked, unmarked = clip.clip.frames, plain.clip.frames
    centres = []
    for index in (0, 48, 95):
        changed = np.abs(marked[index].astype(int) - unmarked[index].astype(int)).max(-1) > 8
        assert 0.002 < changed.mean() < 0.06  # a small mark, not nothing, not everything
        ys, xs = np.nonzero(changed)
        centres.append((ys.mean(), xs.mean()))
    assert np.ptp(np.array(centres), axis=0).max() > 10  # it moves


def test_one_changed_byte_of_video_data_breaks_c2pa(clip, settings, tmp_path):
    data = bytearray(clip.video_path.read_bytes())
    mdat = data.find(b"mdat")
    assert mdat > 0
    data[mdat + 4 + len(data[mdat + 4 :]) // 2] ^= 0x01  # one bit, mid-way through the media
    tampered = tmp_path / "tampered.mp4"
    tampered.write_bytes(bytes(data))
    report = read_manifest(tampered.read_bytes(), load_identity(settings).trust_anchors_pem)
    assert report.present and report.state == "Invalid"
    assert any("bmffHash.mismatch" in problem for problem in report.problems)
    assert read_manifest(clip.video_path.read_bytes()).state == "Valid"  # untouched: valid


def test_a_stripped_reencoded_copy_is_still_traced(clip, settings, tmp_path):
    """ffmpeg re-encode at CRF 28 with all metadata dropped: no manifest left, but the
    watermark names the payload and the registry the clip."""
    copy = tmp_path / "copy.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(clip.video_path), "-map_metadata", "-1",
         "-c:v", "libx264", "-crf", "28", "-c:a", "aac", "-b:a", "64k", str(copy)],
        check=True,
    )  # fmt: skip
    report = verify_file(copy, settings, registry=Deployment(settings).registry)
    assert not report.c2pa.present
    assert report.payload == payload_of(clip) and report.payload_source in ("video", "audio")
    assert report.record is not None and report.record.creator == "ada"


def test_a_remix_names_its_parent(clip, settings, tmp_path):
    identity = load_identity(settings)
    facts = ManifestFacts(
        title="remix.mp4",
        payload=0x1234,
        duration_s=4.0,
        engine="sim",
        video_id="video_remix",
        parent=Parent("video_source", "remix", clip.video_path),
    )
    signed = tmp_path / "remix.mp4"
    sign_mp4(clip.video_path, signed, facts, identity)
    report = read_manifest(signed.read_bytes(), identity.trust_anchors_pem)
    assert report.state == "Trusted", report.problems
    assert report.actions == ["c2pa.opened", "c2pa.edited", "c2pa.watermarked.bound"]
    assert report.parents == ["video_source.mp4"]
    assert report.generation["parent"] == {"video_id": "video_source", "relation": "remix"}


def test_unmarked_video_has_no_manifest_and_no_watermark(settings, tmp_path):
    from reelforge.media import encode_mp4

    rng = np.random.default_rng(0)
    frames = np.repeat(rng.integers(0, 255, (1, 640, 360, 3), np.uint8), 48, axis=0)
    audio = (0.1 * rng.standard_normal((1, 96_000))).astype(np.float32)
    plain = tmp_path / "plain.mp4"
    encode_mp4(plain, frames, audio, 24)
    report = verify_file(plain, settings, registry=Deployment(settings).registry)
    assert not report.c2pa.present and report.payload is None and report.record is None
    assert report.video is not None and report.video.p_value > 1e-3
    assert report.audio is not None and report.audio.p_value > 1e-3


def test_bad_files_are_clear_errors_and_nothing_is_written(clip, settings, tmp_path):
    before = sorted(p.name for p in Path(settings.data_dir).rglob("*"))
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(clip.video_path.read_bytes()[:20_000])
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 100)
    for bad in (truncated, text):
        with pytest.raises(MediaError):
            verify_file(bad, settings, registry=Deployment(settings).registry)
    with pytest.raises(InvalidRequest) as too_big:
        verify_file(
            clip.video_path, settings, registry=Deployment(settings).registry, max_bytes=1000
        )
    assert too_big.value.param == "file"
    with pytest.raises(InvalidRequest):
        verify_file(tmp_path / "missing.mp4", settings, registry=Deployment(settings).registry)
    assert sorted(p.name for p in Path(settings.data_dir).rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.mp4", "truncated.mp4"]


def test_cli_verify(clip, data_dir, tmp_path):
    env = {"REELFORGE_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin"}
    run = [sys.executable, "-m", "reelforge.cli", "verify"]
    ok = subprocess.run([*run, str(clip.video_path), "--json"], env=env, capture_output=True,
                        text=True, timeout=120)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["payload"] == payload_of(clip)
    (tmp_path / "bad.mp4").write_bytes(b"\0" * 5000)
    bad = subprocess.run([*run, str(tmp_path / "bad.mp4")], env=env, capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert bad.returncode != 0 and bad.stdout == ""
    assert len(bad.stderr.strip().splitlines()) == 1 and "not a readable video" in bad.stderr


def test_identity_is_made_once_and_configurable(tmp_path):
    first = load_identity(Settings(data_dir=tmp_path))
    again = load_identity(Settings(data_dir=tmp_path))
    assert first == again and first.development and len(first.watermark_key) == 32
    assert oct((tmp_path / "provenance" / "signer-key.pem").stat().st_mode & 0o777) == "0o600"
    chain = tmp_path / "provenance" / "signer-chain.pem"
    with pytest.raises(ConfigError, match="go together"):
        load_identity(Settings(data_dir=tmp_path, c2pa_cert_chain=chain))
    with pytest.raises(ConfigError, match="WATERMARK_KEY"):
        load_identity(Settings(data_dir=tmp_path, watermark_key=SecretStr("12ab")))
    shared = load_identity(
        Settings(data_dir=tmp_path / "other", watermark_key=SecretStr("ab" * 32))
    )
    assert shared.watermark_key == bytes.fromhex("ab" * 32)
    configured = load_identity(
        Settings(
            data_dir=tmp_path / "third",
            c2pa_cert_chain=chain,
            c2pa_private_key=tmp_path / "provenance" / "signer-key.pem",
        )
    )
    assert not configured.development and configured.chain_pem == first.chain_pem
    shutil.rmtree(tmp_path / "provenance")
