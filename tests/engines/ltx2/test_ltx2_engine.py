"""The ltx2 engine on the CPU, through a tiny random LTX-2 snapshot (conftest.py) loaded
from disk with the network blocked.

Random weights make pictures and sound that mean nothing, so these tests check what a user
relies on whatever the weights: exact sizes, frame counts and audio lengths, the seed,
progress, cancellation, what the image-to-video pipeline is given, and the errors a bad
folder gets. Whether frame 0 looks like the image cannot be checked with a random VAE (its
round trip does not reproduce an image); what is checked is that the first frame is fixed
by the image alone: two seeds give the same frame 0, two images different ones.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from tests.engines.ltx2.network_guard import NetworkBlocked
from tests.engines.ltx2.tiny_snapshot import TEST_STEPS

from reelforge.engines import References, get_engine
from reelforge.engines.ltx2 import LTX2Engine
from reelforge.engines.ltx2 import engine as engine_module
from reelforge.engines.ltx2.engine import (
    _DEVICE_LOCKS,
    first_frame_image,
)
from reelforge.engines.ltx2.placement import Placement
from reelforge.engines.ltx2.prompt import model_prompt
from reelforge.engines.ltx2.snapshot import check_snapshot
from reelforge.errors import Cancelled, ConfigError, InvalidRequest
from reelforge.media.images import cover_fit
from reelforge.settings import Settings
from reelforge.types import (
    API_SIZES,
    AUDIO_SAMPLE_RATE,
    SUPPORTED_FPS,
    Appearance,
    CharacterSpec,
    Clip,
    Line,
    ScenePlan,
    SoundSpec,
    Voice,
    parse_size,
)

PLAN = ScenePlan(prompt="a dog barks at a red ball in a park")
SMALL = "448x256"


def generate(engine: LTX2Engine, **overrides: Any) -> Clip:
    request: dict[str, Any] = dict(seconds=1.0, size=SMALL, fps=12, seed=7)
    request.update(overrides)
    return engine.generate(PLAN, **request)


def test_the_network_is_blocked():
    with pytest.raises(NetworkBlocked), socket.create_connection(("203.0.113.1", 443), 1):
        pass


# One frame each (decoding 1792x1024 on two CPU cores costs seconds a frame); 720 is not a
# multiple of 32, so 1280x720 is generated at 1280x736 and cropped. The frame count's
# rounding to 8k+1 and the trim are checked at every fps below.
@pytest.mark.parametrize("size", API_SIZES)
def test_api_sizes_come_out_exact(one_step_engine: LTX2Engine, size: str):
    clip = generate(one_step_engine, size=size, seconds=1 / 12)
    width, height = parse_size(size)
    assert clip.frames.shape == (1, height, width, 3)
    assert clip.frames.dtype == np.uint8
    assert clip.audio.shape == (2, AUDIO_SAMPLE_RATE // 12)


@pytest.mark.parametrize("fps", SUPPORTED_FPS)
def test_each_fps_gives_the_exact_frames_and_sound(engine: LTX2Engine, fps: int):
    clip = generate(engine, fps=fps, size="256x448")
    assert clip.frames.shape == (fps, 448, 256, 3)
    assert clip.fps == fps
    assert clip.sample_rate == AUDIO_SAMPLE_RATE
    assert clip.audio.dtype == np.float32
    assert clip.audio.shape == (2, AUDIO_SAMPLE_RATE)  # the video's length exactly
    assert np.abs(clip.audio).max() > 0  # the model's sound, not padding


def test_the_same_seed_makes_the_same_clip(engine: LTX2Engine):
    first, again, other = (generate(engine, seed=seed, seconds=0.5) for seed in (11, 11, 12))
    np.testing.assert_array_equal(first.frames, again.frames)
    np.testing.assert_array_equal(first.audio, again.audio)
    assert np.abs(first.frames.astype(int) - other.frames.astype(int)).mean() > 1


def test_progress_rises_after_every_step(engine: LTX2Engine):
    reports: list[tuple[str, float]] = []
    generate(
        engine, seconds=0.5, progress=lambda stage, fraction: reports.append((stage, fraction))
    )
    fractions = [fraction for _, fraction in reports]
    assert fractions == sorted(fractions)
    assert [stage for stage, _ in reports].count("denoise") == TEST_STEPS
    assert reports[0] == ("load", 0.0) and reports[-1] == ("decode", 1.0)


def test_a_cancelled_job_stops_within_one_step(engine: LTX2Engine):
    calls = []
    positions: list[weakref.ref] = []  # the call's video positions, held until it ends
    transformer = engine.load().text_to_video.transformer

    def before_pass(module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        calls.append(1)
        positions.append(weakref.ref(kwargs["video_coords"]))

    hook = transformer.register_forward_pre_hook(before_pass, with_kwargs=True)

    def progress(stage: str, fraction: float) -> None:
        if stage == "denoise":
            raise Cancelled("cancelled by the test")

    try:
        with pytest.raises(Cancelled) as stopped:
            generate(engine, progress=progress)
    finally:
        hook.remove()
    assert len(calls) == 1  # one transformer pass (guidance off), then stopped
    assert not _DEVICE_LOCKS["cpu"].locked()
    # The Cancelled the caller holds does not keep the pipeline's tensors alive.
    assert stopped.value.__traceback__ is not None
    assert positions[0]() is None


def test_image_to_video_starts_from_the_cover_fitted_image(engine: LTX2Engine, monkeypatch):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (300, 200, 3), dtype=np.uint8)  # portrait, for 640x360
    loaded = engine.load()
    received: list[Any] = []
    real = loaded.image_to_video

    class Recording:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def __call__(self, **arguments: Any) -> Any:
            received.append(arguments["image"])
            return real(**arguments)

    monkeypatch.setattr(loaded, "image_to_video", Recording())
    size = "640x360"  # generated at 640x384: 12 rows reflected above and below
    starts = References(first_frame=image)
    first = generate(engine, size=size, seconds=0.5, references=starts, seed=1)
    again = generate(engine, size=size, seconds=0.5, references=starts, seed=2)
    flipped = References(first_frame=np.ascontiguousarray(image[::-1]))
    other = generate(engine, size=size, seconds=0.5, references=flipped, seed=1)

    given = np.asarray(received[0])
    assert given.shape == (384, 640, 3)
    np.testing.assert_array_equal(given[12:372], cover_fit(image, 640, 360))
    np.testing.assert_array_equal(given[:12], given[24:12:-1])  # reflected, not stretched
    np.testing.assert_array_equal(first.frames[0], again.frames[0])
    assert np.abs(first.frames[1:].astype(int) - again.frames[1:].astype(int)).mean() > 1
    assert np.abs(first.frames[0].astype(int) - other.frames[0].astype(int)).mean() > 1


def test_bf16_keeps_the_sound_in_float32_and_shares_the_modules(tiny_snapshot, monkeypatch):
    """The GPU's resident placement, on the CPU: bf16 everywhere but the vocoder and the
    audio VAE, and the image-to-video pipeline on the very same modules (no copy, no
    cast)."""
    bf16 = Placement("cpu", "bfloat16", offload=False)
    monkeypatch.setattr(engine_module, "choose_placement", lambda setting, parameters: bf16)
    engine = LTX2Engine(Settings(ltx2_dir=tiny_snapshot, ltx2_steps=1))
    loaded = engine.load()
    text_to_video, image_to_video = loaded.text_to_video, loaded.image_to_video
    assert text_to_video.transformer.dtype == torch.bfloat16
    assert text_to_video.vocoder.dtype == text_to_video.audio_vae.dtype == torch.float32
    for name, module in text_to_video.components.items():
        assert getattr(image_to_video, name) is module, name
    clip = generate(engine, seconds=1 / 12)
    assert clip.frames.shape == (1, 256, 448, 3) and clip.audio.shape == (2, 4000)
    assert np.isfinite(clip.audio).all() and np.abs(clip.audio).max() > 0


def test_first_frame_must_be_an_rgb_image():
    with pytest.raises(InvalidRequest, match=r"uint8 \(H, W, 3\)"):
        first_frame_image(np.zeros((4, 4), np.uint8), 4, 4, 32, 32)


def test_the_model_sees_the_users_words_dialogue_and_sound():
    plan = ScenePlan(
        prompt='a chef says "order up" in a kitchen',
        characters=[
            CharacterSpec(
                name="Sam",
                appearance=Appearance(
                    skin_rgb=(200, 160, 130),
                    hair_rgb=(40, 30, 20),
                    hair_style="short",
                    shirt_color="white",
                    shirt_rgb=(250, 250, 250),
                    pants_rgb=(20, 20, 20),
                    height_m=1.8,
                ),
                voice=Voice(espeak_voice="en-us"),
                lines=[Line(text="order up", start_s=0.2), Line(text="table four", start_s=1)],
            )
        ],
        sound=SoundSpec(ambience="room_tone", effects=["sizzle"]),
    )
    text = model_prompt(plan)
    assert text.startswith('a chef says "order up" in a kitchen')
    assert 'Sam says: "table four"' in text
    assert text.count("order up") == 1  # already in the user's words
    assert "room tone" in text and "sizzle" in text
    # A description (the recaption endpoint's, or a remix's) stands for the words.
    described = plan.model_copy(
        update={"description": 'A cook in whites says "order up" under warm light.'}
    )
    text = model_prompt(described)
    assert text.startswith("A cook in whites") and text.count("order up") == 1
    assert 'Sam says: "table four"' in text


def test_a_remix_shows_the_model_the_scene_it_started_from():
    from reelforge.recaption import recaption, remix_plan

    settings = Settings()
    base, _ = recaption('a chef flips a pancake and says "order up"', 3, settings, 4.0)
    assert base.description is None  # the rules: the words say it
    remix = remix_plan(base, "the same scene at night", 3, settings, 4.0)
    again = remix_plan(remix, "now in the rain", 3, settings, 4.0)
    text = model_prompt(again)
    assert text.startswith(
        'a chef flips a pancake and says "order up"\nChanged: the same scene at night\n'
        "Changed: now in the rain"
    )


def test_the_registry_keeps_one_engine_per_snapshot(tiny_snapshot: Path):
    settings = Settings(ltx2_dir=tiny_snapshot, ltx2_steps=TEST_STEPS)
    first = get_engine("ltx2", settings)
    assert get_engine("ltx2", settings.model_copy()) is first
    assert get_engine("ltx2", settings.model_copy(update={"ltx2_steps": 3})) is not first
    assert first.name == "ltx2" and first.capabilities.audio and not first.capabilities.cameos


def test_importing_the_engine_loads_no_torch():
    code = "import sys, reelforge.engines.ltx2; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_provenance_names_the_model_and_snapshot(engine: LTX2Engine, tiny_snapshot: Path):
    assert engine.generator_name == "LTX-2"
    assert engine.generator_version.startswith("tiny-ltx2-distilled (configs ")


def test_a_hub_cache_snapshot_is_named_by_repository_and_revision(tiny_snapshot, tmp_path):
    cached = tmp_path / "models--diffusers--LTX-2.3-Distilled-Diffusers" / "snapshots"
    cached.mkdir(parents=True)
    (cached / ("a1b2c3d4e5f6" * 3)).symlink_to(tiny_snapshot, target_is_directory=True)
    snapshot = check_snapshot(cached / ("a1b2c3d4e5f6" * 3))
    assert snapshot.revision == "diffusers/LTX-2.3-Distilled-Diffusers@a1b2c3d4e5f6"
    assert snapshot.kind == "distilled"
    assert snapshot.parameters > 100_000
    full = tmp_path / "LTX-2"
    full.symlink_to(tiny_snapshot, target_is_directory=True)
    assert check_snapshot(full).kind == "full"


def test_steps_and_guidance_default_per_kind(tiny_snapshot: Path, tmp_path: Path):
    distilled = LTX2Engine(Settings(ltx2_dir=tiny_snapshot)).load().recipe
    assert (distilled.steps, distilled.guidance) == (8, 1.0)
    assert distilled.sigmas is not None and len(distilled.sigmas) == 8
    full_dir = tmp_path / "LTX-2"
    full_dir.symlink_to(tiny_snapshot, target_is_directory=True)
    full = LTX2Engine(Settings(ltx2_dir=full_dir)).load().recipe
    assert (full.steps, full.guidance, full.sigmas) == (40, 4.0, None)
    assert full.call_arguments()["guidance_scale"] == 4.0
    assert "stg_scale" not in full.call_arguments()  # the pipeline's LTX-2 recipe
    assert full.call_arguments()["negative_prompt"].startswith("blurry, out of focus")
    assert "negative_prompt" not in distilled.call_arguments()


def test_a_full_checkpoint_runs_with_guidance(tiny_snapshot: Path, tmp_path: Path):
    full_dir = tmp_path / "LTX-2"
    full_dir.symlink_to(tiny_snapshot, target_is_directory=True)
    engine = LTX2Engine(Settings(ltx2_dir=full_dir, ltx2_steps=1))
    passes = []
    hook = engine.load().text_to_video.transformer.register_forward_hook(
        lambda module, args, kwargs, output: passes.append(kwargs["hidden_states"].shape[0]),
        with_kwargs=True,
    )
    clip = generate(engine, seconds=1 / 12)
    hook.remove()
    assert clip.frames.shape == (1, 256, 448, 3)
    # One step: the caption and the empty caption batched, then the spatio-temporal and
    # the modality-isolated passes.
    assert passes == [2, 1, 1]


def _broken_copy(tiny_snapshot: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "snapshot"
    shutil.copytree(tiny_snapshot, copy)
    return copy


def _load_error(directory: Path | None, **settings: Any) -> str:
    with pytest.raises(ConfigError) as error:
        LTX2Engine(Settings(ltx2_dir=directory, **settings)).load()
    return str(error.value)


def test_bad_folders_are_config_errors_naming_the_path(tiny_snapshot: Path, tmp_path: Path):
    assert "REELFORGE_LTX2_DIR" in _load_error(None)
    assert str(tmp_path / "absent") in _load_error(tmp_path / "absent")
    assert "model_index.json" in _load_error(tmp_path)

    copy = _broken_copy(tiny_snapshot, tmp_path)
    shutil.rmtree(copy / "vocoder")
    message = _load_error(copy)
    assert str(copy) in message and "vocoder/config.json" in message

    shutil.copytree(tiny_snapshot / "vocoder", copy / "vocoder")
    (copy / "transformer" / "diffusion_pytorch_model.safetensors").unlink()
    assert "transformer/ weights" in _load_error(copy)

    index = json.loads((tiny_snapshot / "model_index.json").read_text())
    (copy / "model_index.json").write_text(json.dumps({**index, "_class_name": "WanPipeline"}))
    assert "'WanPipeline'" in _load_error(copy)


def test_weights_that_do_not_load_are_config_errors(tiny_snapshot: Path, tmp_path: Path):
    copy = _broken_copy(tiny_snapshot, tmp_path)
    weights = copy / "vae" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # truncated
    message = _load_error(copy)
    assert str(copy / "vae") in message

    copy2 = tmp_path / "second"
    shutil.copytree(tiny_snapshot, copy2)
    config = json.loads((copy2 / "vae" / "config.json").read_text())
    config["latent_channels"] = 6  # the weights hold 4
    (copy2 / "vae" / "config.json").write_text(json.dumps(config))
    assert str(copy2) in _load_error(copy2)


def test_offload_without_accelerate_or_a_gpu_is_a_config_error(tiny_snapshot: Path):
    message = _load_error(tiny_snapshot, ltx2_placement="offload")
    try:
        import accelerate  # noqa: F401
    except ImportError:
        assert "accelerate" in message
    else:
        assert "GPU" in message
