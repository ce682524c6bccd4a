"""Find, classify and track objects in decoded frames with classical computer vision.

The visual world is known: objects are strongly saturated colours from a fixed palette,
scenery is desaturated or large, and characters are found by their eyes (characters.py)
and masked out. Per frame:

1. HSV; pixels with saturation ≥ MIN_SATURATION and value ≥ MIN_VALUE are "chromatic",
   and each gets the palette colour whose hue is nearest.
2. Connected regions of one colour, between MIN_AREA and MAX_AREA_FRACTION of the frame,
   not spanning a frame edge (sky, sea and grass bands do).
3. Shape from the region's contour: circle (ball), square (box), triangle, a long thin
   bar (plank, over 4:1) or a shorter one with round ends (capsule).
Tracks join detections of the same colour and kind frame to frame by nearest centre.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from reelforge.recaption.vocabulary import COLORS

# OpenCV hue (0..179) of the chromatic palette colours (vocabulary.COLORS).
PALETTE_HUES: dict[str, int] = {
    "red": 0,
    "orange": 14,
    "yellow": 25,
    "green": 66,
    "cyan": 93,
    "blue": 111,
    "purple": 139,
    "pink": 165,
}
MIN_VALUE = 60
# A pixel counts for a colour only if it is at least this share as saturated as the
# colour itself: shading and highlights keep most of it, while scenery of a similar hue
# (a wooden floor is a dull orange) does not.
SATURATION_SHARE = 0.78
MIN_AREA = 24  # pixels at the reading's scale
MAX_GAP = 6  # frames a track may go unseen and still be continued
# Regions a frame may hold before only its largest are tracked: the suites ask for at
# most 12 objects, and a busy everyday scene holds a few dozen coloured parts.
MAX_DETECTIONS = 64
MAX_AREA_FRACTION = 0.05

_NAMES = list(PALETTE_HUES)


def _saturation(rgb: tuple[int, int, int]) -> float:
    return 1.0 - min(rgb) / max(rgb)


_min_saturation = np.array(
    [max(0.4, SATURATION_SHARE * _saturation(COLORS[name])) * 255 for name in _NAMES], np.uint8
)
# Lookup table hue → index of the nearest palette colour (hue is circular).
_hue_to_color = np.array(
    [
        int(np.argmin([min(abs(h - c), 180 - abs(h - c)) for c in PALETTE_HUES.values()]))
        for h in range(180)
    ],
    np.uint8,
)


@dataclass(frozen=True)
class Detection:
    color: str
    kind: str  # ball, box, triangle, capsule, plank
    x: float  # centre, pixels at the reading's scale
    y: float
    area: float
    size: float  # the longest side of the minimum-area rectangle, pixels


@dataclass
class Track:
    color: str
    kind: str
    xy: np.ndarray  # (T, 2) centre per frame, NaN where not seen
    kinds: list[str] = field(default_factory=list)

    @property
    def frames_seen(self) -> int:
        return int(np.isfinite(self.xy[:, 0]).sum())


def detect(
    frame: np.ndarray, exclude: list[tuple[int, int, int, int]] | None = None
) -> list[Detection]:
    """Objects in one RGB frame; `exclude` holds (x0, y0, x1, y1) boxes to ignore."""
    hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)
    colors = _hue_to_color[hsv[..., 0]]
    chromatic = (hsv[..., 1] >= _min_saturation[colors]) & (hsv[..., 2] >= MIN_VALUE)
    for x0, y0, x1, y1 in exclude or []:
        chromatic[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)] = False
    height, width = chromatic.shape
    max_area = MAX_AREA_FRACTION * height * width
    found: list[Detection] = []
    for index in np.unique(colors[chromatic]):
        mask = (chromatic & (colors == index)).astype(np.uint8)
        # Work inside the colour's bounding box: most colours cover a small part of the frame.
        bx, by, bw, bh = cv2.boundingRect(mask)
        if (bx == 0 and bw >= width) or (by == 0 and bh >= height):
            bx, by, bw, bh = 0, 0, width, height  # spans the frame: judge each region
        crop = cv2.morphologyEx(
            mask[by : by + bh, bx : bx + bw], cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)
        )
        n, labels, stats, centroids = cv2.connectedComponentsWithStats(crop, connectivity=8)
        for k in range(1, n):
            x, y, w, h, area = stats[k]
            if area < MIN_AREA or area > max_area:
                continue
            x0, y0 = x + bx, y + by
            if (x0 == 0 and x0 + w >= width) or (y0 == 0 and y0 + h >= height):
                continue  # a band across the frame: scenery
            region = (labels[y : y + h, x : x + w] == k).astype(np.uint8)
            kind, size = classify_shape(region)
            found.append(
                Detection(
                    _NAMES[int(index)],
                    kind,
                    float(centroids[k][0] + bx),
                    float(centroids[k][1] + by),
                    float(area),
                    size,
                )
            )
    return found


def classify_shape(region: np.ndarray) -> tuple[str, float]:
    """Kind of a filled binary region, and its longest side in pixels."""
    contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contour = max(contours, key=cv2.contourArea)
    hull = cv2.convexHull(contour)
    area = max(cv2.contourArea(hull), 1.0)
    perimeter = max(cv2.arcLength(hull, True), 1.0)
    (_, _), (w, h), _ = cv2.minAreaRect(hull)
    long_side, short_side = max(w, h, 1.0), max(min(w, h), 1.0)
    elongation = long_side / short_side
    circularity = 4 * np.pi * area / perimeter**2
    triangle_area = cv2.minEnclosingTriangle(hull)[0]
    # Planks are about 10:1 (6:1 once antialiased at half size), capsules 2.5:1.
    if elongation > 4.0:
        return "plank", float(long_side)
    if elongation > 1.7:
        return "capsule", float(long_side)
    if triangle_area > 0 and area / triangle_area > 0.88:
        return "triangle", float(long_side)
    if circularity > 0.86:
        return "ball", float(long_side)
    return "box", float(long_side)


def track(per_frame: list[list[Detection]], max_jump: float) -> list[Track]:
    """Link detections of the same colour into tracks by nearest centre (greedy). Only
    tracks seen in the last MAX_GAP frames are candidates, and a frame holds at most
    MAX_DETECTIONS (its largest): decoded noise makes thousands of regions a frame, which
    linked all against all took minutes a clip."""
    frame_count = len(per_frame)
    tracks: list[Track] = []
    last_seen: list[int] = []
    live: list[int] = []  # indices of the tracks seen in the last MAX_GAP frames
    for t, detections in enumerate(per_frame):
        if len(detections) > MAX_DETECTIONS:
            detections = sorted(detections, key=lambda d: -d.area)[:MAX_DETECTIONS]
        live = [i for i in live if t - last_seen[i] <= MAX_GAP]
        taken: set[int] = set()
        pairs = []
        for d_index, detection in enumerate(detections):
            for t_index in live:
                candidate = tracks[t_index]
                if candidate.color != detection.color:
                    continue
                previous = candidate.xy[last_seen[t_index]]
                distance = float(np.hypot(*(previous - (detection.x, detection.y))))
                if distance <= max_jump * (t - last_seen[t_index]):
                    pairs.append((distance, d_index, t_index))
        assigned: set[int] = set()
        for _, d_index, t_index in sorted(pairs):
            if d_index in assigned or t_index in taken:
                continue
            assigned.add(d_index)
            taken.add(t_index)
            tracks[t_index].xy[t] = (detections[d_index].x, detections[d_index].y)
            tracks[t_index].kinds.append(detections[d_index].kind)
            last_seen[t_index] = t
        for d_index, detection in enumerate(detections):
            if d_index in assigned:
                continue
            xy = np.full((frame_count, 2), np.nan)
            xy[t] = (detection.x, detection.y)
            tracks.append(Track(detection.color, detection.kind, xy, [detection.kind]))
            last_seen.append(t)
            live.append(len(tracks) - 1)
    for item in tracks:  # the kind is the one seen most often
        item.kind = max(set(item.kinds), key=item.kinds.count)
    return tracks
