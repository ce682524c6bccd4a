"""Find characters by their eyes, and measure how open their mouths are.

A face is two white, similarly sized, horizontally aligned blobs with dark pupils, one
eye-width-and-a-bit apart. Characters stand still, so faces are found on a dozen frames
spread over the clip and kept where they recur. From the eye pair come the head's centre
and radius, the mouth's box below, and the body's box (masked out of object detection:
shirts are saturated colours too). Mouth aperture per frame is the area of the dark red
inside of the mouth divided by the mouth's width, in units of the head radius.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

EYE_SPACING_R = 0.72  # distance between the eyes, in head radii
WALK_REACH_R = 1.2  # how far (head radii) a face may move between two sampled frames
MIN_RECURRENCE = 0.3  # a face must be seen in this share of the sampled frames


@dataclass(frozen=True)
class Face:
    x: float  # head centre, pixels at the reading's scale
    y: float
    radius: float

    def mouth_box(self) -> tuple[int, int, int, int]:
        r = self.radius
        return (
            int(self.x - 0.55 * r),
            int(self.y + 0.15 * r),
            int(self.x + 0.55 * r) + 1,
            int(self.y + 0.85 * r) + 1,
        )

    def body_box(self) -> tuple[int, int, int, int]:
        r = self.radius
        return (
            int(self.x - 1.3 * r),
            int(self.y - 1.4 * r),
            int(self.x + 1.3 * r) + 1,
            int(self.y + 5.1 * r) + 1,
        )


def find_faces(frames: np.ndarray, samples: int = 12) -> list[Face]:
    """Faces that recur across `samples` frames spread over the clip."""
    indices = np.linspace(0, len(frames) - 1, min(samples, len(frames))).astype(int)
    seen: list[list[Face]] = []
    for i in indices:
        for face in _faces_in(frames[i]):
            for group in seen:
                # The same face where it was last seen: a walking character moves along.
                if (
                    abs(group[-1].x - face.x) < WALK_REACH_R * face.radius
                    and abs(group[-1].y - face.y) < 0.3 * face.radius
                ):
                    group.append(face)
                    break
            else:
                seen.append([face])
    faces = []
    for group in seen:
        if len(group) >= max(1, MIN_RECURRENCE * len(indices)):
            faces.append(
                Face(
                    float(np.median([f.x for f in group])),
                    float(np.median([f.y for f in group])),
                    float(np.median([f.radius for f in group])),
                )
            )
    return sorted(faces, key=lambda f: f.x)


def _faces_in(frame: np.ndarray) -> list[Face]:
    hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)
    white = ((hsv[..., 2] >= 215) & (hsv[..., 1] <= 45)).astype(np.uint8)
    n, _labels, stats, centroids = cv2.connectedComponentsWithStats(white, connectivity=8)
    eyes = []
    for k in range(1, n):
        x, y, w, h, area = stats[k]
        if not 8 <= area <= 400 or not 0.9 <= w / max(h, 1) <= 2.4:
            continue
        # A pupil: something dark inside the eye's box.
        box = hsv[y : y + h, x : x + w, 2]
        if box.min() > 130:
            continue
        eyes.append((float(centroids[k][0]), float(centroids[k][1]), float(w)))
    faces = []
    used: set[int] = set()
    for i, (x1, y1, w1) in enumerate(eyes):
        for j in range(i + 1, len(eyes)):
            x2, y2, w2 = eyes[j]
            if i in used or j in used:
                continue
            distance = abs(x2 - x1)
            if (
                abs(y1 - y2) <= max(2.0, 0.25 * w1)
                and 0.7 <= w1 / w2 <= 1.4
                and 1.6 <= distance / ((w1 + w2) / 2) <= 3.4
            ):
                radius = distance / EYE_SPACING_R
                faces.append(Face((x1 + x2) / 2, (y1 + y2) / 2 + 0.05 * radius, radius))
                used.update((i, j))
    return faces


def mouth_apertures(frames: np.ndarray, face: Face) -> np.ndarray:
    """(T,) how open the mouth is, as the height of its dark inside over the head radius."""
    x0, y0, x1, y1 = face.mouth_box()
    region = frames[:, max(0, y0) : y1, max(0, x0) : x1].astype(np.int16)  # (T, h, w, 3)
    r, g, b = region[..., 0], region[..., 1], region[..., 2]
    inside = (r < 130) & (g < 40) & (b < 50) & (r > g + 35)
    mouth_width = 0.6 * face.radius
    return inside.sum(axis=(1, 2)) / mouth_width / face.radius
