"""The Likeness a verification take gives the sim: simple, explainable measurements, no
biometric template.

Looks come from the take's most frontal frames (|yaw| under 0.1, else all with a face), each
a median over those frames of a region placed relative to the face box (x0, y0, w, h):
- skin: the box's centre (cheeks and nose), x 0.3-0.7 w, y 0.45-0.75 h;
- hair: the band just above the box, x 0.2-0.8 w, 0.3 h up to 0.05 h down; when that band
  looks like the skin (ΔE under 12, Lab) the person has no hair there ("none");
- hair length: how far down beside the face the hair colour goes, in strips a third of the
  box wide just outside it: "long" when it reaches below the chin, "medium" to the mouth,
  else "short";
- shirt: below the chin, x 0.1-0.9 w, 0.35-0.85 h under the box;
- glasses: the edge density (mean Sobel magnitude) of the nose bridge between the eyes
  against that of the cheeks: frames put edges across the bridge where skin has none;
- face shape: the box's height over its width: under 1.12 "round", over 1.32 "long".
The voice comes from the take's audio:
- pitch: the median F0 over voiced 40 ms frames, each the autocorrelation peak between
  70 and 400 Hz when that peak is at least 0.5 of the frame's energy;
- rate: syllables per second, one per peak of the 50 ms-smoothed loudness envelope that
  stands 6 dB above the valleys either side, over the span from the first to the last.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

from reelforge.cameos.faces import Face
from reelforge.cameos.likeness import RGB, Likeness
from reelforge.cameos.take import AUDIO_RATE, Take
from reelforge.cameos.track import FaceTrack

FRONTAL_YAW = 0.1
BALD_DELTA_E = 12.0
HAIR_MATCH_DELTA_E = 18.0
GLASSES_EDGE_RATIO = 1.6


def estimate_likeness(take: Take, track: FaceTrack, yaw: np.ndarray) -> Likeness:
    found = track.found()
    frontal = [
        i for i in found if not np.isnan(yaw[i]) and abs(yaw[i] - np.nanmedian(yaw)) < FRONTAL_YAW
    ]
    frames = frontal or found
    pairs = [(take.frames[i], track.faces[i]) for i in frames]
    faces = [(rgb, face) for rgb, face in pairs if face is not None]
    skin = _median_colour(faces, (0.3, 0.45, 0.7, 0.75))
    hair = _median_colour(faces, (0.2, -0.3, 0.8, 0.05))
    shirt = _median_colour(faces, (0.1, 1.35, 0.9, 1.85))
    pitch_hz, rate = voice_pitch_hz(take.audio), speech_rate(take.audio)
    return Likeness(
        skin_rgb=skin,
        hair_rgb=hair,
        hair_length=_hair_length(faces, skin, hair),
        shirt_rgb=shirt,
        glasses=_glasses(faces),
        face_shape=_face_shape([face for _, face in faces]),
        voice_pitch_hz=round(float(pitch_hz), 1),
        speech_rate=round(float(rate), 2),
    )


def _region(rgb: np.ndarray, face: Face, part: tuple[float, float, float, float]) -> np.ndarray:
    """Pixels (N, 3) of a region given as fractions of the face box (may reach outside it)."""
    height, width = rgb.shape[:2]
    x0, y0, x1, y1 = face.box
    box_w, box_h = x1 - x0, y1 - y0
    left, right = int(max(0, x0 + part[0] * box_w)), int(min(width, x0 + part[2] * box_w))
    top, bottom = int(max(0, y0 + part[1] * box_h)), int(min(height, y0 + part[3] * box_h))
    if right - left < 1 or bottom - top < 1:
        return np.zeros((0, 3), np.uint8)
    return rgb[top:bottom, left:right].reshape(-1, 3)


def _median_colour(
    faces: list[tuple[np.ndarray, Face]], part: tuple[float, float, float, float]
) -> RGB:
    pixels = [_region(rgb, face, part) for rgb, face in faces]
    stacked = np.concatenate([p for p in pixels if len(p)] or [np.zeros((1, 3), np.uint8)])
    r, g, b = (int(v) for v in np.median(stacked, axis=0))
    return (r, g, b)


def _delta_e(a: RGB, b: RGB) -> float:
    lab = cv2.cvtColor(np.array([[a, b]], np.uint8), cv2.COLOR_RGB2LAB).astype(np.float64)[0]
    # OpenCV's 8-bit Lab: L scaled by 255/100, a and b offset by 128.
    lab[:, 0] *= 100 / 255
    return float(np.linalg.norm(lab[0] - lab[1]))


def _hair_length(
    faces: list[tuple[np.ndarray, Face]], skin: RGB, hair: RGB
) -> Literal["none", "short", "medium", "long"]:
    if _delta_e(skin, hair) < BALD_DELTA_E:
        return "none"
    beside_mouth = [
        _median_colour(faces, (-0.35, 0.55, -0.02, 0.85)),
        _median_colour(faces, (1.02, 0.55, 1.35, 0.85)),
    ]
    below_chin = [
        _median_colour(faces, (-0.35, 1.0, -0.02, 1.3)),
        _median_colour(faces, (1.02, 1.0, 1.35, 1.3)),
    ]
    if any(_delta_e(c, hair) < HAIR_MATCH_DELTA_E for c in below_chin):
        return "long"
    if any(_delta_e(c, hair) < HAIR_MATCH_DELTA_E for c in beside_mouth):
        return "medium"
    return "short"


def _glasses(faces: list[tuple[np.ndarray, Face]]) -> bool:
    ratios = []
    for rgb, face in faces:
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
        edges = np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
        left_eye, right_eye = face.landmarks[0], face.landmarks[1]
        distance = max(face.eye_distance, 1.0)
        mid = (left_eye + right_eye) / 2
        bridge = _patch(edges, mid, 0.25 * distance, 0.2 * distance)
        cheek = _patch(edges, (left_eye + face.landmarks[3]) / 2, 0.25 * distance, 0.2 * distance)
        if bridge.size and cheek.size:
            ratios.append(float(bridge.mean()) / (float(cheek.mean()) + 1.0))
    return bool(ratios) and float(np.median(ratios)) > GLASSES_EDGE_RATIO


def _patch(image: np.ndarray, centre: np.ndarray, half_w: float, half_h: float) -> np.ndarray:
    height, width = image.shape[:2]
    x0, x1 = int(max(0, centre[0] - half_w)), int(min(width, centre[0] + half_w))
    y0, y1 = int(max(0, centre[1] - half_h)), int(min(height, centre[1] + half_h))
    return image[y0:y1, x0:x1]


def _face_shape(faces: list[Face]) -> Literal["round", "oval", "long"]:
    aspect = float(np.median([face.height / max(face.width, 1.0) for face in faces]))
    if aspect < 1.12:
        return "round"
    if aspect > 1.32:
        return "long"
    return "oval"


def voice_pitch_hz(audio: np.ndarray) -> float:
    """Median F0 (Hz) over the voiced 40 ms frames (10 ms hop) of 16 kHz audio; 0 if none."""
    frame, hop = int(0.04 * AUDIO_RATE), int(0.01 * AUDIO_RATE)
    if audio.size < frame:
        return 0.0
    windows = np.lib.stride_tricks.sliding_window_view(audio.astype(np.float64), frame)[::hop]
    energy = (windows**2).mean(axis=1)
    loud = energy > 0.1 * np.percentile(energy, 95)
    shortest, longest = AUDIO_RATE // 400, AUDIO_RATE // 70
    pitches = []
    for window in windows[loud]:
        window = window - window.mean()
        spectrum = np.fft.rfft(window, 2 * frame)
        autocorrelation = np.fft.irfft(spectrum * np.conj(spectrum))[:frame]
        if autocorrelation[0] <= 0:
            continue
        lag = shortest + int(np.argmax(autocorrelation[shortest:longest]))
        if autocorrelation[lag] / autocorrelation[0] >= 0.5:
            pitches.append(AUDIO_RATE / lag)
    return float(np.median(pitches)) if pitches else 0.0


def speech_rate(audio: np.ndarray) -> float:
    """Syllables per second: peaks of the loudness envelope, over the speaking span."""
    hop = int(0.01 * AUDIO_RATE)
    count = audio.size // hop
    if count < 10:
        return 0.0
    rms = np.sqrt((audio[: count * hop].astype(np.float64).reshape(count, hop) ** 2).mean(axis=1))
    kernel = np.ones(5) / 5  # 50 ms
    level_db = 20 * np.log10(np.convolve(rms, kernel, mode="same") + 1e-5)
    floor = float(np.percentile(level_db, 10))
    speaking = np.nonzero(level_db > floor + 15)[0]
    if len(speaking) < 2:
        return 0.0
    peaks = 0
    valley = level_db[0]
    rising_peak: float | None = None
    for value in level_db:
        if rising_peak is None:
            valley = min(valley, value)
            if value > valley + 6 and value > floor + 15:
                rising_peak = value
        elif value > rising_peak:
            rising_peak = value
        elif value < rising_peak - 6:
            peaks += 1
            rising_peak, valley = None, value
    span_s = (speaking[-1] - speaking[0] + 1) * hop / AUDIO_RATE
    return peaks / max(span_s, 0.5)
