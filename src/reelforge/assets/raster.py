"""Drawings of assets as pixels: SVG through skia, cached per asset, size and tint.

`sprite(asset, height_px, rgb)` returns a premultiplied skia.Image whose height is
`height_px` (the width follows the drawing), cropped to the drawing's ink. A stated colour
("a blue car") recolours the drawing's dominant hue (the car's body) and leaves the rest
(tyres, windows, outlines) alone. `outline(asset)` is the convex hull of the drawing's
ink, in units of its height, centred: the collision shape of the sim's things.
"""

from __future__ import annotations

import functools
import itertools
import threading

import cv2
import numpy as np
import skia

from reelforge.assets.catalogue import Asset

RGB = tuple[int, int, int]
OUTLINE_PX = 128  # the raster the outline is measured on
_lock = threading.Lock()


def render_rgba(asset: Asset, size_px: int) -> np.ndarray:
    """(size, size, 4) uint8 straight-alpha RGBA of the full 32x32 viewBox."""
    data = asset.svg(size_px, size_px).encode()
    stream = skia.MemoryStream(data, True)  # copy: the stream must not outlive `data`
    dom = skia.SVGDOM.MakeFromStream(stream)
    if dom is None:
        raise ValueError(f"asset {asset.id!r}: its SVG does not parse")
    dom.setContainerSize(skia.Size(size_px, size_px))
    surface = skia.Surface(size_px, size_px)
    canvas = surface.getCanvas()
    canvas.clear(skia.ColorTRANSPARENT)
    dom.render(canvas)
    rgba = surface.makeImageSnapshot().toarray(
        colorType=skia.kRGBA_8888_ColorType, alphaType=skia.kUnpremul_AlphaType
    )
    return np.ascontiguousarray(rgba)


def ink_box(alpha: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the pixels with any ink."""
    ys, xs = np.nonzero(alpha > 8)
    if xs.size == 0:
        return 0, 0, alpha.shape[1], alpha.shape[0]
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


@functools.lru_cache(maxsize=512)
def _sprite_rgba(asset: Asset, height_px: int, rgb: RGB | None) -> np.ndarray:
    # Render at the scale that makes the ink `height_px` tall, then crop to the ink.
    probe = render_rgba(asset, OUTLINE_PX)
    x0, y0, x1, y1 = ink_box(probe[..., 3])
    scale = height_px / max(1, y1 - y0)
    full = max(8, round(OUTLINE_PX * scale))
    rgba = render_rgba(asset, full)
    x0, y0, x1, y1 = ink_box(rgba[..., 3])
    rgba = rgba[y0:y1, x0:x1].copy()
    if rgb is not None:
        rgba = recolor(rgba, rgb)
    return rgba


def sprite(asset: Asset, height_px: int, rgb: RGB | None = None) -> skia.Image:
    """The drawing `height_px` tall as a skia image (cached)."""
    with _lock:
        rgba = _sprite_rgba(asset, max(4, int(height_px)), rgb)
        return _image(rgba.tobytes(), rgba.shape[1], rgba.shape[0])


@functools.lru_cache(maxsize=512)
def _image(data: bytes, width: int, height: int) -> skia.Image:
    array = np.frombuffer(data, np.uint8).reshape(height, width, 4)
    return skia.Image.fromarray(
        array, colorType=skia.kRGBA_8888_ColorType, alphaType=skia.kUnpremul_AlphaType
    )


def recolor(rgba: np.ndarray, rgb: RGB) -> np.ndarray:
    """Move the drawing's dominant saturated hue to `rgb`'s hue, keeping its shading."""
    out = rgba.copy()
    inked = rgba[..., 3] > 128
    hsv = cv2.cvtColor(np.ascontiguousarray(rgba[..., :3]), cv2.COLOR_RGB2HSV).astype(np.int16)
    saturated = inked & (hsv[..., 1] > 60) & (hsv[..., 2] > 40)
    target = cv2.cvtColor(np.array([[rgb]], np.uint8), cv2.COLOR_RGB2HSV)[0, 0].astype(np.int16)
    if not saturated.any():
        # A grey drawing: multiply it by the colour.
        shade = rgba[..., :3].astype(np.float32) / 255.0
        out[..., :3] = np.where(inked[..., None], shade * np.array(rgb, np.float32), rgba[..., :3])
        return out
    hues = hsv[..., 0][saturated]
    dominant = int(np.bincount(hues // 6, minlength=31).argmax()) * 6 + 3
    distance = np.abs(((hsv[..., 0] - dominant + 90) % 180) - 90)
    body = saturated & (distance <= 14)
    if target[1] < 40:  # white, grey, black: desaturate and set the brightness
        hsv[..., 1] = np.where(body, target[1], hsv[..., 1])
        hsv[..., 2] = np.where(
            body, np.clip(hsv[..., 2] * 0.25 + target[2] * 0.75, 0, 255), hsv[..., 2]
        )
    else:
        hsv[..., 0] = np.where(body, target[0], hsv[..., 0])
        hsv[..., 1] = np.where(body, np.maximum(hsv[..., 1], target[1]), hsv[..., 1])
    recoloured = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)
    out[..., :3] = np.where(body[..., None], recoloured, rgba[..., :3])
    return out


@functools.lru_cache(maxsize=2048)
def outline(asset: Asset) -> tuple[np.ndarray, float]:
    """(hull, aspect): the convex hull of the ink as (K, 2) points in units of the ink's
    height, centred on the ink box, y up; and the ink box's width / height."""
    alpha = render_rgba(asset, OUTLINE_PX)[..., 3]
    x0, y0, x1, y1 = ink_box(alpha)
    ys, xs = np.nonzero(alpha > 128)
    points = np.stack([xs, ys], axis=1).astype(np.int32)
    if len(points) < 3:
        points = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.int32)
    hull = cv2.convexHull(points)[:, 0, :].astype(np.float64)  # (K, 2) px, y down
    height = max(1, y1 - y0)
    hull[:, 0] = (hull[:, 0] - (x0 + x1) / 2) / height
    hull[:, 1] = -(hull[:, 1] - (y0 + y1) / 2) / height
    return hull, (x1 - x0) / height


@functools.lru_cache(maxsize=2048)
def outline_parts(asset: Asset, columns: int = 4, rows: int = 3) -> tuple[np.ndarray, ...]:
    """The ink as convex parts: the convex hull of the ink in each cell of a columns x
    rows grid over the drawing (same units as `outline`). Their union follows a concave
    drawing (the gap under a car between its wheels, a horse's legs) much closer than one
    hull; each part is convex, as a physics engine needs."""
    alpha = render_rgba(asset, OUTLINE_PX)[..., 3]
    x0, y0, x1, y1 = ink_box(alpha)
    height = max(1, y1 - y0)
    ys, xs = np.nonzero(alpha > 128)
    parts = []
    for left, right in itertools.pairwise(np.linspace(x0, x1, columns + 1)):
        for top, bottom in itertools.pairwise(np.linspace(y0, y1, rows + 1)):
            # Cells overlap by a pixel, so neighbouring parts leave no seams.
            inside = (xs >= left - 1) & (xs <= right + 1) & (ys >= top - 1) & (ys <= bottom + 1)
            if inside.sum() < 3:
                continue
            points = np.stack([xs[inside], ys[inside]], axis=1).astype(np.int32)
            hull = cv2.convexHull(points)[:, 0, :].astype(np.float64)
            if len(hull) < 3:
                continue
            hull[:, 0] = (hull[:, 0] - (x0 + x1) / 2) / height
            hull[:, 1] = -(hull[:, 1] - (y0 + y1) / 2) / height
            parts.append(hull)
    return tuple(parts) if parts else (outline(asset)[0],)
