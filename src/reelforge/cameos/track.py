"""Following the face through a take: one MTCNN track, plus whatever other faces show up.

1. A full detection (the whole frame, faces down to MIN_FACE_FRACTION of its width) on the
   first frame and then every FULL_EVERY_S seconds: it starts the track, and it is where a
   second face is seen.
2. In between, the face is looked for only around where it was: a square crop twice the
   last box's size, scaled so the face is about 48 px (what O-Net sees anyway). This makes
   a frame about ten times cheaper than a full detection.
3. The tracked face in each frame is the detection that overlaps the last one most; when
   nothing overlaps, the track has lost the face in that frame (and the next full
   detection starts again from the largest face).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from reelforge.cameos.faces import Face, detect_faces

FULL_EVERY_S = 1.0
MIN_FACE_FRACTION = 0.07  # of the frame's width: smaller faces fail face_quality anyway
# A second face counts when it is at least this fraction of the tracked face's width and
# the detector is sure of it.
OTHER_FACE_MIN_SIZE = 0.5
OTHER_FACE_MIN_SCORE = 0.95
_CROP_FACE_PX = 48


@dataclass(frozen=True)
class FaceTrack:
    faces: tuple[Face | None, ...]  # the tracked face in each analysed frame
    other_faces: tuple[int, ...]  # per frame: other faces seen (full detections only, else 0)
    jumps: tuple[int, ...]  # frames where the track restarted on a face away from the last

    def found(self) -> list[int]:
        return [i for i, face in enumerate(self.faces) if face is not None]

    def found_faces(self) -> list[tuple[int, Face]]:
        return [(i, face) for i, face in enumerate(self.faces) if face is not None]


def track_face(frames: np.ndarray, times_s: np.ndarray) -> FaceTrack:
    """The face in each of `frames` ((T, H, W, 3) uint8 RGB at `times_s`)."""
    width = frames.shape[2]
    min_face_px = max(12.0, MIN_FACE_FRACTION * width)
    faces: list[Face | None] = []
    others: list[int] = []
    jumps: list[int] = []
    last: Face | None = None
    next_full_s = 0.0
    for index, (rgb, time_s) in enumerate(zip(frames, times_s, strict=True)):
        face = None
        if last is not None and time_s < next_full_s:
            face = _best_match(_detect_near(rgb, last), last)
        if face is not None:
            others.append(0)
        else:  # time for a full look, or the face was lost near where it was
            candidates = detect_faces(rgb, min_face_px)
            next_full_s = time_s + FULL_EVERY_S
            face = _best_match(candidates, last)
            if face is None and candidates:
                face = _best_match(candidates, None)
                if last is not None:
                    jumps.append(index)
            others.append(_count_others(candidates, face))
        faces.append(face)
        if face is not None:
            last = face
    return FaceTrack(tuple(faces), tuple(others), tuple(jumps))


def _detect_near(rgb: np.ndarray, last: Face) -> list[Face]:
    height, width = rgb.shape[:2]
    side = 2.0 * max(last.width, last.height)
    cx, cy = last.centre
    x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    x1, y1 = int(min(width, cx + side / 2)), int(min(height, cy + side / 2))
    if x1 - x0 < 12 or y1 - y0 < 12:
        return []
    scale = min(1.0, _CROP_FACE_PX / max(last.width, last.height))
    crop = rgb[y0:y1, x0:x1]
    size = (max(12, round((x1 - x0) * scale)), max(12, round((y1 - y0) * scale)))
    small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    sx, sy = (x1 - x0) / size[0], (y1 - y0) / size[1]
    face_px = max(last.width, last.height) * scale  # the last face's size in `small`
    # Between two frames a face does not shrink or grow much: a narrow pyramid will do.
    found = detect_faces(small, min_face_px=max(12.0, 0.7 * face_px), max_face_px=1.5 * face_px)
    return [
        Face(
            box=(f.box[0] * sx + x0, f.box[1] * sy + y0, f.box[2] * sx + x0, f.box[3] * sy + y0),
            score=f.score,
            landmarks=f.landmarks * np.array([sx, sy]) + np.array([x0, y0]),
        )
        for f in found
    ]


def _best_match(candidates: list[Face], last: Face | None) -> Face | None:
    if not candidates:
        return None
    if last is None:
        return max(candidates, key=lambda f: f.width * f.height)
    best = max(candidates, key=lambda f: _iou(f.box, last.box))
    return best if _iou(best.box, last.box) > 0.2 else None


def _count_others(candidates: list[Face], face: Face | None) -> int:
    if face is None:
        return 0
    return sum(
        1
        for other in candidates
        if other is not face
        and other.score >= OTHER_FACE_MIN_SCORE
        and other.width >= OTHER_FACE_MIN_SIZE * face.width
        and _iou(other.box, face.box) < 0.3
    )


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    inter_w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    inter_h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = inter_w * inter_h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
