"""The sim engine's promises, checked on the decoded MP4 (what a viewer gets)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from reelforge.engines.sim import SimEngine
from reelforge.eval.onsets import onset_times
from reelforge.recaption import recaption
from reelforge.types import FrameSource, ScenePlan

# OpenCV hue (0..180) of each colour the colour test asks for.
HUES = {"red": 0, "blue": 111, "yellow": 26, "green": 66}


def count_blobs(frame: np.ndarray, color: str, min_area: int) -> list[np.ndarray]:
    """Connected regions of strongly saturated pixels of the given hue."""
    hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)
    hue = hsv[..., 0].astype(int)
    distance = np.minimum(np.abs(hue - HUES[color]), 180 - np.abs(hue - HUES[color]))
    mask = ((distance < 9) & (hsv[..., 1] > 110) & (hsv[..., 2] > 60)).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    return [labels == k for k in range(1, n) if stats[k, cv2.CC_STAT_AREA] >= min_area]


def test_named_colors_and_counts_are_drawn(objects_clip):
    frame = objects_clip.decoded.frames[0]  # objects start apart, in the air
    min_area = 150  # a small ball at 360x640 covers ~450 px
    assert len(count_blobs(frame, "red", min_area)) == 3
    assert len(count_blobs(frame, "blue", min_area)) == 2
    assert len(count_blobs(frame, "yellow", min_area)) == 1
    assert len(count_blobs(frame, "green", min_area)) == 0  # not asked for, not drawn
    # The plan and the frame agree on kinds too: the yellow blob is a triangle.
    yellow = count_blobs(frame, "yellow", min_area)[0].astype(np.uint8)
    contours, _ = cv2.findContours(yellow, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polygon = cv2.approxPolyDP(contours[0], 0.06 * cv2.arcLength(contours[0], True), True)
    assert len(polygon) == 3


def contact_errors_s(audio: np.ndarray, sample_rate: int, contacts: list[float]) -> np.ndarray:
    onsets = onset_times(audio, sample_rate)
    return np.array(
        [float(np.min(np.abs(onsets - t))) if onsets.size else np.inf for t in contacts]
    )


@pytest.mark.parametrize("clip_name", ["objects_clip", "bounce_clip"])
def test_every_contact_has_an_audio_onset_within_one_frame(clip_name, request):
    generated = request.getfixturevalue(clip_name)
    decoded = generated.decoded
    contacts = [c["time_s"] for c in generated.sidecar["events"]["contacts"]]
    assert len(contacts) >= 8, "the scene should produce several impacts"
    frame_s = 1 / generated.result.clip.fps
    errors = contact_errors_s(decoded.audio, decoded.sample_rate, contacts)
    missed = [t for t, e in zip(contacts, errors, strict=True) if e > frame_s]
    assert not missed, f"contacts without an onset within one frame: {missed}"
    # The detector is not just firing everywhere: its onsets are explained by contacts.
    onsets = onset_times(decoded.audio, decoded.sample_rate)
    explained = [float(np.min(np.abs(np.array(contacts) - o))) <= frame_s for o in onsets]
    assert np.mean(explained) >= 0.8


def test_onsets_land_within_milliseconds_of_contacts(bounce_clip):
    decoded = bounce_clip.decoded
    contacts = [c["time_s"] for c in bounce_clip.sidecar["events"]["contacts"]]
    errors = contact_errors_s(decoded.audio, decoded.sample_rate, contacts)
    assert np.median(errors) <= 0.005


@pytest.mark.parametrize("shift_s", [-0.2, -0.08, 0.08, 0.2])
def test_shifted_audio_breaks_sync(bounce_clip, shift_s):
    """The same check fails when the sound is moved by 80 or 200 ms, so it has power."""
    decoded = bounce_clip.decoded
    n = int(abs(shift_s) * decoded.sample_rate)
    silence = np.zeros((2, n), np.float32)
    audio = decoded.audio
    shifted = (
        np.concatenate([silence, audio[:, :-n]], axis=1)
        if shift_s > 0
        else np.concatenate([audio[:, n:], silence], axis=1)
    )
    contacts = [c["time_s"] for c in bounce_clip.sidecar["events"]["contacts"]]
    errors = contact_errors_s(shifted, decoded.sample_rate, contacts)
    assert np.median(errors) > 0.025
    assert np.mean(errors <= 1 / 24) < 0.7


def mouth_opening(frames: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Per frame, the height in pixels of the dark red inside of the mouth."""
    x0, y0, x1, y1 = box
    region = frames[:, y0:y1, x0:x1].astype(int)
    r, g, b = region[..., 0], region[..., 1], region[..., 2]
    # The inside of the mouth is drawn (70, 16, 24): darker and redder than any lip or skin.
    dark_red = (r < 130) & (g < 35) & (b < 45) & (r > g + 35)
    rows = (dark_red.sum(axis=2) >= 3).sum(axis=1).astype(float)  # rows with mouth inside
    return rows - np.percentile(rows, 5)  # height above the closed mouth (a thin line)


def speech_envelope(audio: np.ndarray, sample_rate: int, fps: int, n_frames: int) -> np.ndarray:
    mono = audio.mean(axis=0)
    half = sample_rate // fps // 2
    centres = (np.arange(n_frames) * sample_rate / fps).astype(int)
    return np.array(
        [np.sqrt(np.mean(mono[max(0, c - half) : c + half] ** 2) + 1e-12) for c in centres]
    )


def test_lips_move_with_the_speech(dialogue_clip):
    decoded, sidecar = dialogue_clip.decoded, dialogue_clip.sidecar
    fps = dialogue_clip.result.clip.fps
    n = decoded.frames.shape[0]
    envelope = speech_envelope(decoded.audio, decoded.sample_rate, fps, n)
    segments = sidecar["events"]["speech"]
    assert {s["character"] for s in segments} == set(sidecar["events"]["mouth_boxes_px"])
    for segment in segments:
        box = sidecar["events"]["mouth_boxes_px"][segment["character"]]
        opening = mouth_opening(decoded.frames, box)
        frames = np.arange(int(segment["start_s"] * fps), min(n, int(segment["end_s"] * fps) + 1))
        r = np.corrcoef(opening[frames], envelope[frames])[0, 1]
        assert r >= 0.5, f"{segment['character']}: lip/speech correlation {r:.2f}"
        # The listener's mouth stays shut while the other one talks.
        others = [c for c in sidecar["events"]["mouth_boxes_px"] if c != segment["character"]]
        for other in others:
            still = mouth_opening(decoded.frames, sidecar["events"]["mouth_boxes_px"][other])
            assert still[frames].mean() < 0.35 * opening[frames].mean()


def test_speech_is_audible_where_the_lines_are(dialogue_clip):
    decoded, sidecar = dialogue_clip.decoded, dialogue_clip.sidecar
    mono = decoded.audio.mean(axis=0)
    sr = decoded.sample_rate
    for segment in sidecar["events"]["speech"]:
        inside = mono[int(segment["start_s"] * sr) : int(segment["end_s"] * sr)]
        assert np.sqrt(np.mean(inside**2)) > 0.02
    first = sidecar["events"]["speech"][0]["start_s"]
    before = mono[: int(first * sr)]
    assert np.sqrt(np.mean(before**2)) < 0.01  # only room tone before anyone speaks


def _plan(prompt: str, seed: int, settings) -> ScenePlan:
    return recaption(prompt, seed, settings)[0]


def test_same_seed_same_clip_and_different_seed_differs(settings):
    engine = SimEngine(settings)
    prompt = 'Two green balls roll across a wooden floor in a park. A boy says "Go!"'
    plan = _plan(prompt, 3, settings)
    a = engine.generate(plan, seconds=2, size="256x448", fps=24, seed=3)
    b = engine.generate(_plan(prompt, 3, settings), seconds=2, size="256x448", fps=24, seed=3)
    assert np.array_equal(a.frames, b.frames)
    assert np.array_equal(a.audio, b.audio)
    assert a.contacts == b.contacts
    c = engine.generate(_plan(prompt, 4, settings), seconds=2, size="256x448", fps=24, seed=4)
    assert not np.array_equal(a.frames, c.frames)


@pytest.mark.parametrize("size", ["720x1280", "1280x720", "1024x1792", "1792x1024"])
def test_api_sizes_render_at_their_size(settings, size):
    engine = SimEngine(settings)
    plan = _plan("a purple ball bounces in a gym", 1, settings)
    clip = engine.generate(plan, seconds=1, size=size, fps=24, seed=1)
    width, height = map(int, size.split("x"))
    assert clip.frames.shape == (24, height, width, 3)
    assert clip.audio.shape == (2, 48_000)
    assert clip.frames[::6].std() > 10  # a real picture, not a flat fill


def test_frames_are_drawn_on_demand_and_depend_only_on_their_index(settings):
    """The clip's frames are a FrameSource that holds nothing after generate; a frame
    drawn out of order, or twice, is the frame drawn in sequence (every frame restores
    its background first), which is what lets the encoder pull them one at a time."""
    prompt = (
        "A dog chases a cat across the park while a bird flies overhead. "
        'A girl plays the guitar and a boy says "Look!"'
    )
    plan = _plan(prompt, 5, settings)
    clip = SimEngine(settings).generate(plan, seconds=1, size="256x448", fps=12, seed=5)
    assert isinstance(clip.frames, FrameSource) and not clip.frames.held
    assert clip.frames.frames_drawn == 0
    in_order = np.stack(list(clip.frames.stream()))
    assert not clip.frames.held
    shuffled = [9, 2, 11, 0, 2, 7]
    assert np.array_equal(clip.frames[shuffled], in_order[shuffled])
    assert not np.array_equal(in_order[0], in_order[-1])  # things move
    assert np.array_equal(np.asarray(clip.frames), in_order)


def test_physics_is_free_fall_between_contacts(objects_clip):
    """Tracks in pixels follow constant gravity in flight: the second difference is g."""
    clip = objects_clip.result.clip
    fps = clip.fps
    px_per_m = min(clip.width, clip.height) / 3.2
    name, track = next(iter(clip.tracks.items()))
    first_contact = min(c.time_s for c in clip.contacts if name in (c.object_a, c.object_b))
    flight = track[: int(first_contact * fps) - 1, 1]
    assert flight.size >= 5
    accel = np.diff(flight, 2) * fps**2 / px_per_m  # m/s², y down in pixels
    assert np.allclose(accel, 9.81, atol=0.05)


def test_every_ambience_and_weather_renders(settings):
    engine = SimEngine(settings)
    prompts = [
        "a ball on a rainy street at night",
        "a box in a windy desert at sunset",
        "a crowd cheers in a stadium as a ball falls",
        "waves at the beach, a ball",
        "birds in a forest, a red cube",
        "snow falling in a park, a ball",
        "a ball rolls down a ramp in a warehouse, camera pans left",
    ]
    for seed, prompt in enumerate(prompts):
        plan = _plan(prompt, seed, settings)
        clip = engine.generate(plan, seconds=1, size="256x448", fps=12, seed=seed)
        assert np.isfinite(clip.audio).all() and np.abs(clip.audio).max() <= 0.9
        assert np.sqrt(np.mean(clip.audio**2)) > 1e-4  # some ambience is always there


def test_rain_and_snow_fall_from_a_grey_sky(settings):
    """Under rain or snow the sky is overcast: grey, not blue, and no sun."""

    def sky(prompt: str) -> np.ndarray:
        plan = _plan(prompt, 4, settings)
        clip = SimEngine(settings).generate(plan, seconds=1, size="256x448", fps=12, seed=4)
        first = clip.frames[0]  # (H, W, 3), drawn on demand
        return np.asarray(first[: 448 // 4]).reshape(-1, 3).astype(np.float64)  # top quarter

    clear, rain, snow = (
        sky(f"a ball in a park{weather}") for weather in ("", " in the rain", " while it snows")
    )
    hsv = {
        name: cv2.cvtColor(pixels[None].astype(np.uint8), cv2.COLOR_RGB2HSV)[0]
        for name, pixels in (("clear", clear), ("rain", rain), ("snow", snow))
    }
    # Saturation (0..255): a blue sky about 120, an overcast one about 60.
    assert np.median(hsv["clear"][:, 1]) > 1.6 * np.median(hsv["rain"][:, 1])
    assert np.median(hsv["clear"][:, 1]) > 1.6 * np.median(hsv["snow"][:, 1])


@pytest.mark.parametrize(
    "prompt",
    [
        "a big red ball rolls across the wooden floor of a studio",
        "a blue wooden box slides across the concrete floor of a studio",
    ],
)
def test_rolling_and_sliding_sound_while_moving_and_stop_with_the_object(settings, prompt):
    plan = _plan(prompt, 2, settings)
    clip = SimEngine(settings).generate(plan, seconds=5, size="360x640", fps=24, seed=2)
    track = next(iter(clip.tracks.values()))
    px_per_m = 360 / 3.2
    speed = np.abs(np.diff(track[:, 0])) * clip.fps / px_per_m  # m/s, (T-1,)
    mono = clip.audio.mean(axis=0)
    per_frame = mono[: (clip.frame_count - 1) * 2000].reshape(clip.frame_count - 1, 2000)
    loudness = np.sqrt((per_frame**2).mean(axis=1))
    impacts = {round(c.time_s * clip.fps) for c in clip.contacts}
    quiet = [f for f in range(clip.frame_count - 1) if not impacts & {f - 1, f, f + 1, f + 2}]
    moving = [f for f in quiet if speed[f] > 0.8]
    still = [f for f in quiet if speed[f] < 0.01]
    assert len(moving) >= 5 and len(still) >= 24, "it should move, then come to rest"
    assert np.median(loudness[moving]) > 4 * np.median(loudness[still])
