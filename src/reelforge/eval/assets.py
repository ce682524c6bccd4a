"""Find drawings of the asset library in decoded frames, by their appearance alone.

The judge knows the drawing library, as it knows the colour palette: for each drawing a
suite row accepts, it renders the SVG and looks for it in the clip's sampled frames, at any
height, angle and facing. It never reads what the engine planned.

1. Poses. The drawing (recoloured as `raster.recolor` does when the row states a colour)
   is rendered upright at each height; its edge points (with their gradient's direction),
   flat points (inside its flat areas), colour points and colour samples are then turned
   and mirrored into every pose. Heights and angles lie on a fine grid (2^(1/12), 7.5°);
   the search's bank takes every 4th of each (2^(1/3), 30°), in both facings.
2. Search, LINE-2D style (Hinterstoisser et al., PAMI 2012), at the pyramid level where a
   pose is 10-20 px tall: gradient orientations quantised to 8 bins modulo 180° (blind to
   which side of an outline is lighter) and spread over 3x3 px. A pose scores the share of
   its edge points that find their orientation (half for the next bin), times the share
   of its flat points that find no edge (clutter has edges everywhere; a flat-coloured
   drawing has none inside its areas), times the share of its colour points whose pixel
   may be their palette colour under some light. Every pose of the bank is scored on
   DISCOVERY_FRAMES frames spread over the clip, placed side by side in one image.
3. Check, where a pose is 40-80 px tall: the candidate's place, angle and facing, height,
   then all three finely, refined by the same edge score; kept when the edges fit
   (MIN_EDGES) and its colour samples have the drawing's colours (CIELAB, after one
   lightness-and-tint offset for the scene's light; MIN_LOOK). A candidate whose fit ends
   poor is tried again with every angle and facing: the search's angle is often wrong for
   a roundish drawing, and its place with it.
4. Follow. Each instance found is followed frame by frame, forward and back, from where
   its motion so far puts it (a check of its last pose there); when lost, the frame is
   searched at its height and every angle, and other instances seen there are followed
   in turn.
5. Tracks and counts. Detections are linked per drawing by nearest (predicted) neighbour.
   A track counts when a quarter of its sightings fit with no spread at all (a cat's
   outline fits a dog within a pixel, but seldom exactly) and its median edge score is
   high. A thing's count is the most instances seen at once on COUNT_SUSTAIN sampled
   frames in a row.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from reelforge.assets import raster
from reelforge.assets.catalogue import Asset

RGB = tuple[int, int, int]

# -- parameters ---------------------------------------------------------------------------
# Sizes. Frame px are those of the frames searched: a 720x1280 clip read at half size.
MIN_HEIGHT_PX = 20.0  # the smallest drawing looked for (40 px of the video)
MAX_HEIGHT_FRACTION = 0.6  # the tallest, as a share of the frame's height
SEARCH_HEIGHT_PX = 10.0  # a pose is searched where it is 10-20 px tall (taller at the top)
CHECK_HEIGHT_PX = 40.0  # and checked where it is 40-80 px tall (shorter at level 0)
TOP_LEVEL = 3  # the pyramid's coarsest level: frames 8x smaller
# 1. Poses: the fine grid (FINE_*) and the search's bank (every BANK_* of it).
FINE_STEPS_PER_OCTAVE = 12
FINE_ANGLE_DEG = 7.5
BANK_HEIGHT_EVERY = 4
BANK_ANGLE_EVERY = 4  # 30°
SEARCH_EDGE_POINTS = 24
SEARCH_FLAT_POINTS = 8
SEARCH_COLOUR_POINTS = 12
CHECK_EDGE_POINTS = 64
CHECK_FLAT_POINTS = 24
COLOUR_SAMPLES = 300
PALETTE_COLOURS = 6
# 2. Search.
BINS = 8  # gradient orientations modulo 180°
SEARCH_SPREAD = 3  # px at a level: how far an edge may be from where a pose expects it
CHECK_SPREAD = 3
NEIGHBOUR_CREDIT = 0.5  # an edge in the neighbouring orientation bin
EDGE_LEVELS = 40.0  # Sobel magnitude (of 0..255 colour) that counts as an edge
# px at a search level between the places a pose is scored at: every third pixel where the
# level is largest, every pixel at the top, where a drawing is a few pixels across.
STRIDES = {1: 3, 2: 2, 3: 1}
PAD = 72  # px around a search level's maps, more than any pose's radius there
# A colour point matches a pixel whose chroma is near its colour's and whose lightness is
# anything from much darker (night) to a little lighter (OpenCV's 8-bit CIELAB).
SEARCH_CHROMA = 22.0
SEARCH_DARKER = 90.0
SEARCH_LIGHTER = 35.0
DISCOVERY_FRAMES = 4  # sampled frames, spread over the clip, searched with every pose
MOSAIC_GAP = 64  # px between the discovery frames searched side by side (a multiple of 8)
PROPOSE = 0.62  # search score a candidate needs
CANDIDATES_PER_FRAME = 6  # best places (and heights) the search hands to the check ...
DISCOVERY_CANDIDATES = 16  # ... on a discovery frame
# 3. Check.
CHECK_REACH = 0.3  # of the candidate's height: how far from it the check looks
EARLY_EDGES = 0.35  # edge score at the candidate's pose to go on refining it
SWEEP_BELOW = 0.85  # a refined fit below this is tried again with every angle
MIN_EDGES = 0.7  # the refined fit's edge score
MIN_EDGES_SMALL = 0.85  # ... for a pose under CHECK_HEIGHT_PX, whose few edges fit more
# Colours in OpenCV's 8-bit CIELAB (L scaled to 0..255): ΔE here is about 2.5x CIELAB's
# in lightness and 1x in colour.
COLOUR_DE = 24.0
MIN_LOOK = 0.7  # share of the colour samples with the drawing's colour
# 4. Follow.
FOLLOW_REACH = 0.25  # of a thing's height: how far it is looked for around where it should be
FOLLOW_MISSES = 2  # sampled frames a followed thing may be missed before it is let go
# 5. Tracks and counts.
MAX_JUMP_HEIGHTS = 1.5  # a detection links to a track within this many drawing heights
MAX_JUMP_FRACTION = 0.12  # ... or this share of the frame's larger side, whichever is more
MAX_GAP = 3  # sampled frames a track may miss
CLEAR_SIGHTING = 0.5  # a quarter of a track's sightings fit this well with no spread ...
TRACK_EDGES = 0.78  # ... and their median edge score is this high
COUNT_SUSTAIN = 2  # sampled frames in a row a count must hold


# -- results ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Detection:
    """One drawing found in one frame. Positions and heights are pixels of the original
    video; the angle is the drawing's counter-clockwise rotation, as drawn (before
    mirroring) facing its own way; `mirrored` means it faces the other way."""

    asset_id: str
    frame: int  # index into the clip's frames
    x_px: float  # centre of the drawing's ink box
    y_px: float
    height_px: float
    width_px: float  # of the ink box, unturned
    angle_deg: float
    mirrored: bool
    score: float  # edges x look
    look: float  # share of the colour samples with the drawing's colour
    edges: float  # the edge score where the pose is CHECK_HEIGHT_PX tall
    clear: float  # ... with no spread: how clearly it is this drawing (see CLEAR_SIGHTING)


@dataclass
class AssetTrack:
    """One instance of an asset followed through the clip (sampled frames)."""

    asset_id: str
    detections: list[Detection] = field(default_factory=list)

    @property
    def frames(self) -> np.ndarray:
        return np.array([d.frame for d in self.detections])

    @property
    def xy(self) -> np.ndarray:
        """(N, 2) centres in original pixels."""
        return np.array([(d.x_px, d.y_px) for d in self.detections]).reshape(-1, 2)

    @property
    def heights(self) -> np.ndarray:
        return np.array([d.height_px for d in self.detections])

    @property
    def widths(self) -> np.ndarray:
        return np.array([d.width_px for d in self.detections])

    @property
    def angles_deg(self) -> np.ndarray:
        """Rotation per detection (counter-clockwise, of the drawing as placed, mirrored or
        not), unwrapped so that a spin keeps adding up; good to about ±4° (the check's
        angle step is 7.5°)."""
        return np.degrees(np.unwrap(np.radians([d.angle_deg for d in self.detections])))


@dataclass
class ThingFound:
    """What the search found for one expected thing (a suite row's noun)."""

    noun: str
    asset_ids: tuple[str, ...]  # acceptable drawings
    count: int  # the most instances seen at once (sustained)
    tracks: list[AssetTrack]
    frames_seen: int  # sampled frames with at least one detection
    frames_searched: int
    best_score: float
    best_asset: str | None

    @property
    def found(self) -> bool:
        return self.count > 0

    def main_track(self) -> AssetTrack | None:
        """The track seen on the most frames."""
        return max(self.tracks, key=lambda t: len(t.detections), default=None)

    def to_dict(self) -> dict[str, object]:
        return {
            "noun": self.noun,
            "count": self.count,
            "frames_seen": self.frames_seen,
            "frames_searched": self.frames_searched,
            "best_score": round(self.best_score, 3),
            "asset": self.best_asset,
            "tracks": [
                {
                    "asset": t.asset_id,
                    "frames": [int(f) for f in t.frames],
                    "xy_px": [[round(float(v), 1) for v in p] for p in t.xy],
                    "height_px": round(float(np.median(t.heights)), 1),
                }
                for t in self.tracks
            ],
        }


@dataclass(frozen=True)
class ThingQuery:
    """A thing to look for: any of `assets`, in any of `colours` (None: as drawn; a colour:
    recoloured as `raster.recolor` does)."""

    noun: str
    assets: tuple[Asset, ...]
    colours: tuple[RGB | None, ...] = (None,)


# -- The search over a clip ------------------------------------------------------------------
def find_things(
    frames: np.ndarray,
    queries: Sequence[ThingQuery],
    *,
    scale: float = 1.0,
    frame_stride: int = 3,
) -> list[ThingFound]:
    """Search `frames` ((T, H, W, 3) uint8 RGB; `scale` px of the video per frame px)
    every `frame_stride` frames for each query's drawings, in each of its colours."""
    indices = list(range(0, len(frames), frame_stride))
    maps = [FrameMaps(frames[i], i) for i in indices]
    discovery = _Discovery(maps)
    bank = bank_steps(frames.shape[1])
    frame_size = max(frames.shape[1], frames.shape[2]) * scale
    results = []
    for query in queries:
        # 1-4. Each drawing in each colour: discovered, checked and followed.
        detections: list[Detection] = []
        for asset in query.assets:
            for rgb in query.colours:
                detections += _search_asset(maps, discovery, asset, rgb, bank, scale)
        # 5. Tracks that count, and how many of the thing are seen at once.
        tracks = [t for t in link_tracks(detections, frame_size) if _counts(t)]
        kept = [d for t in tracks for d in t.detections]
        per_frame = _instances_per_frame(kept, indices)
        best = max(kept, key=lambda d: d.score, default=None)
        results.append(
            ThingFound(
                noun=query.noun,
                asset_ids=tuple(a.id for a in query.assets),
                count=sustained_count(per_frame),
                tracks=tracks,
                frames_seen=sum(1 for n in per_frame if n),
                frames_searched=len(indices),
                best_score=best.score if best else 0.0,
                best_asset=best.asset_id if best else None,
            )
        )
    return results


class _Discovery:
    """The discovery frames (DISCOVERY_FRAMES spread over the clip) side by side in one
    image, so that each pose of the bank is scored on all of them at once. Frames are
    MOSAIC_GAP px apart, the gap filled by repeating each frame's edge pixels (no edge of
    its own there); a pose near a frame's edge sees the gap, not padding."""

    def __init__(self, maps: Sequence[FrameMaps]):
        spacing = len(maps) / DISCOVERY_FRAMES
        self.frames = sorted(
            {min(len(maps) - 1, int(spacing * (k + 0.5))) for k in range(DISCOVERY_FRAMES)}
        )
        image = maps[0].image(0)
        self.width = image.shape[1]
        padded = [
            cv2.copyMakeBorder(maps[k].image(0), 0, 0, 0, MOSAIC_GAP, cv2.BORDER_REPLICATE)
            for k in self.frames
        ]
        self.maps = FrameMaps(np.ascontiguousarray(np.concatenate(padded, axis=1)), -1)

    def split(self, candidates: Sequence[_Candidate]) -> dict[int, list[_Candidate]]:
        """Candidates of the mosaic, per sampled frame, in frame coordinates."""
        per_frame: dict[int, list[_Candidate]] = {k: [] for k in self.frames}
        for c in candidates:
            slot, x = divmod(c.x, self.width + MOSAIC_GAP)
            if x < self.width:
                per_frame[self.frames[int(slot)]].append(dataclasses.replace(c, x=x))
        return per_frame


def _search_asset(
    maps: Sequence[FrameMaps],
    discovery: _Discovery,
    asset: Asset,
    rgb: RGB | None,
    bank: Sequence[int],
    scale: float,
) -> list[Detection]:
    """Every sighting of one drawing in one colour, over the sampled frames."""
    # 1. Discovery frames: every pose of the bank, on all of them at once.
    limit = DISCOVERY_CANDIDATES * len(discovery.frames)
    candidates = _candidates(discovery.maps, asset, rgb, bank, BANK_TURNS, limit)
    detections: dict[int, list[Detection]] = {
        k: _checked(maps[k], asset, rgb, found[:DISCOVERY_CANDIDATES], scale)
        for k, found in discovery.split(candidates).items()
    }
    # 2. The other frames: each instance found is followed forward and back, frame by
    # frame, until it is lost or meets a sighting already there; another instance seen on
    # the way is followed in turn.
    to_follow = [(k, d) for k in discovery.frames for d in detections[k]]
    while to_follow:
        k, detection = to_follow.pop(0)
        for direction in (1, -1):
            others = _follow(maps, asset, rgb, detection, k, direction, detections, scale)
            to_follow += [(_slot(maps, d.frame), d) for d in others]
    return [d for k in sorted(detections) for d in detections[k]]


def _slot(maps: Sequence[FrameMaps], frame: int) -> int:
    """The sampled frame whose index into the clip is `frame`."""
    return next(k for k, m in enumerate(maps) if m.index == frame)


# -- 1. Poses ------------------------------------------------------------------------------
DRAWING_PX = 256  # the drawing is rendered this tall once and resized from there
_lock = threading.Lock()


@functools.lru_cache(maxsize=256)
def _drawing(asset: Asset, rgb: RGB | None) -> tuple[np.ndarray, ...]:
    """(h, w, 4) float32 premultiplied RGBA of the ink box, DRAWING_PX tall, then halved
    and halved again (down to 16 px): poses are resized from the nearest."""
    probe = raster.render_rgba(asset, 128)
    x0, y0, x1, y1 = raster.ink_box(probe[..., 3])
    full = max(8, round(128 * DRAWING_PX / max(1, y1 - y0)))
    rgba = raster.render_rgba(asset, full)
    x0, y0, x1, y1 = raster.ink_box(rgba[..., 3])
    rgba = rgba[y0:y1, x0:x1]
    if rgb is not None:
        rgba = raster.recolor(rgba, rgb)
    out = rgba.astype(np.float32)
    out[..., :3] *= out[..., 3:4] / 255.0
    halvings: list[np.ndarray] = [out]
    while halvings[-1].shape[0] >= 32:
        h, w = halvings[-1].shape[:2]
        halvings.append(cv2.resize(halvings[-1], (max(2, w // 2), h // 2),
                                   interpolation=cv2.INTER_AREA))  # fmt: skip
    return tuple(halvings)


# Colours are looked up by their RGB quantised to 5 bits a channel.
_QUANT = 8
_BIN_RGB = np.stack(np.meshgrid(*[np.arange(32)] * 3, indexing="ij"), axis=-1) * _QUANT
# (32768, 3) CIELAB of each bin's centre; bin index r*1024 + g*32 + b.
_BIN_LAB = cv2.cvtColor(
    (_BIN_RGB.reshape(1, -1, 3) + _QUANT // 2).astype(np.uint8), cv2.COLOR_RGB2LAB
)[0].astype(np.float32)


@functools.lru_cache(maxsize=256)
def _palette(asset: Asset, rgb: RGB | None) -> np.ndarray:
    """(K, 3) the drawing's main colours (CIELAB, k-means of its opaque pixels)."""
    with _lock:
        halvings = _drawing(asset, rgb)
    small = next((d for d in reversed(halvings) if d.shape[0] >= 48), halvings[0])
    alpha = small[..., 3]
    opaque = small[alpha > 250]
    if not len(opaque):  # a drawing all antialiased edge: its colours, as they are
        opaque = small[alpha > 0]
    straight = np.clip(opaque[:, :3] / (opaque[:, 3:] / 255.0), 0, 255).astype(np.uint8)
    lab = cv2.cvtColor(straight[None], cv2.COLOR_RGB2LAB)[0].astype(np.float32)
    k = min(PALETTE_COLOURS, len(np.unique(straight, axis=0)))
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 1.0)
    labels = np.zeros((len(lab), 1), np.int32)  # unused: the centres start k-means++
    _, _, centres = cv2.kmeans(lab, k, labels, criteria, 2, cv2.KMEANS_PP_CENTERS)
    return np.asarray(centres, np.float32)


@functools.lru_cache(maxsize=256)
def _palette_lut(asset: Asset, rgb: RGB | None) -> np.ndarray:
    """(K, 32768) float32: 1 where a quantised colour can be palette colour k under some
    light (its chroma near, its lightness anywhere from much darker to a little lighter)."""
    palette = _palette(asset, rgb)
    chroma = np.sqrt(((_BIN_LAB[None, :, 1:] - palette[:, None, 1:]) ** 2).sum(axis=2))
    lightness = _BIN_LAB[None, :, 0] - palette[:, None, 0]
    near = (chroma < SEARCH_CHROMA) & (lightness > -SEARCH_DARKER) & (lightness < SEARCH_LIGHTER)
    return near.astype(np.float32)


def _posed(
    asset: Asset, rgb: RGB | None, height: float, angle: float, mirrored: bool
) -> np.ndarray:
    """Premultiplied RGBA of the drawing `height` px tall, mirrored, then rotated
    counter-clockwise by `angle` degrees, on a square canvas (even side) centred on the
    ink box's centre, as the sim places a sprite."""
    with _lock:
        halvings = _drawing(asset, rgb)
    # Resize from the smallest halving at least twice as tall.
    drawing = next((d for d in reversed(halvings) if d.shape[0] >= 2 * height), halvings[0])
    h0, w0 = drawing.shape[:2]
    scale = height / h0
    w, h = max(2, round(w0 * scale)), max(2, round(h0 * scale))
    small = cv2.resize(drawing, (w, h), interpolation=cv2.INTER_AREA)
    if mirrored:
        small = np.ascontiguousarray(small[:, ::-1])
    side = math.ceil(math.hypot(w, h)) + 6
    side += side % 2
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    matrix[:, 2] += (side / 2 - w / 2, side / 2 - h / 2)
    return cv2.warpAffine(small, matrix, (side, side), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))  # fmt: skip


def _gradients(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(magnitude, orientation bin) of the strongest channel's gradient at each pixel of a
    float32 (H, W, C) image."""
    gx = cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=3)
    if gx.ndim == 2:
        gx, gy = gx[..., None], gy[..., None]
    energy = gx * gx + gy * gy
    best_gx, best_gy, best = gx[..., 0], gy[..., 0], energy[..., 0]
    for c in range(1, gx.shape[2]):
        stronger = energy[..., c] > best
        best_gx = np.where(stronger, gx[..., c], best_gx)
        best_gy = np.where(stronger, gy[..., c], best_gy)
        best = np.maximum(best, energy[..., c])
    degrees = cv2.phase(np.ascontiguousarray(best_gx), np.ascontiguousarray(best_gy),
                        angleInDegrees=True)  # fmt: skip
    bins = (degrees * (BINS / 180.0)).astype(np.int32) % BINS  # modulo 180°
    return np.sqrt(best), bins


def _spread_points(points: np.ndarray, n: int) -> np.ndarray:
    """About `n` of `points` ((K, 2), in priority order), spread out: the first in each cell
    of a grid sized for n cells over their bounding box."""
    if len(points) <= n:
        return points
    span = points.max(axis=0) - points.min(axis=0) + 1
    cell = max(1.0, math.sqrt(float(span[0] * span[1]) / n))
    keys = np.floor((points - points.min(axis=0)) / cell).astype(np.int64)
    _, first = np.unique(keys[:, 0] * 100_003 + keys[:, 1], return_index=True)
    return points[np.sort(first)][:n]


@dataclass(frozen=True)
class EdgeModel:
    """A pose's points at one pyramid level, relative to its centre: edge points with their
    orientation bin, flat points (inside a flat area of the drawing: no edge there), and
    colour points with the palette colour they should have."""

    edge_dx: np.ndarray
    edge_dy: np.ndarray
    edge_bin: np.ndarray
    flat_dx: np.ndarray
    flat_dy: np.ndarray
    colour_dx: np.ndarray
    colour_dy: np.ndarray
    colour_k: np.ndarray


@dataclass(frozen=True)
class Look:
    """A sample of a pose's colours away from any edge, relative to its centre."""

    dx: np.ndarray  # (N,)
    dy: np.ndarray
    lab: np.ndarray  # (N, 3) float32, OpenCV's 8-bit CIELAB


@dataclass(frozen=True)
class _Upright:
    """The drawing at one size, upright and facing as drawn: its points in px from its
    centre (x right, y down), from which every angle and facing is made by moving them
    (rendering each pose would cost 20x more, and the points are what the search uses)."""

    edge_xy: np.ndarray  # (E, 2) float
    edge_gradient: np.ndarray  # (E, 2) the gradient's direction there
    flat_xy: np.ndarray  # (F, 2)
    colour_xy: np.ndarray  # (C, 2)
    colour_k: np.ndarray  # (C,) index into the drawing's palette
    look_xy: np.ndarray  # (N, 2)
    look_lab: np.ndarray  # (N, 3)


@functools.lru_cache(maxsize=2048)
def _upright(asset: Asset, rgb: RGB | None, size: float, edges: int, flats: int) -> _Upright:
    posed = _posed(asset, rgb, size, 0.0, False)
    alpha = posed[..., 3]
    gx = cv2.Sobel(posed, cv2.CV_32F, 1, 0, ksize=3)  # alpha is a channel: outlines are edges
    gy = cv2.Sobel(posed, cv2.CV_32F, 0, 1, ksize=3)
    strongest_channel = (gx * gx + gy * gy).argmax(axis=2)[..., None]
    gx = np.take_along_axis(gx, strongest_channel, 2)[..., 0]
    gy = np.take_along_axis(gy, strongest_channel, 2)[..., 0]
    magnitude = np.sqrt(gx * gx + gy * gy)
    strongest = float(magnitude.max()) or 1.0
    centre = posed.shape[0] / 2
    rng = np.random.default_rng(0)
    # Edge points: the strongest gradients, spread out.
    points = np.argwhere(magnitude > 0.3 * strongest)
    points = points[np.argsort(-magnitude[points[:, 0], points[:, 1]], kind="stable")]
    points = _spread_points(points, edges)
    gradient = np.stack([gx[points[:, 0], points[:, 1]], gy[points[:, 0], points[:, 1]]], axis=1)
    gradient = gradient / np.maximum(np.linalg.norm(gradient, axis=1, keepdims=True), 1e-6)
    # Flat points: opaque, 2 px from any edge.
    near_edge = cv2.dilate((magnitude > 0.12 * strongest).astype(np.uint8), np.ones((5, 5)))
    flat = np.argwhere((alpha > 250) & (near_edge == 0))
    flat = _spread_points(flat[rng.permutation(len(flat))], flats)
    # Colour points: opaque, off the edges, with the palette colour nearest their own.
    straight = np.clip(posed[..., :3] / np.maximum(alpha[..., None] / 255.0, 1e-3), 0, 255)
    lab = cv2.cvtColor(straight.astype(np.uint8), cv2.COLOR_RGB2LAB).astype(np.float32)
    inner = np.argwhere((alpha > 250) & (magnitude < 0.3 * strongest))
    inner = _spread_points(inner[rng.permutation(len(inner))], SEARCH_COLOUR_POINTS)
    palette = _palette(asset, rgb)
    nearest = ((lab[inner[:, 0], inner[:, 1]][:, None] - palette[None]) ** 2).sum(axis=2)
    # Colour samples for the check: 2 px inside the outline and 1 px from any edge inside
    # (antialiasing, and the video's half-resolution colour, blur both).
    thin_edge = cv2.dilate((magnitude > 0.12 * strongest).astype(np.uint8), np.ones((3, 3)))
    inside = cv2.erode((alpha > 127).astype(np.uint8), np.ones((5, 5), np.uint8))
    usable = (inside > 0) & (alpha > 250) & (thin_edge == 0)
    if usable.sum() < 12:
        usable = alpha > 250
    samples = np.argwhere(usable)
    if len(samples) > COLOUR_SAMPLES:
        samples = samples[np.sort(rng.choice(len(samples), COLOUR_SAMPLES, replace=False))]

    def xy(yx: np.ndarray) -> np.ndarray:
        return yx[:, ::-1].astype(np.float64) - centre

    return _Upright(
        xy(points), gradient, xy(flat), xy(inner),
        nearest.argmin(axis=1).astype(np.int32) if len(inner) else np.zeros(0, np.int32),
        xy(samples), lab[samples[:, 0], samples[:, 1]],
    )  # fmt: skip


def _turned(xy: np.ndarray, angle: float, mirrored: bool) -> np.ndarray:
    """Points (x right, y down) mirrored, then turned counter-clockwise (as seen) by
    `angle` degrees, as `_posed` places the drawing."""
    x, y = (-xy[:, 0] if mirrored else xy[:, 0]), xy[:, 1]
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    return np.stack([c * x + s * y, -s * x + c * y], axis=1)


def _model(upright: _Upright, angle: float, mirrored: bool) -> EdgeModel:
    edge = np.round(_turned(upright.edge_xy, angle, mirrored)).astype(np.int32)
    gradient = _turned(upright.edge_gradient, angle, mirrored)
    degrees = np.degrees(np.arctan2(gradient[:, 1], gradient[:, 0])) % 180.0
    bins = (degrees * (BINS / 180.0)).astype(np.int32) % BINS
    flat = np.round(_turned(upright.flat_xy, angle, mirrored)).astype(np.int32)
    colour = np.round(_turned(upright.colour_xy, angle, mirrored)).astype(np.int32)
    return EdgeModel(
        edge[:, 0], edge[:, 1], bins, flat[:, 0], flat[:, 1], colour[:, 0], colour[:, 1],
        upright.colour_k,
    )  # fmt: skip


def search_level(height: float) -> int:
    """The pyramid level (2**level times smaller than the frame) at which a pose `height`
    frame px tall is searched: where it is SEARCH_HEIGHT_PX..2x tall (taller at the top)."""
    level = math.floor(math.log2(max(height, 1.0) / SEARCH_HEIGHT_PX))
    return min(max(level, 1), TOP_LEVEL)


def check_level(height: float) -> int:
    """The level at which it is checked: where it is CHECK_HEIGHT_PX..2x tall (shorter at
    level 0), always finer than its search level."""
    level = math.floor(math.log2(max(height, 1.0) / CHECK_HEIGHT_PX))
    return min(max(level, 0), search_level(height) - 1)


def _height(step: int) -> float:
    """Height (frame px) of the fine grid's height `step`."""
    return MIN_HEIGHT_PX * 2 ** (step / FINE_STEPS_PER_OCTAVE)


@functools.lru_cache(maxsize=16384)
def _search_model(asset: Asset, rgb: RGB | None, step: int, turn: int, mirrored: bool) -> EdgeModel:
    """Search points of the pose (height step, angle turn), at its search level."""
    height = _height(step)
    size = height / 2 ** search_level(height)
    upright = _upright(asset, rgb, size, SEARCH_EDGE_POINTS, SEARCH_FLAT_POINTS)
    return _model(upright, turn * FINE_ANGLE_DEG, mirrored)


def _check_upright(asset: Asset, rgb: RGB | None, step: int) -> _Upright:
    """The upright drawing at the height step's check level (both the edge model and the
    colour look of a pose start from it)."""
    height = _height(step)
    size = height / 2 ** check_level(height)
    return _upright(asset, rgb, size, CHECK_EDGE_POINTS, CHECK_FLAT_POINTS)


@functools.lru_cache(maxsize=16384)
def _check_model(asset: Asset, rgb: RGB | None, step: int, turn: int, mirrored: bool) -> EdgeModel:
    """Edge points of the pose (height step, angle turn), at its check level."""
    return _model(_check_upright(asset, rgb, step), turn * FINE_ANGLE_DEG, mirrored)


@functools.lru_cache(maxsize=4096)
def _look_of(asset: Asset, rgb: RGB | None, step: int, turn: int, mirrored: bool) -> Look:
    """Colours of the pose (height step, angle turn), at its check level."""
    upright = _check_upright(asset, rgb, step)
    xy = np.round(_turned(upright.look_xy, turn * FINE_ANGLE_DEG, mirrored)).astype(np.int32)
    return Look(xy[:, 0], xy[:, 1], upright.look_lab)


def _aspect(asset: Asset, rgb: RGB | None) -> float:
    """Width / height of the drawing's ink box."""
    with _lock:
        h0, w0 = _drawing(asset, rgb)[0].shape[:2]
    return w0 / h0


def bank_steps(frame_height: int) -> list[int]:
    """Height steps searched: MIN_HEIGHT_PX up to MAX_HEIGHT_FRACTION of the frame."""
    top = MAX_HEIGHT_FRACTION * frame_height / MIN_HEIGHT_PX
    last = math.floor(FINE_STEPS_PER_OCTAVE * math.log2(max(top, 1.0)))
    return list(range(0, last + 1, BANK_HEIGHT_EVERY))


TURNS = round(360 / FINE_ANGLE_DEG)
BANK_TURNS = tuple(range(0, TURNS, BANK_ANGLE_EVERY))


# -- 2. Search ------------------------------------------------------------------------------
@dataclass
class _Orientations:
    """One level's spread orientation responses and edges (padded by `pad` px)."""

    response: np.ndarray  # (BINS, H + 2 pad, W + 2 pad) float32
    edge: np.ndarray  # (H + 2 pad, W + 2 pad) float32: 1 on an edge
    height: int
    width: int
    pad: int


def _orientations(image: np.ndarray, spread: int, pad: int) -> _Orientations:
    magnitude, bins = _gradients(image.astype(np.float32))
    edge = magnitude > EDGE_LEVELS
    h, w = edge.shape
    kernel = np.ones((spread, spread), np.uint8)
    quantised = np.where(edge, bins, BINS).astype(np.uint8)  # BINS: no edge
    spread_bins = [
        cv2.dilate((quantised == b).view(np.uint8), kernel).astype(np.float32) for b in range(BINS)
    ]
    response = np.zeros((BINS, h + 2 * pad, w + 2 * pad), np.float32)
    for b in range(BINS):
        neighbours = cv2.max(spread_bins[b - 1], spread_bins[(b + 1) % BINS])
        response[b, pad : pad + h, pad : pad + w] = cv2.max(
            spread_bins[b], neighbours * NEIGHBOUR_CREDIT
        )
    edges = np.zeros((h + 2 * pad, w + 2 * pad), np.float32)
    edges[pad : pad + h, pad : pad + w] = edge
    return _Orientations(response, edges, h, w, pad)


class FrameMaps:
    """What the search and the check need of one sampled frame, each made on first use:
    the pyramid, its orientation maps (spread wider for the search than for the check)
    and its CIELAB."""

    def __init__(self, frame: np.ndarray, index: int):
        self.index = index  # into the clip's frames
        self._images = [frame]
        self._search: dict[int, _Orientations] = {}
        self._check: dict[int, _Orientations] = {}
        self._colour_index: dict[int, np.ndarray] = {}
        self._lab: dict[int, np.ndarray] = {}

    def image(self, level: int) -> np.ndarray:
        while len(self._images) <= level:
            h, w = self._images[-1].shape[:2]
            self._images.append(
                cv2.resize(self._images[-1], (w // 2, h // 2), interpolation=cv2.INTER_AREA)
            )
        return self._images[level]

    def search(self, level: int) -> _Orientations:
        if level not in self._search:
            self._search[level] = _orientations(self.image(level), SEARCH_SPREAD, PAD)
        return self._search[level]

    def check(self, level: int) -> _Orientations:
        if level not in self._check:
            self._check[level] = _orientations(self.image(level), CHECK_SPREAD, 0)
        return self._check[level]

    def colour_index(self, level: int) -> np.ndarray:
        """(H + 2 PAD, W + 2 PAD) int32 quantised RGB (r*1024 + g*32 + b) of a search level,
        padded with an index no palette takes."""
        if level not in self._colour_index:
            q = (self.image(level) // _QUANT).astype(np.int32)
            index = q[..., 0] * 1024 + q[..., 1] * 32 + q[..., 2]
            self._colour_index[level] = np.pad(index, PAD, constant_values=32768)
        return self._colour_index[level]

    def lab(self, level: int) -> np.ndarray:
        if level not in self._lab:
            self._lab[level] = cv2.cvtColor(self.image(level), cv2.COLOR_RGB2LAB).astype(np.float32)
        return self._lab[level]


def _score_grid(
    maps: _Orientations, model: EdgeModel, colours: np.ndarray, stride: int
) -> np.ndarray:
    """Search score of the pose centred at (y, x) = stride * (row, column) of the level;
    `colours` (K, H + 2 PAD, W + 2 PAD) says where each palette colour may be."""
    rows, cols = -(-maps.height // stride), -(-maps.width // stride)
    span_y, span_x = rows * stride, cols * stride
    total = np.zeros((rows, cols), np.float32)
    for dx, dy, b in zip(model.edge_dx, model.edge_dy, model.edge_bin, strict=True):
        y, x = maps.pad + dy, maps.pad + dx
        total += maps.response[b, y : y + span_y : stride, x : x + span_x : stride]
    total *= 1.0 / max(1, len(model.edge_dx))
    if len(model.flat_dx):
        edges = np.zeros((rows, cols), np.float32)
        for dx, dy in zip(model.flat_dx, model.flat_dy, strict=True):
            y, x = maps.pad + dy, maps.pad + dx
            edges += maps.edge[y : y + span_y : stride, x : x + span_x : stride]
        total *= 1.0 - edges / len(model.flat_dx)
    if len(model.colour_dx):
        matches = np.zeros((rows, cols), np.float32)
        for dx, dy, k in zip(model.colour_dx, model.colour_dy, model.colour_k, strict=True):
            y, x = maps.pad + dy, maps.pad + dx
            matches += colours[k, y : y + span_y : stride, x : x + span_x : stride]
        total *= matches / len(model.colour_dx)
    return total


def _edge_scores(
    maps: _Orientations, model: EdgeModel, cx: np.ndarray, cy: np.ndarray
) -> np.ndarray:
    """The search's score (without colours) at arbitrary centres (cx[i], cy[i]) of the
    level; points off the maps read their nearest edge."""
    h, w = maps.edge.shape
    x = np.round(cx).astype(np.int32)[:, None] + maps.pad  # (S, 1)
    y = np.round(cy).astype(np.int32)[:, None] + maps.pad
    ey = np.minimum(np.maximum(y + model.edge_dy[None], 0), h - 1)  # (S, E)
    ex = np.minimum(np.maximum(x + model.edge_dx[None], 0), w - 1)
    present = maps.response[model.edge_bin[None], ey, ex].mean(axis=1)
    if not len(model.flat_dx):
        return present
    fy = np.minimum(np.maximum(y + model.flat_dy[None], 0), h - 1)
    fx = np.minimum(np.maximum(x + model.flat_dx[None], 0), w - 1)
    return present * (1.0 - maps.edge[fy, fx].mean(axis=1))


@dataclass(frozen=True)
class _Candidate:
    score: float
    x: float  # frame px
    y: float
    step: int  # height step
    turn: int  # angle turn
    mirrored: bool


def _candidates(
    maps: FrameMaps,
    asset: Asset,
    rgb: RGB | None,
    steps: Sequence[int],
    turns: Sequence[int] = BANK_TURNS,
    limit: int = CANDIDATES_PER_FRAME,
) -> list[_Candidate]:
    """The best-scoring poses, one per place (non-maximum suppression across poses)."""
    found: list[_Candidate] = []
    by_level: dict[int, list[int]] = {}
    for step in steps:
        by_level.setdefault(search_level(_height(step)), []).append(step)
    for level, level_steps in by_level.items():
        orientations = maps.search(level)
        # Where each palette colour may be (the padding's index is beyond the table: none).
        lut = np.pad(_palette_lut(asset, rgb), ((0, 0), (0, 1)))
        colours = lut[:, maps.colour_index(level)]  # (K, H + 2 PAD, W + 2 PAD)
        best: np.ndarray | None = None
        which = np.zeros(0, np.int32)
        poses: list[tuple[int, int, bool]] = []
        for step in level_steps:
            for turn in turns:
                for mirrored in (False, True):
                    model = _search_model(asset, rgb, step, turn, mirrored)
                    grid = _score_grid(orientations, model, colours, STRIDES[level])
                    if best is None:
                        best, which = grid, np.zeros(grid.shape, np.int32)
                    else:
                        better = grid > best
                        best = np.where(better, grid, best)
                        which[better] = len(poses)
                    poses.append((step, turn, mirrored))
        if best is None:
            continue
        peaks = (best >= PROPOSE) & (best == cv2.dilate(best, np.ones((3, 3), np.uint8)))
        for row, col in np.argwhere(peaks):
            step, turn, mirrored = poses[int(which[row, col])]
            size = STRIDES[level] * 2**level
            found.append(
                _Candidate(float(best[row, col]), col * size, row * size, step, turn, mirrored)
            )
    # One candidate per place and height: the search barely tells heights apart (a small
    # pose fits inside a big drawing's outline), the check does.
    found.sort(key=lambda c: -c.score)
    kept: list[_Candidate] = []
    for c in found:
        if all(
            math.hypot(c.x - k.x, c.y - k.y) > 0.5 * max(_height(c.step), _height(k.step))
            or abs(c.step - k.step) > BANK_HEIGHT_EVERY
            for k in kept
        ):
            kept.append(c)
        if len(kept) >= limit:
            break
    return kept[:limit]


# -- 3. Check --------------------------------------------------------------------------------
def _gather(lab: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = lab.shape[:2]
    inside = (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)
    return lab[ys.clip(0, h - 1), xs.clip(0, w - 1)], inside


def _lighting(lab: np.ndarray, look: Look, cx: float, cy: float) -> np.ndarray:
    """The scene's light on the pose at (cx, cy): one CIELAB offset of lightness (darker
    at night) and tint (warmer at sunset), the median difference, bounded."""
    seen, inside = _gather(lab, look.dy + round(cy), look.dx + round(cx))
    if not inside.any():
        return np.zeros(3, np.float32)
    offset = np.median(seen[inside] - look.lab[inside], axis=0)
    return np.array([offset[0].clip(-70, 25), *offset[1:].clip(-10, 10)], np.float32)


def _colour_scores(
    lab: np.ndarray, look: Look, cx: np.ndarray, cy: np.ndarray, offset: np.ndarray
) -> np.ndarray:
    """The share of the pose's colour samples within COLOUR_DE of the drawing's colour
    (plus the light's offset), at each centre; 0 with less than half of them in frame."""
    if look.dx.size == 0:  # a drawing with no colour samples (all outline) scores nothing
        return np.zeros(len(cx), np.float32)
    x = np.round(cx).astype(np.int32)[:, None]
    y = np.round(cy).astype(np.int32)[:, None]
    seen, inside = _gather(lab, look.dy[None] + y, look.dx[None] + x)  # (S, N, 3)
    good = ((seen - (look.lab + offset)[None]) ** 2).sum(axis=2) < COLOUR_DE**2  # (S, N)
    share = (good & inside).sum(axis=1) / np.maximum(inside.sum(axis=1), 1)
    return np.where(inside.mean(axis=1) >= 0.5, share, 0.0)


@functools.lru_cache(maxsize=64)
def _grid(reach: float, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (dx, dy) of a square grid, `reach` either way, `spacing` apart."""
    offsets = np.arange(-reach, reach + 1e-6, spacing)
    dx, dy = np.meshgrid(offsets, offsets)
    return dx.ravel(), dy.ravel()


Pose = tuple[int, int, bool]  # (height step, angle turn, mirrored)
Fit = tuple[float, Pose, float, float]  # (edge score, pose, x, y): x, y in frame px


class _Checker:
    """The check of candidates in one frame for one drawing: edge fits of poses near a
    place, on the frame's check maps (orientations spread for the check, CIELAB)."""

    def __init__(self, maps: FrameMaps, asset: Asset, rgb: RGB | None):
        self.maps, self.asset, self.rgb = maps, asset, rgb

    def fit(self, pose: Pose, x: float, y: float, reach: float, spacing: float) -> Fit:
        """Best edge score of `pose` within `reach` px (of its check level) of (x, y)."""
        level = check_level(_height(pose[0]))
        factor = 2**level
        dx, dy = _grid(reach, spacing)
        px, py = x + dx * factor, y + dy * factor
        model = _check_model(self.asset, self.rgb, *pose)
        scores = _edge_scores(self.maps.check(level), model, px / factor, py / factor)
        k = int(np.argmax(scores))
        return float(scores[k]), pose, float(px[k]), float(py[k])

    def best(self, current: Fit, trials: Sequence[Pose],
             reach: Callable[[Pose], float], spacing: float) -> Fit:  # fmt: skip
        """The best of `current` and each trial pose fitted around `current`'s place."""
        best = current
        for trial in trials:
            if trial[0] < 0 or trial == current[1]:
                continue
            fitted = self.fit(trial, current[2], current[3], reach(trial), spacing)
            if fitted[0] > best[0]:
                best = fitted
        return best

    def refine(self, candidate: _Candidate, reach: int, sweep: bool) -> Fit | None:
        """1. place, 2. angle and facing (all of them when `sweep`), 3. height, 4. all
        three finely. None when the first fit is too poor to go on."""
        step, turn, mirrored = candidate.step, candidate.turn, candidate.mirrored
        # 1. Place, coarsely, in steps of 2 px. Most candidates are not the drawing at all,
        # and stop here.
        state = self.fit((step, turn, mirrored), candidate.x, candidate.y, reach, 2)
        if state[0] < EARLY_EDGES:
            return None
        # 2. Angle and facing: the search often has them wrong for a roundish drawing (and
        # the place with them), so when asked, every bank angle and both facings.
        if sweep:
            first = turn % BANK_ANGLE_EVERY
            trials = [(step, first + t, m) for t in BANK_TURNS for m in (False, True)]
            state = self.best(state, trials, lambda _: reach, 2)
        # 3. Height, a bank step either way: a drawing of another height fits with its
        # centre moved by up to half the difference (a flame grows upward from its base).
        step, turn, mirrored = state[1]

        def moved(trial: Pose) -> float:
            change = abs(_height(trial[0]) - _height(step))
            return math.ceil(change / 2 ** (check_level(_height(trial[0])) + 1)) + 2

        state = self.best(state, [(step + d, turn, mirrored) for d in (-4, -2, 2, 4)], moved, 2)
        # 4. Place, height and angle finely: 1 px, a fine height step, half a bank angle.
        state = self.fit(state[1], state[2], state[3], 1, 1)
        step, turn, mirrored = state[1]
        state = self.best(state, [(step + d, turn, mirrored) for d in (-1, 1)], lambda _: 1, 1)
        step, turn, mirrored = state[1]
        half = BANK_ANGLE_EVERY // 2
        turns = [(step, (turn + d) % TURNS, mirrored) for d in range(-half, half + 1)]
        return self.best(state, turns, lambda _: 1, 1)

    def colours(self, pose: Pose, x: float, y: float) -> tuple[float, float, float]:
        """(share, x, y): the best colour share of `pose` within 1 px of (x, y)."""
        level = check_level(_height(pose[0]))
        factor = 2**level
        look = _look_of(self.asset, self.rgb, *pose)
        lab = self.maps.lab(level)
        dx, dy = _grid(1, 1)
        offset = _lighting(lab, look, x / factor, y / factor)
        shares = _colour_scores(lab, look, x / factor + dx, y / factor + dy, offset)
        k = int(np.argmax(shares))
        return float(shares[k]), x + float(dx[k]) * factor, y + float(dy[k]) * factor

    def clear(self, pose: Pose, x: float, y: float) -> float:
        """The edge score with no spread at all (in a window around the pose): how clearly
        the drawing is there, beyond fitting within a pixel."""
        level = check_level(_height(pose[0]))
        factor = 2**level
        image = self.maps.image(level)
        model = _check_model(self.asset, self.rgb, *pose)
        margin = int(
            max(
                np.abs(model.edge_dx).max(initial=0),
                np.abs(model.edge_dy).max(initial=0),
                np.abs(model.flat_dx).max(initial=0),
                np.abs(model.flat_dy).max(initial=0),
            )
        )
        cx, cy = round(x / factor), round(y / factor)
        x0, y0 = max(0, cx - margin - 3), max(0, cy - margin - 3)
        window = image[y0 : cy + margin + 4, x0 : cx + margin + 4]
        if window.shape[0] < 3 or window.shape[1] < 3:
            return 0.0
        tight = _orientations(np.ascontiguousarray(window), 1, 0)
        dx, dy = _grid(1, 1)
        return float(_edge_scores(tight, model, cx - x0 + dx, cy - y0 + dy).max())  # fmt: skip


def _check(
    maps: FrameMaps,
    asset: Asset,
    rgb: RGB | None,
    candidate: _Candidate,
    scale: float,
    reach_px: float | None = None,
    sweep: bool = True,
) -> Detection | None:
    """Refine the candidate where it is CHECK_HEIGHT_PX tall, by its edges, and keep it if
    its edges and colours agree there. A refinement that ends poorly is tried again with
    every angle: the search's angle may have led it astray."""
    checker = _Checker(maps, asset, rgb)
    level = check_level(_height(candidate.step))
    if reach_px is None:
        # The search's grid spacing and more: a pose the search has a little wrong (too
        # small, turned) fits best a little off the drawing's centre.
        search = search_level(_height(candidate.step))
        spacing = STRIDES[search] * 2 ** (search - level)
        reach = math.ceil(max(spacing, CHECK_REACH * _height(candidate.step) / 2**level))
    else:  # a followed thing: as far as it may have moved
        reach = math.ceil(reach_px / 2**level)
    best: tuple[float, Pose, float, float, float] | None = None  # (score, pose, x, y, look)
    for sweeping in (False, True) if sweep else (False,):
        fitted = checker.refine(candidate, reach, sweeping)
        if fitted is None:
            return None
        edges, pose, x, y = fitted
        small = _height(pose[0]) < CHECK_HEIGHT_PX
        if edges >= (MIN_EDGES_SMALL if small else MIN_EDGES):
            look, x, y = checker.colours(pose, x, y)
            if look >= MIN_LOOK and (best is None or edges * look > best[0] * best[4]):
                best = (edges, pose, x, y, look)
        if best is not None and best[0] >= SWEEP_BELOW:
            break
    if best is None:
        return None
    edges, pose, x, y, look = best
    height = _height(pose[0]) * scale
    return Detection(
        asset.id, maps.index, x * scale, y * scale, height, height * _aspect(asset, rgb),
        (pose[1] * FINE_ANGLE_DEG) % 360, pose[2], edges * look, look, edges,
        checker.clear(pose, x, y),
    )  # fmt: skip


# -- 4. Follow --------------------------------------------------------------------------------
def _follow(
    maps: Sequence[FrameMaps],
    asset: Asset,
    rgb: RGB | None,
    start: Detection,
    k: int,
    direction: int,
    detections: dict[int, list[Detection]],
    scale: float,
) -> list[Detection]:
    """Follow `start` (on sampled frame k) frame by frame in `direction`; return the other
    instances seen on the way (by a search when it was lost), to be followed in turn."""
    history = [start]
    others: list[Detection] = []
    misses = 0
    k += direction
    while 0 <= k < len(maps) and misses <= FOLLOW_MISSES:
        here = detections.setdefault(k, [])
        last = history[-1]
        # Constant velocity (and turn) from the last two sightings.
        vx = vy = turn_rate = 0.0
        if len(history) >= 2:
            gap = (history[-1].frame - history[-2].frame) or 1
            ahead = (maps[k].index - last.frame) / gap
            vx = (last.x_px - history[-2].x_px) * ahead
            vy = (last.y_px - history[-2].y_px) * ahead
            turned = (last.angle_deg - history[-2].angle_deg + 180) % 360 - 180
            turn_rate = turned * ahead
        x, y = (last.x_px + vx) / scale, (last.y_px + vy) / scale
        if any(math.hypot(x * scale - d.x_px, y * scale - d.y_px) < 0.5 * d.height_px
               for d in here):  # fmt: skip
            return others  # this frame already has it: searched, or followed from elsewhere
        step = round(FINE_STEPS_PER_OCTAVE * math.log2(last.height_px / scale / MIN_HEIGHT_PX))
        turn = round((last.angle_deg + turn_rate) / FINE_ANGLE_DEG) % TURNS
        candidate = _Candidate(last.score, x, y, max(0, step), turn, last.mirrored)
        # How far it may be from there: a share of its height, more when it moves.
        reach = FOLLOW_REACH * last.height_px / scale + 0.5 * math.hypot(vx, vy) / scale
        found = _check(maps[k], asset, rgb, candidate, scale, reach, sweep=False)
        if found is None:
            # Lost (it moved faster than it did, or turned): search the frame at its
            # height, every angle, and go on from the sighting nearest the prediction.
            half = BANK_HEIGHT_EVERY // 2
            steps = [s for s in (step - half, step, step + half) if s >= 0]
            seen = [d for d in _detect(maps[k], asset, rgb, steps, BANK_TURNS, scale)
                    if all(math.hypot(d.x_px - o.x_px, d.y_px - o.y_px) >= 0.5 * o.height_px
                           for o in here)]  # fmt: skip
            here.extend(seen)
            nearest = min(seen, key=lambda d: math.hypot(d.x_px / scale - x, d.y_px / scale - y),
                          default=None)  # fmt: skip
            if nearest is not None and math.hypot(nearest.x_px / scale - x, nearest.y_px / scale - y
                                                  ) <= 4 * reach:  # fmt: skip
                found = nearest  # the one followed, further than it was looked for
            others += [d for d in seen if d is not found]
        if found is None:
            misses += 1
        elif found not in here and any(
            math.hypot(found.x_px - d.x_px, found.y_px - d.y_px) < 0.5 * d.height_px for d in here
        ):
            return others  # it has met a sighting already there: that one goes on
        else:
            misses = 0
            if found not in here:
                here.append(found)
            history.append(found)
        k += direction
    return others


def _detect(
    maps: FrameMaps,
    asset: Asset,
    rgb: RGB | None,
    steps: Sequence[int],
    turns: Sequence[int],
    scale: float,
) -> list[Detection]:
    """Search one frame for the poses (steps, turns) and check the best candidates."""
    return _checked(maps, asset, rgb, _candidates(maps, asset, rgb, steps, turns), scale)


def _checked(
    maps: FrameMaps, asset: Asset, rgb: RGB | None, candidates: Sequence[_Candidate], scale: float
) -> list[Detection]:
    """The candidates that pass the check, one per place (best first)."""
    found: list[Detection] = []
    for candidate in candidates:
        if any(
            math.hypot(candidate.x * scale - d.x_px, candidate.y * scale - d.y_px)
            < 0.5 * d.height_px
            for d in found
        ):
            continue  # the place is taken by a better candidate's detection
        detection = _check(maps, asset, rgb, candidate, scale)
        if detection is None:
            continue
        if all(
            math.hypot(detection.x_px - d.x_px, detection.y_px - d.y_px)
            > 0.5 * max(detection.height_px, d.height_px)
            for d in found
        ):
            found.append(detection)
    return found


# -- 5. Tracks and counts ---------------------------------------------------------------------
def link_tracks(detections: Sequence[Detection], frame_size_px: float) -> list[AssetTrack]:
    """Greedy nearest-neighbour linking, frame by frame, per asset."""
    tracks: list[AssetTrack] = []
    by_frame: dict[int, list[Detection]] = {}
    for d in detections:
        by_frame.setdefault(d.frame, []).append(d)
    frames = sorted(by_frame)
    for index in frames:
        open_tracks = [
            t for t in tracks
            if index - t.detections[-1].frame <= MAX_GAP * _frame_step(frames)
        ]  # fmt: skip
        pairs = []
        for i, d in enumerate(by_frame[index]):
            for j, t in enumerate(open_tracks):
                last = t.detections[-1]
                if last.asset_id != d.asset_id:
                    continue
                reach = max(MAX_JUMP_HEIGHTS * last.height_px, MAX_JUMP_FRACTION * frame_size_px)
                reach *= (index - last.frame) / max(1, _frame_step(frames))
                distance = math.hypot(d.x_px - last.x_px, d.y_px - last.y_px)
                if len(t.detections) >= 2:  # or from where its motion so far puts it
                    before = t.detections[-2]
                    ahead = (index - last.frame) / max(1, last.frame - before.frame)
                    px = last.x_px + (last.x_px - before.x_px) * ahead
                    py = last.y_px + (last.y_px - before.y_px) * ahead
                    distance = min(distance, math.hypot(d.x_px - px, d.y_px - py))
                if distance <= reach:
                    pairs.append((distance, i, j))
        used_d: set[int] = set()
        used_t: set[int] = set()
        for _, i, j in sorted(pairs):
            if i in used_d or j in used_t:
                continue
            open_tracks[j].detections.append(by_frame[index][i])
            used_d.add(i)
            used_t.add(j)
        for i, d in enumerate(by_frame[index]):
            if i not in used_d:
                tracks.append(AssetTrack(d.asset_id, [d]))
    return tracks


def _counts(track: AssetTrack) -> bool:
    """Whether a track is the drawing: a quarter of its sightings are clear and most fit
    well. A cat's outline fits a dog within a pixel or so, but seldom exactly, while the
    dog's own does (and stays the dog's while a frisbee in its mouth hides part of it)."""
    clear = float(np.percentile([d.clear for d in track.detections], 75))
    edges = float(np.median([d.edges for d in track.detections]))
    return clear >= CLEAR_SIGHTING and edges >= TRACK_EDGES


def _frame_step(frames: Sequence[int]) -> int:
    steps = np.diff(np.asarray(frames))
    return int(steps.min()) if steps.size else 1


def sustained_count(per_frame: Sequence[int], sustain: int = COUNT_SUSTAIN) -> int:
    """The largest count that holds for `sustain` sampled frames in a row (a stray
    detection on one frame does not count)."""
    series = np.asarray(per_frame, dtype=np.int64)
    if series.size == 0:
        return 0
    if series.size < sustain:
        return int(series.min())
    return int(np.lib.stride_tricks.sliding_window_view(series, sustain).min(axis=1).max())


def _instances_per_frame(detections: Sequence[Detection], indices: Sequence[int]) -> list[int]:
    """Instances of a thing per sampled frame: detections of any of its drawings, those of
    two drawings at one place counted once."""
    counts = []
    for index in indices:
        here = sorted((d for d in detections if d.frame == index), key=lambda d: -d.score)
        kept: list[Detection] = []
        for d in here:
            if all(
                math.hypot(d.x_px - k.x_px, d.y_px - k.y_px) > 0.5 * max(d.height_px, k.height_px)
                for k in kept
            ):
                kept.append(d)
        counts.append(len(kept))
    return counts
