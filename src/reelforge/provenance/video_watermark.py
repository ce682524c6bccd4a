"""Invisible video watermark: a keyed, tiled spread-spectrum pattern in the luma plane.

Embedding adds one precomputed, content-independent pattern to every frame's luma with a
saturating uint8 add (two OpenCV calls, ~0.1 ms per 720x1280 frame), so it can run on the
I420 Y plane inside `encode_mp4`. The pattern is a 256x256 px tile repeated over the frame:

    tile = Σ_chips sign(chip) · bump(chip)     32 x 32 chips of 8 x 8 px, smoothed
    chips: 630 carry the 210 coded bits of the payload (3 each, interleaved at random),
           394 are a known sync pattern; scaled to 1.7 luma levels RMS (PSNR ≈ 42 dB)

Detection aggregates evidence over every frame and every tile:

    1. each frame → luma at analysis scale (native / 2) → high-pass → clip (so edges and
       texture of the picture weigh no more than the mark) → sum over frames
    2. fold the sum modulo the tile (128 x 128 at analysis scale) → one averaged tile
    3. cyclic cross-correlation with the sync tile (FFT) finds the offset a crop left;
       the peak's z-score (against the correlation at every other offset) gives the
       p-value, family-wise over all offsets and scales
    4. read the 1024 chips at that offset, despread the 210 soft bits, Viterbi → payload

Resizes are undone from the known native sizes (every frame size the engines produce):
a frame whose aspect ratio matches a native size is also analysed as that size scaled.
The pattern is static over time, so dropped frames and trims only remove evidence, and
H.264 keeps it cheaply (P-frames predict it from the previous frame).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from reelforge.errors import MediaError
from reelforge.provenance.payload import (
    CODED_BITS,
    check_key,
    check_payload,
    encode_payload,
    keyed_rng,
    max_normal_p_value,
    viterbi_decode,
)

TILE_PX = 256  # native pixels; 128 at analysis scale
CHIP_PX = 8  # native pixels; 4 at analysis scale
CHIPS_PER_SIDE = TILE_PX // CHIP_PX  # 32
CHIPS_PER_BIT = 3
SYNC_CHIPS = CHIPS_PER_SIDE**2 - CODED_BITS * CHIPS_PER_BIT  # 394
BUMP_SIGMA_PX = 3.5  # native pixels: Gaussian smoothing of the chip blocks
AMPLITUDE = 1.7  # luma levels (RMS); PSNR ≈ 42 dB
ANALYSIS_SCALE = 2  # detection works at native / 2: cheaper, and a 0.5x resize is native
HIGHPASS_SIGMA = 2.0  # analysis pixels
RESIDUAL_CLIP = 1.0  # luma levels
PEAK_HALF_WIDTH_PX = 2  # analysis pixels around the sync peak left out of its null
DETECTION_P_VALUE = 1e-6

# Frame sizes (height, width) the engines render; used to undo a resize.
NATIVE_SIZES: tuple[tuple[int, int], ...] = (
    (1280, 720),
    (720, 1280),
    (1792, 1024),
    (1024, 1792),
    (448, 256),
    (256, 448),
    (640, 360),
    (360, 640),
)

# RGB (BT.601 limited range, as encode_mp4 uses): adding d to R, G and B adds 0.859 d to Y.
_LUMA_PER_RGB = (66 + 129 + 25) / 256


@dataclass(frozen=True)
class VideoDetection:
    """What `detect_video` found. `detected` means p_value ≤ 1e-6."""

    detected: bool
    payload: int  # the decoded payload (meaningless when not detected)
    p_value: float  # of the sync peak under "no watermark with this key"
    sync_z: float  # z-score of the sync correlation peak
    bit_accuracy: float  # coded bits agreeing with the decoded codeword (~0.75 by chance)
    scale: float  # analysis pixels per input pixel of the chosen candidate
    offset_px: tuple[int, int]  # (y, x) shift of the tile grid, analysis pixels
    frames_used: int


# ---------------------------------------------------------------------------------------
# The keyed pattern


@dataclass(frozen=True)
class _Layout:
    """Which chip carries what, for one key."""

    chip_signs: np.ndarray  # float32 (32, 32) ±1 spreading sequence
    chip_bit: np.ndarray  # int (32, 32): coded bit index, or -1 for a sync chip

    @staticmethod
    def for_key(key: bytes) -> _Layout:
        rng = keyed_rng(key, "video/layout")
        signs = rng.choice(np.array([-1.0, 1.0], np.float32), size=(CHIPS_PER_SIDE,) * 2)
        owners = np.concatenate(
            [np.repeat(np.arange(CODED_BITS), CHIPS_PER_BIT), np.full(SYNC_CHIPS, -1)]
        )
        return _Layout(signs, rng.permutation(owners).reshape(CHIPS_PER_SIDE, CHIPS_PER_SIDE))

    def chip_values(self, coded: np.ndarray | None) -> np.ndarray:
        """(32, 32) chip amplitudes: the sync chips, plus the message chips if `coded`."""
        values = np.where(self.chip_bit < 0, self.chip_signs, 0.0).astype(np.float32)
        if coded is not None:
            message = self.chip_bit >= 0
            values[message] = self.chip_signs[message] * coded[self.chip_bit[message]]
        return values


def _chips_to_tile(chip_values: np.ndarray, chip_px: int, sigma_px: float) -> np.ndarray:
    """(n, n) chip amplitudes → float32 (n·chip_px, n·chip_px) tile, blocks smoothed
    cyclically (the tile repeats, so its borders must join)."""
    blocks = np.kron(chip_values, np.ones((chip_px, chip_px), np.float32))
    return _cyclic_gaussian(blocks, sigma_px)


def _cyclic_gaussian(tile: np.ndarray, sigma_px: float) -> np.ndarray:
    size = tile.shape[0]
    freq = np.fft.fftfreq(size)
    gain = np.exp(-2.0 * (np.pi * sigma_px) ** 2 * (freq[:, None] ** 2 + freq[None, :] ** 2))
    return np.fft.ifft2(np.fft.fft2(tile) * gain).real.astype(np.float32)


def _tile_over(tile: np.ndarray, height: int, width: int) -> np.ndarray:
    reps = (-(-height // tile.shape[0]), -(-width // tile.shape[1]))
    return np.tile(tile, reps)[:height, :width]


# ---------------------------------------------------------------------------------------
# Embedding


class VideoWatermarker:
    """Adds the watermark for `payload` under `key` to frames of one size.

    Build once per clip (~7 ms), then call `embed_luma` on each I420 Y plane (in place)
    or `embed_rgb` on RGB frames.
    """

    def __init__(self, payload: int, key: bytes, width: int, height: int) -> None:
        for name, value in (("width", width), ("height", height)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 2:
                raise MediaError(f"{name} must be an integer ≥ 2, got {value!r}")
        self.payload = check_payload(payload)
        self.width, self.height = width, height
        layout = _Layout.for_key(check_key(key))
        tile = _chips_to_tile(
            layout.chip_values(encode_payload(self.payload)), CHIP_PX, BUMP_SIGMA_PX
        )
        self._tile = tile * (AMPLITUDE / float(np.sqrt(np.mean(tile**2))))  # luma levels
        # Saturating add of a signed pattern = add its positive part, subtract its negative.
        self._luma_add, self._luma_sub = self._planes(1.0)
        self._rgb: tuple[np.ndarray, np.ndarray] | None = None  # built on first embed_rgb

    def _planes(self, gain: float) -> tuple[np.ndarray, np.ndarray]:
        """(positive part, negative part) of the rounded pattern, as full-frame uint8."""
        pattern = np.rint(self._tile * gain)
        positive = np.clip(pattern, 0, 255).astype(np.uint8)
        negative = np.clip(-pattern, 0, 255).astype(np.uint8)
        return (
            _tile_over(positive, self.height, self.width),
            _tile_over(negative, self.height, self.width),
        )

    def embed_luma(self, y_plane: np.ndarray) -> None:
        """Mark one (height, width) uint8 luma plane in place (e.g. the Y rows of an I420
        buffer from cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420))."""
        if y_plane.shape != (self.height, self.width) or y_plane.dtype != np.uint8:
            raise MediaError(
                f"y_plane must be uint8 ({self.height}, {self.width}), "
                f"got {y_plane.dtype} {y_plane.shape}"
            )
        cv2.add(y_plane, self._luma_add, dst=y_plane)
        cv2.subtract(y_plane, self._luma_sub, dst=y_plane)

    def embed_rgb(self, frames: np.ndarray) -> None:
        """Mark uint8 (T, height, width, 3) RGB frames in place (the same luma change as
        `embed_luma`, spread equally over R, G and B so chroma is untouched)."""
        expected = (self.height, self.width, 3)
        if (
            not isinstance(frames, np.ndarray)
            or frames.ndim != 4
            or frames.shape[1:] != expected
            or frames.dtype != np.uint8
        ):
            raise MediaError(
                f"frames must be uint8 (T, {self.height}, {self.width}, 3), "
                f"got {frames.dtype} {frames.shape}"
            )
        if self._rgb is None:
            add, sub = self._planes(1.0 / _LUMA_PER_RGB)
            self._rgb = (np.repeat(add[:, :, None], 3, 2), np.repeat(sub[:, :, None], 3, 2))
        add, sub = self._rgb
        for frame in frames:
            cv2.add(frame, add, dst=frame)
            cv2.subtract(frame, sub, dst=frame)


# ---------------------------------------------------------------------------------------
# Detection


class _Candidate:
    """Accumulates the high-passed, clipped luma of every frame at one scale."""

    def __init__(self, scale: float, input_size: tuple[int, int]) -> None:
        self.scale = scale  # analysis pixels per input pixel
        height, width = input_size
        self.size = (max(1, round(height * scale)), max(1, round(width * scale)))
        self.total = np.zeros(self.size, np.float32)

    def add(self, luma: np.ndarray) -> None:
        height, width = self.size
        if luma.shape != self.size:
            interpolation = cv2.INTER_AREA if self.scale < 1 else cv2.INTER_LINEAR
            luma = cv2.resize(luma, (width, height), interpolation=interpolation)
        image = luma.astype(np.float32)
        residual = image - cv2.GaussianBlur(image, (0, 0), HIGHPASS_SIGMA)
        np.clip(residual, -RESIDUAL_CLIP, RESIDUAL_CLIP, out=residual)
        self.total += residual


class _Reference:
    """The key's tiles at analysis scale, filtered as the detector filters frames."""

    def __init__(self, key: bytes) -> None:
        self.layout = _Layout.for_key(key)
        size = TILE_PX // ANALYSIS_SCALE
        chip = CHIP_PX // ANALYSIS_SCALE
        sigma = BUMP_SIGMA_PX / ANALYSIS_SCALE
        self.sync = _highpass(_chips_to_tile(self.layout.chip_values(None), chip, sigma))
        # One chip's footprint at the origin: correlating with it reads every chip at once.
        one = np.zeros((CHIPS_PER_SIDE, CHIPS_PER_SIDE), np.float32)
        one[0, 0] = 1.0
        self.chip = _highpass(_chips_to_tile(one, chip, sigma))
        self.size = size
        self.chip_px = chip


def _highpass(tile: np.ndarray) -> np.ndarray:
    return tile - _cyclic_gaussian(tile, HIGHPASS_SIGMA)


def _fold(total: np.ndarray, size: int) -> np.ndarray:
    """Sum an (h, w) image modulo (size, size): all tiles on top of each other."""
    height, width = total.shape
    padded = np.zeros((-(-height // size) * size, -(-width // size) * size), np.float32)
    padded[:height, :width] = total
    return padded.reshape(padded.shape[0] // size, size, padded.shape[1] // size, size).sum(
        axis=(0, 2)
    )


def _cyclic_correlation(image: np.ndarray, template: np.ndarray) -> np.ndarray:
    """c[dy, dx] = Σ image[(u + dy) % n, (v + dx) % n] · template[u, v]."""
    return np.fft.ifft2(np.fft.fft2(image) * np.conj(np.fft.fft2(template))).real


class VideoEvidence:
    """What frames say, gathered once for any key: `add` frames (RGB or luma, streaming),
    then `read(key)` for one key or several (~30 ms per key)."""

    def __init__(self, native_sizes: Sequence[tuple[int, int]] = NATIVE_SIZES):
        self._native_sizes = tuple(native_sizes)
        self._candidates: list[_Candidate] = []
        self._input_size: tuple[int, int] | None = None
        self.frames_used = 0

    def add(self, frame: np.ndarray) -> None:
        luma = _luma(frame)
        if self._input_size is None:
            self._input_size = (luma.shape[0], luma.shape[1])
            self._candidates = [
                _Candidate(scale, self._input_size)
                for scale in _candidate_scales(self._input_size, self._native_sizes)
            ]
        elif luma.shape != self._input_size:
            raise MediaError(
                f"frames must all have one size; got {luma.shape} after {self._input_size}"
            )
        for candidate in self._candidates:
            candidate.add(luma)
        self.frames_used += 1

    def read(self, key: bytes) -> VideoDetection:
        """Look for the watermark of `key` in the frames added so far."""
        if self.frames_used == 0:
            raise MediaError("frames must hold at least one frame, got 0")
        reference = _Reference(check_key(key))
        readings = [self._read(candidate, reference) for candidate in self._candidates]
        n_tests = len(readings) * reference.size**2
        best = max(readings, key=lambda reading: reading.sync_z)
        p_value = max_normal_p_value(best.sync_z, n_tests)
        return VideoDetection(
            detected=p_value <= DETECTION_P_VALUE,
            payload=best.payload,
            p_value=p_value,
            sync_z=best.sync_z,
            bit_accuracy=best.bit_accuracy,
            scale=best.scale,
            offset_px=best.offset,
            frames_used=self.frames_used,
        )

    @staticmethod
    def _read(candidate: _Candidate, ref: _Reference) -> _Reading:
        tile = _fold(candidate.total, ref.size)  # (128, 128)
        # 1. Sync: where does the known pattern sit in the folded tile?
        surface = _cyclic_correlation(tile, ref.sync)  # (128, 128), one value per offset
        dy, dx = (int(i) for i in np.unravel_index(int(np.argmax(surface)), surface.shape))
        # The null: every other offset, leaving out the peak's neighbours (the chips are
        # smooth, so offsets a pixel or two away still see the mark).
        half = PEAK_HALF_WIDTH_PX
        around = np.roll(surface, (half - dy, half - dx), axis=(0, 1))  # peak at (half, half)
        outside = np.ones(surface.shape, bool)
        outside[: 2 * half + 1, : 2 * half + 1] = False
        null = around[outside]
        spread = float(null.std())
        if spread <= 0.0:  # a flat picture carries no evidence
            return _Reading(candidate.scale, 0.0, 0, 0.5, (0, 0))
        sync_z = float((surface[dy, dx] - null.mean()) / spread)
        # 2. Read every chip at that offset and despread the 210 soft bits.
        aligned = np.roll(tile, (-dy, -dx), axis=(0, 1))
        chips = _cyclic_correlation(aligned, ref.chip)[:: ref.chip_px, :: ref.chip_px]
        despread = chips * ref.layout.chip_signs  # (32, 32)
        message = ref.layout.chip_bit >= 0
        soft = np.bincount(
            ref.layout.chip_bit[message], weights=despread[message], minlength=CODED_BITS
        )
        # 3. Soft bits → payload.
        payload = viterbi_decode(soft)
        accuracy = float(np.mean(np.sign(soft) == encode_payload(payload)))
        return _Reading(candidate.scale, sync_z, payload, accuracy, (dy, dx))


@dataclass(frozen=True)
class _Reading:
    scale: float
    sync_z: float
    payload: int
    bit_accuracy: float
    offset: tuple[int, int]


def _candidate_scales(
    input_size: tuple[int, int], native_sizes: Iterable[tuple[int, int]]
) -> list[float]:
    """Analysis pixels per input pixel to try: the input as native pixels (crops, or no
    change), and each native size of the same aspect ratio it may have been resized from."""
    height, width = input_size
    scales = [1.0 / ANALYSIS_SCALE]
    for native_h, native_w in native_sizes:
        if abs(native_h / native_w - height / width) > 0.01 * height / width:
            continue
        scale = native_h / ANALYSIS_SCALE / height
        if all(abs(scale - s) > 0.02 * s for s in scales):
            scales.append(scale)
    return scales


def _luma(frame: np.ndarray) -> np.ndarray:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
        raise MediaError(f"frames must be uint8 arrays, got {getattr(frame, 'dtype', frame)!r}")
    if frame.ndim == 3 and frame.shape[2] == 3:
        return np.asarray(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY))
    if frame.ndim == 2:
        return frame
    raise MediaError(f"frames must be (H, W, 3) RGB or (H, W) luma, got shape {frame.shape}")


def detect_video(
    frames: np.ndarray | Iterable[np.ndarray],
    key: bytes,
    native_sizes: Sequence[tuple[int, int]] = NATIVE_SIZES,
) -> VideoDetection:
    """Look for the watermark of `key` in uint8 frames: (T, H, W, 3) RGB or (T, H, W) luma,
    or any iterable of (H, W, 3) / (H, W) frames (decode and detect without holding all)."""
    evidence = VideoEvidence(native_sizes)
    for frame in frames:
        evidence.add(frame)
    return evidence.read(key)
