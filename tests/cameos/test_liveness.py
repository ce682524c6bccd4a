"""The verification checks on fixture takes (tests/cameos/fixtures.py): each kind of
negative take fails the check it targets, with a reason; a positive take passes them all
and gives a likeness. The detectors are the real ones (MTCNN, PocketSphinx) on real
photographs, animated and encoded to MP4."""

from __future__ import annotations

import functools
import secrets
from pathlib import Path

import av
import numpy as np
import pytest

from reelforge.cameos.digits import hear_digits
from reelforge.cameos.faces import detect_faces
from reelforge.cameos.liveness import Challenge, Verdict, check_take, new_challenge
from reelforge.cameos.take import AUDIO_RATE
from reelforge.engines.sim.speech import synthesize
from reelforge.errors import MediaError
from reelforge.media.mp4 import encode_mp4
from reelforge.media.resampling import resample
from reelforge.types import Voice
from tests.cameos import fixtures
from tests.cameos.fixtures import FixtureTake, make_take

# One seed per kind, each a take whose checks other than the targeted one pass in
# benchmarks/liveness.py, so that a failure here points at the targeted check.
SEEDS = {
    "positive": 3,
    "wrong_digits": 1,
    "no_turn": 2,
    "wrong_order": 1,
    "still_photo": 0,
    "two_faces": 1,
    "other_audio": 5,
    "too_small": 0,
}


@pytest.fixture(scope="session")
def take_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cameo-takes")


@pytest.fixture(scope="session")
def checked(take_folder: Path):
    """kind → (the take, its verdict), each made and checked once per session."""

    @functools.cache
    def get(kind: str) -> tuple[FixtureTake, Verdict]:
        take = make_take(kind, SEEDS[kind], take_folder)
        return take, check_take(take.path, take.challenge)

    return get


def _check(verdict: Verdict, name: str):
    return next(check for check in verdict.checks if check.name == name)


# ---------------------------------------------------------------------------------------
# The parts


@pytest.mark.parametrize("photo", fixtures.PHOTOS)
def test_mtcnn_finds_the_face_and_its_landmarks_in_each_photograph(photo: str) -> None:
    import cv2

    bgr = cv2.imread(str(fixtures.photo_path(photo)))
    assert bgr is not None
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    faces = detect_faces(rgb, 40)
    assert len(faces) == 1 and faces[0].score > 0.99
    eyes_left, eyes_right, nose, mouth_left, mouth_right = faces[0].landmarks
    x0, y0, x1, y1 = faces[0].box
    assert all(x0 <= x <= x1 and y0 <= y <= y1 for x, y in faces[0].landmarks)
    assert eyes_left[0] < nose[0] < eyes_right[0]
    assert max(eyes_left[1], eyes_right[1]) < nose[1] < min(mouth_left[1], mouth_right[1])


def test_the_fixtures_head_turn_moves_the_detected_nose_the_right_way() -> None:
    """A turn to the person's left (positive yaw) must move the detected nose towards the
    image's right of the eyes' midpoint, and a turn to their right the other way: the
    fixtures exercise the landmarks, not only their own warp."""
    portrait = fixtures._portrait("astronaut", 0.3, 0.5, (120, 130, 140))

    def yaw_ratio(image: np.ndarray) -> float:
        (face,) = detect_faces(image, 40)
        eyes_mid = (face.landmarks[0] + face.landmarks[1]) / 2
        return float((face.landmarks[2, 0] - eyes_mid[0]) / face.eye_distance)

    rest = yaw_ratio(portrait.image)
    turn = np.radians(38)
    to_left = yaw_ratio(
        fixtures._turn_head(portrait.image, portrait.landmarks, portrait.face_width, turn)
    )
    to_right = yaw_ratio(
        fixtures._turn_head(portrait.image, portrait.landmarks, portrait.face_width, -turn)
    )
    assert to_left - rest > 0.12
    assert rest - to_right > 0.12


def test_new_challenges_are_six_digits_and_both_turns_in_a_random_order() -> None:
    challenges = [new_challenge() for _ in range(40)]
    for challenge in challenges:
        assert len(challenge.digits) == 6 and challenge.digits.isdigit()
        assert sorted(challenge.turns) == ["left", "right"]
    assert len({c.digits for c in challenges}) > 30
    assert {c.turns for c in challenges} == {("left", "right"), ("right", "left")}
    assert new_challenge(secrets.SystemRandom()).digits.isdigit()


def test_pocketsphinx_hears_digits_and_only_digits() -> None:
    utterance = synthesize("three. one. four. one. five. nine.", Voice(espeak_voice="en-us+klatt4"))
    audio = resample(np.asarray(utterance.audio)[None], utterance.sample_rate, AUDIO_RATE)[0]
    assert hear_digits(audio) == "314159"
    assert hear_digits(np.zeros(AUDIO_RATE, np.float32)) == ""


def test_a_file_that_is_not_a_take_is_a_media_error_naming_take(tmp_path: Path) -> None:
    not_video = tmp_path / "notes.mp4"
    not_video.write_bytes(b"this is not a video")
    with pytest.raises(MediaError) as error:
        check_take(not_video, Challenge("123456", ("left", "right")))
    assert error.value.param == "take" and "not a readable video" in str(error.value)

    frames = np.full((30, 64, 64, 3), 128, np.uint8)
    short = tmp_path / "short.mp4"
    encode_mp4(short, frames, np.zeros((1, 48_000 * 2), np.float32), 15)  # 2 s
    with pytest.raises(MediaError) as error:
        check_take(short, Challenge("123456", ("left", "right")))
    assert error.value.param == "take" and "5 to 15 seconds" in str(error.value)

    mute = tmp_path / "mute.mp4"  # six seconds of video and no audio stream at all
    with av.open(str(mute), "w") as container:
        stream = container.add_stream("libx264", rate=15)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for index in range(90):
            frame = av.VideoFrame.from_ndarray(frames[0], format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with pytest.raises(MediaError) as error:
        check_take(mute, Challenge("123456", ("left", "right")))
    assert error.value.param == "take" and "no audio stream" in str(error.value)


# ---------------------------------------------------------------------------------------
# The takes


def test_a_positive_take_passes_every_check_and_gives_a_likeness(checked) -> None:
    take, verdict = checked("positive")
    assert verdict.passed, [c for c in verdict.checks if not c.passed]
    assert [c.name for c in verdict.checks] == [
        "readable",
        "digits",
        "head_turns",
        "same_face",
        "lip_sync",
        "face_quality",
    ]
    assert _check(verdict, "digits").detail == f"heard {' '.join(take.challenge.digits)}"
    first, second = take.challenge.turns
    assert f"turned {first} at" in _check(verdict, "head_turns").detail
    assert f"then {second} at" in _check(verdict, "head_turns").detail
    likeness = verdict.likeness
    assert likeness is not None
    assert 60 <= likeness.voice_pitch_hz <= 300
    assert 0.5 <= likeness.speech_rate <= 8
    assert likeness.skin_rgb[0] > likeness.skin_rgb[2]  # skin is warmer than it is blue
    assert likeness.hair_length != "none"


@pytest.mark.parametrize(
    ("kind", "failing", "reason"),
    [
        ("wrong_digits", ("digits",), "expected"),
        ("no_turn", ("head_turns",), "no head turn seen"),
        ("wrong_order", ("head_turns",), "expected"),
        ("still_photo", ("head_turns", "lip_sync"), ""),
        ("two_faces", ("same_face",), "the face changed"),
        ("other_audio", ("lip_sync",), "does not follow"),
        ("too_small", ("face_quality",), "too small"),
    ],
)
def test_each_negative_take_fails_the_check_it_targets(
    checked, kind: str, failing: tuple[str, ...], reason: str
) -> None:
    _, verdict = checked(kind)
    assert not verdict.passed
    for name in failing:
        check = _check(verdict, name)
        assert not check.passed, check
        assert reason in check.detail
    assert _check(verdict, "readable").passed


def test_audio_from_another_take_with_the_same_digits_still_fails_only_lip_sync(checked) -> None:
    """The dubbed take says the right digits: only the mouth gives it away."""
    _, verdict = checked("other_audio")
    assert _check(verdict, "digits").passed
    assert [c.name for c in verdict.checks if not c.passed] == ["lip_sync"]
