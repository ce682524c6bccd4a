"""Vector rendering of a simulated clip with skia: antialiased, shaded, textured.

The static part of the scene (sky or wall, window, scenery, textured floor, vignette) is
drawn once into a raster image; each frame restores it with one memcpy (static camera) or
draws it through the camera transform (pan, zoom), then draws shadows, objects,
characters and weather on top. Paints and gradient shaders are built once per object in
the object's own coordinates, so a frame costs a few transforms and fills.

Pixel coordinates: x right, y down; the world's metres map through `px_per_m`, with the
floor line FLOOR_FRACTION of the height above the frame's bottom.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import skia

from reelforge.assets.catalogue import Catalogue
from reelforge.assets.raster import outline, sprite
from reelforge.engines.sim import scenery
from reelforge.engines.sim.thing_render import ThingPainter
from reelforge.engines.sim.world import Body, CharacterLayout, Simulation
from reelforge.types import RGB, ScenePlan

# Lighting multiplies colours: (r, g, b) gains for the scenery, and how much of that the
# lit foreground (objects, characters) takes, so a red ball stays red at night.
LIGHT_GAINS: dict[str, tuple[float, float, float]] = {
    "day": (1.0, 1.0, 1.0),
    "sunset": (1.08, 0.86, 0.72),
    "night": (0.42, 0.48, 0.68),
}
FOREGROUND_LIGHT_SHARE = 0.35
# A face's height over its width. The head is drawn as a circle stretched by this about
# its centre, hair included, so the eyes, nose and mouth (and the judge's eye-based face
# finder) stay where they always were.
FACE_ASPECT = {"round": 1.0, "oval": 1.1, "long": 1.2}
GLASSES_RGB = (28, 28, 32)

WALL_COLORS: dict[str, RGB] = {
    "room": (226, 214, 192),
    "kitchen": (214, 226, 222),
    "gym": (204, 208, 214),
    "studio": (198, 200, 204),
    "warehouse": (150, 156, 160),
}
FLOOR_COLORS: dict[str, RGB] = {
    "wood": (176, 128, 80),
    "tile": (214, 210, 200),
    "concrete": (150, 150, 146),
    "carpet": (120, 100, 110),
    "grass": (96, 150, 70),
    "sand": (222, 198, 150),
    "asphalt": (74, 76, 80),
    "dirt": (132, 100, 70),
    "snow": (236, 240, 248),
    "water": (40, 110, 170),
    "rock": (128, 124, 120),
}
SKY_COLORS: dict[str, tuple[RGB, RGB]] = {
    "day": ((110, 165, 230), (200, 225, 245)),
    "sunset": ((90, 70, 140), (250, 170, 100)),
    "night": ((12, 16, 40), (40, 50, 90)),
}


def _lit(rgb: RGB, gains: tuple[float, float, float], share: float = 1.0) -> RGB:
    r, g, b = (
        int(max(0, min(255, c * (1 + share * (k - 1))))) for c, k in zip(rgb, gains, strict=True)
    )
    return r, g, b


def _shade(rgb: RGB, factor: float) -> RGB:
    """factor < 1 darkens, > 1 lightens toward white."""
    if factor <= 1:
        return int(rgb[0] * factor), int(rgb[1] * factor), int(rgb[2] * factor)
    t = factor - 1
    r, g, b = (int(c + (255 - c) * t) for c in rgb)
    return r, g, b


def _color(rgb: RGB, alpha: int = 255) -> int:
    return skia.Color(rgb[0], rgb[1], rgb[2], alpha)


def _paint(rgb: RGB, alpha: int = 255, **kwargs: object) -> skia.Paint:
    return skia.Paint(AntiAlias=True, Color=_color(rgb, alpha), **kwargs)


@dataclass
class CameraPose:
    scale: float
    dx_px: float
    dy_px: float


class Renderer:
    def __init__(
        self,
        sim: Simulation,
        plan: ScenePlan,
        width: int,
        height: int,
        mouth_apertures: dict[str, np.ndarray],
        seed: int,
        plate: np.ndarray | None = None,
        catalogue: Catalogue | None = None,
    ):
        """`plate`: an image (height, width, 3) to use as the backdrop instead of the
        drawn setting (image-to-video): objects and characters play in front of it.
        `catalogue`: the asset library, for objects drawn as an asset (a basketball); without
        it they are drawn as their plain shape."""
        self.sim, self.plan = sim, plan
        self.catalogue = catalogue
        self.width, self.height = width, height
        self.px_per_m = min(width, height) / (sim.view_w_m if width <= height else sim.view_h_m)
        self.mouths = mouth_apertures
        self.seed = seed
        self.gains = LIGHT_GAINS[plan.lighting.time_of_day]
        self.light_dx = {"left": -0.35, "right": 0.35, "top": 0.0}[plan.lighting.key_from]
        self.buffer = np.zeros((height, width, 4), np.uint8)
        self.surface = skia.Surface(self.buffer)  # draws straight into self.buffer (RGBA)
        self.static_camera = plan.camera.motion == "static"
        # A moving camera needs scenery beyond the frame's edges.
        self.bg_margin = 0 if self.static_camera else int(0.25 * max(width, height))
        self.background = (
            self._render_background() if plate is None else self._plate_background(plate)
        )
        self.background_image = skia.Image.fromarray(self.background)
        self.object_painters = [self._object_painter(b) for b in sim.bodies]
        self.blinks = self._blink_schedule()
        # Characters who gesture (wave, point, cheer) with a free hand raise their front
        # arm; those who walk or run cross the frame, unless they talk (lip sync is measured
        # on a still face) or hold something (it stays where their hands were).
        holding = ("play", "flip", "throw", "catch")
        holders = {t.target for t in plan.things if t.behaviour in holding}
        self.wavers = {
            c.spec.name
            for c in sim.characters
            if c.spec.action == "gesture" and c.spec.name not in holders
        }
        self.walkers = {
            c.spec.name
            for c in sim.characters
            if c.spec.action in ("walk", "run") and not c.spec.lines and c.spec.name not in holders
        }
        self.character_sprites = {c.spec.name: self._character_sprites(c) for c in sim.characters}
        self.things = (
            ThingPainter(
                sim.things,
                self.px_per_m,
                self.to_px,
                sim.fps,
                seed,
                {
                    c.spec.name: _lit(c.spec.appearance.skin_rgb, self.gains, 0.35)
                    for c in sim.characters
                },
            )
            if sim.things is not None
            else None
        )

    # -- coordinates -----------------------------------------------------------------
    def to_px(self, x_m: float, y_m: float) -> tuple[float, float]:
        return x_m * self.px_per_m, self.height - (y_m - self.sim.floor_y_m) * self.px_per_m

    @property
    def floor_line_px(self) -> float:
        return self.to_px(0.0, 0.0)[1]

    def camera(self, frame: int) -> CameraPose:
        t = frame / max(1, self.sim.frame_count - 1)
        motion = self.plan.camera.motion
        ease = 0.5 - 0.5 * math.cos(math.pi * t)
        if motion == "pan_left":
            return CameraPose(1.0, 0.12 * self.width * ease, 0.0)
        if motion == "pan_right":
            return CameraPose(1.0, -0.12 * self.width * ease, 0.0)
        if motion == "zoom_in":
            return CameraPose(1.0 + 0.18 * ease, 0.0, 0.0)
        if motion == "zoom_out":
            return CameraPose(1.18 - 0.18 * ease, 0.0, 0.0)
        return CameraPose(1.0, 0.0, 0.0)

    # -- frames --------------------------------------------------------------------------
    def render_all(self, progress: Callable[[float], None] | None = None) -> np.ndarray:
        frames = np.empty((self.sim.frame_count, self.height, self.width, 3), np.uint8)
        for i in range(self.sim.frame_count):
            self.render_frame(i)
            cv2.cvtColor(self.buffer, cv2.COLOR_RGBA2RGB, dst=frames[i])
            if progress is not None and (i % 8 == 0 or i == self.sim.frame_count - 1):
                progress((i + 1) / self.sim.frame_count)
        return frames

    def render_frame(self, i: int) -> None:
        canvas = self.surface.getCanvas()
        pose = self.camera(i)
        canvas.save()
        if self.static_camera:
            np.copyto(self.buffer, self.background)
        else:
            canvas.clear(skia.ColorBLACK)
            self._apply_camera(canvas, pose)
            canvas.drawImage(
                self.background_image,
                -self.bg_margin,
                -self.bg_margin,
                skia.SamplingOptions(skia.FilterMode.kLinear),
            )
        if self.static_camera:
            self._apply_camera(canvas, pose)
        if self.things is not None:  # sky, then buildings and landscape, behind everyone
            self.things.draw_layer(canvas, 0, i)
            self.things.draw_layer(canvas, 1, i)
        for body in self.sim.bodies:
            self._draw_shadow(canvas, body, i)
        for character in self.sim.characters:
            self._draw_character(canvas, character, i)
        if self.things is not None:
            self.things.draw_layer(canvas, 2, i)
            self.things.draw_effects(canvas, i)
        for body, painter in zip(self.sim.bodies, self.object_painters, strict=True):
            x, y, angle = body.track[i]
            px, py = self.to_px(x, y)
            painter(canvas, px, py, angle)
        canvas.restore()
        self._draw_weather(canvas, i)
        self.surface.flushAndSubmit()

    def _apply_camera(self, canvas: skia.Canvas, pose: CameraPose) -> None:
        if pose.scale == 1.0 and pose.dx_px == 0.0 and pose.dy_px == 0.0:
            return
        cx, cy = self.width / 2, self.height * 0.6
        canvas.translate(cx + pose.dx_px, cy + pose.dy_px)
        canvas.scale(pose.scale, pose.scale)
        canvas.translate(-cx, -cy)

    # -- background ----------------------------------------------------------------------
    def _render_background(self) -> np.ndarray:
        m = self.bg_margin
        array = np.zeros((self.height + 2 * m, self.width + 2 * m, 4), np.uint8)
        surface = skia.Surface(array)
        canvas = surface.getCanvas()
        canvas.translate(m, m)
        rng = np.random.default_rng(self.seed ^ 0x5EED)
        left, right = -m, self.width + m
        top, bottom = -m, self.height + m
        floor = self.floor_line_px
        setting = self.plan.setting
        if setting.kind in scenery.KINDS:
            backdrop = scenery.Backdrop(
                canvas, left, right, top, floor, self.px_per_m,
                self.plan.lighting.time_of_day, lambda rgb: _lit(rgb, self.gains), rng,
            )  # fmt: skip
            scenery.draw(setting.kind, backdrop)
        elif setting.indoor:
            self._draw_wall(canvas, left, right, top, floor, rng)
        else:
            self._draw_outdoors(canvas, left, right, top, floor, rng)
        self._draw_floor(canvas, left, right, floor, bottom, rng)
        if self.sim.ramp is not None:
            self._draw_ramp(canvas)
        # Vignette: darken the corners a little, as a lens does. The gradient is a unit
        # circle stretched to the frame's aspect, so it falls off evenly toward every edge.
        vignette = skia.GradientShader.MakeRadial(
            (0.0, 0.0),
            1.0,
            [skia.Color(0, 0, 0, 0), skia.Color(0, 0, 0, 0), skia.Color(0, 0, 0, 55)],
            [0.0, 0.75, 1.0],
            skia.TileMode.kClamp,
            0,
            skia.Matrix.Translate(self.width / 2, self.height / 2).preScale(
                0.72 * self.width, 0.72 * self.height
            ),
        )
        canvas.drawRect(skia.Rect(left, top, right, bottom), skia.Paint(Shader=vignette))
        surface.flushAndSubmit()
        return array

    def _plate_background(self, plate: np.ndarray) -> np.ndarray:
        """The given image as the backdrop, extended by mirroring where a moving camera
        sees past its edges."""
        if plate.shape != (self.height, self.width, 3):
            raise ValueError(f"plate must be {self.height}x{self.width}x3, got {plate.shape}")
        m = self.bg_margin
        rgb = np.pad(plate, ((m, m), (m, m), (0, 0)), mode="symmetric") if m else plate
        array = np.full((rgb.shape[0], rgb.shape[1], 4), 255, np.uint8)
        array[..., :3] = rgb
        if self.sim.ramp is not None:  # the ramp is part of the physics: it must be seen
            surface = skia.Surface(array)
            canvas = surface.getCanvas()
            canvas.translate(m, m)
            self._draw_ramp(canvas)
            surface.flushAndSubmit()
        return array

    def _draw_wall(
        self,
        canvas: skia.Canvas,
        left: float,
        right: float,
        top: float,
        floor: float,
        rng: np.random.Generator,
    ) -> None:
        kind = self.plan.setting.kind
        base = _lit(WALL_COLORS.get(kind, WALL_COLORS["room"]), self.gains)
        shader = skia.GradientShader.MakeLinear(
            [(0, top), (0, floor)], [_color(_shade(base, 1.08)), _color(_shade(base, 0.86))]
        )
        canvas.drawRect(skia.Rect(left, top, right, floor), skia.Paint(Shader=shader))
        line = _paint(_shade(base, 0.9), Style=skia.Paint.kStroke_Style, StrokeWidth=2)
        s = self.px_per_m
        if kind == "room":  # wallpaper stripes and a wainscot
            for x in np.arange(left, right, 0.28 * s):
                canvas.drawRect(
                    skia.Rect(x, top, x + 0.09 * s, floor - 0.9 * s), _paint(_shade(base, 0.95))
                )
            canvas.drawRect(
                skia.Rect(left, floor - 0.9 * s, right, floor), _paint(_shade(base, 0.82))
            )
            canvas.drawLine(left, floor - 0.9 * s, right, floor - 0.9 * s, line)
        elif kind == "kitchen":  # tiled backsplash and a counter line
            y0 = floor - 1.6 * s
            for y in np.arange(y0, floor, 0.15 * s):
                canvas.drawLine(left, y, right, y, line)
            for x in np.arange(left, right, 0.15 * s):
                canvas.drawLine(x, y0, x, floor, line)
            canvas.drawRect(
                skia.Rect(left, y0 - 0.08 * s, right, y0), _paint(_lit((120, 110, 100), self.gains))
            )
        elif kind in ("gym", "warehouse"):  # block wall / corrugated panels
            step = 0.2 * s
            for row, y in enumerate(np.arange(top, floor, step)):
                canvas.drawLine(left, y, right, y, line)
                offset = (row % 2) * 0.2 * s
                if kind == "gym":
                    for x in np.arange(left + offset, right, 0.4 * s):
                        canvas.drawLine(x, y, x, y + step, line)
            if kind == "warehouse":
                for x in np.arange(left, right, 0.12 * s):
                    canvas.drawLine(
                        x,
                        top,
                        x,
                        floor,
                        _paint(
                            _shade(base, 0.8), 120, Style=skia.Paint.kStroke_Style, StrokeWidth=3
                        ),
                    )
        # studio: a seamless backdrop, the gradient alone.
        canvas.drawRect(
            skia.Rect(left, floor - 0.06 * s, right, floor), _paint(_shade(base, 0.7))
        )  # skirting board
        if kind in ("room", "kitchen"):
            self._draw_window(canvas, rng)

    def _draw_window(self, canvas: skia.Canvas, rng: np.random.Generator) -> None:
        s = self.px_per_m
        w, h = 0.9 * s, 1.1 * s
        x0 = self.width / 2 - w / 2 + float(rng.uniform(-0.2, 0.2)) * self.width
        y0 = self.floor_line_px - 2.7 * s
        sky_top, sky_bottom = SKY_COLORS[self.plan.lighting.time_of_day]
        shader = skia.GradientShader.MakeLinear(
            [(0, y0), (0, y0 + h)], [_color(sky_top), _color(sky_bottom)]
        )
        rect = skia.Rect(x0, y0, x0 + w, y0 + h)
        canvas.drawRect(rect, skia.Paint(Shader=shader))
        frame = _paint((235, 235, 230), Style=skia.Paint.kStroke_Style, StrokeWidth=0.05 * s)
        canvas.drawRect(rect, frame)
        canvas.drawLine(x0 + w / 2, y0, x0 + w / 2, y0 + h, frame)
        canvas.drawLine(x0, y0 + h / 2, x0 + w, y0 + h / 2, frame)
        self.window_rect = rect

    def _draw_outdoors(
        self,
        canvas: skia.Canvas,
        left: float,
        right: float,
        top: float,
        floor: float,
        rng: np.random.Generator,
    ) -> None:
        time = self.plan.lighting.time_of_day
        sky_top, sky_bottom = SKY_COLORS[time]
        canvas.drawRect(
            skia.Rect(left, top, right, floor),
            skia.Paint(
                Shader=skia.GradientShader.MakeLinear(
                    [(0, top), (0, floor)], [_color(sky_top), _color(sky_bottom)]
                )
            ),
        )
        s = self.px_per_m
        if time == "night":
            for _ in range(120):
                x, y = rng.uniform(left, right), rng.uniform(top, floor - 1.5 * s)
                canvas.drawCircle(x, y, float(rng.uniform(0.6, 1.6)), _paint((255, 255, 240), 200))
            canvas.drawCircle(
                right - 0.25 * self.width,
                top + 0.15 * self.height,
                0.18 * s,
                _paint((245, 245, 225)),
            )
        else:
            sun = (255, 245, 200) if time == "day" else (255, 190, 120)
            cx, cy = left + 0.25 * self.width, floor - (2.9 if time == "day" else 1.3) * s
            glow = skia.GradientShader.MakeRadial(
                (cx, cy), 0.8 * s, [_color(sun, 200), _color(sun, 0)]
            )
            canvas.drawCircle(cx, cy, 0.8 * s, skia.Paint(AntiAlias=True, Shader=glow))
            canvas.drawCircle(cx, cy, 0.22 * s, _paint(sun))
            for _ in range(4):  # clouds
                x, y = rng.uniform(left, right), rng.uniform(top + 0.1 * s, floor - 2.4 * s)
                for k in range(5):
                    canvas.drawCircle(
                        x + k * 0.16 * s,
                        y + float(rng.uniform(-0.05, 0.05)) * s,
                        float(rng.uniform(0.12, 0.22)) * s,
                        _paint(_lit((250, 250, 252), self.gains), 215),
                    )
        kind = self.plan.setting.kind
        far = _lit(
            {
                "street": (120, 124, 140),
                "park": (90, 140, 90),
                "beach": (40, 120, 170),
                "forest": (50, 100, 60),
                "desert": (205, 150, 100),
            }.get(kind, (120, 130, 140)),
            self.gains,
        )
        if kind == "street":  # buildings with windows
            x = left
            while x < right:
                w = float(rng.uniform(0.5, 1.0)) * s
                h = float(rng.uniform(1.2, 3.2)) * s
                canvas.drawRect(
                    skia.Rect(x, floor - h, x + w - 4, floor),
                    _paint(_shade(far, float(rng.uniform(0.8, 1.1)))),
                )
                lit = (255, 220, 140) if time == "night" else _shade(far, 1.35)
                for wy in np.arange(floor - h + 0.12 * s, floor - 0.3 * s, 0.3 * s):
                    for wx in np.arange(x + 0.08 * s, x + w - 0.15 * s, 0.22 * s):
                        canvas.drawRect(
                            skia.Rect(wx, wy, wx + 0.1 * s, wy + 0.14 * s), _paint(lit, 220)
                        )
                x += w
        elif kind == "beach":  # the sea up to the horizon
            horizon = floor - 0.9 * s
            canvas.drawRect(
                skia.Rect(left, horizon, right, floor),
                skia.Paint(
                    Shader=skia.GradientShader.MakeLinear(
                        [(0, horizon), (0, floor)], [_color(far), _color(_shade(far, 1.3))]
                    )
                ),
            )
            for y in np.arange(horizon + 0.1 * s, floor, 0.12 * s):
                canvas.drawLine(left, y, right, y, _paint(_shade(far, 1.5), 90, StrokeWidth=2))
        elif kind in ("park", "forest"):  # hills and trees
            path = skia.Path()
            path.moveTo(left, floor)
            for x in np.linspace(left, right, 9):
                path.lineTo(x, floor - float(rng.uniform(0.5, 1.0)) * s)
            path.lineTo(right, floor)
            path.close()
            canvas.drawPath(path, _paint(far))
            trees = 14 if kind == "forest" else 5
            for _ in range(trees):
                x = float(rng.uniform(left, right))
                h = float(rng.uniform(1.0, 2.4 if kind == "forest" else 1.6)) * s
                canvas.drawRect(
                    skia.Rect(x - 0.05 * s, floor - h * 0.5, x + 0.05 * s, floor),
                    _paint(_lit((90, 60, 40), self.gains)),
                )
                canvas.drawCircle(
                    x,
                    floor - h * 0.6,
                    0.32 * s * h / s / 1.6 + 0.15 * s,
                    _paint(_shade(far, float(rng.uniform(0.7, 0.95)))),
                )
        elif kind == "desert":  # mesas
            for _ in range(3):
                x, w = float(rng.uniform(left, right)), float(rng.uniform(0.8, 1.6)) * s
                h = float(rng.uniform(0.5, 1.2)) * s
                path = skia.Path()
                path.moveTo(x - w / 2, floor)
                path.lineTo(x - w / 3, floor - h)
                path.lineTo(x + w / 3, floor - h)
                path.lineTo(x + w / 2, floor)
                path.close()
                canvas.drawPath(path, _paint(far))

    def _draw_floor(
        self,
        canvas: skia.Canvas,
        left: float,
        right: float,
        floor: float,
        bottom: float,
        rng: np.random.Generator,
    ) -> None:
        kind = self.plan.setting.floor
        base = _lit(FLOOR_COLORS[kind], self.gains)
        canvas.drawRect(
            skia.Rect(left, floor, right, bottom),
            skia.Paint(
                Shader=skia.GradientShader.MakeLinear(
                    [(0, floor), (0, bottom)],
                    [_color(_shade(base, 0.82)), _color(_shade(base, 1.06))],
                )
            ),
        )
        s = self.px_per_m
        depth = bottom - floor
        vanish_x = self.width / 2
        line = _paint(_shade(base, 0.72), Style=skia.Paint.kStroke_Style, StrokeWidth=1.5)
        if kind in ("wood", "tile"):
            # Boards or tiles in perspective: rows get deeper toward the viewer.
            rows = 7
            ys = [floor + depth * (k / rows) ** 1.6 for k in range(rows + 1)]
            for y in ys[1:]:
                canvas.drawLine(left, y, right, y, line)
            spacing = (0.55 if kind == "wood" else 0.3) * s
            for x in np.arange(left - self.width, right + self.width, spacing):
                if kind == "tile":
                    canvas.drawLine(vanish_x + (x - vanish_x) * 0.55, floor, x, bottom, line)
                else:
                    for r in range(rows):
                        shift = (r * 0.37 % 1.0) * spacing
                        xx = vanish_x + (x + shift - vanish_x) * (
                            0.55 + 0.45 * ((ys[r] - floor) / depth)
                        )
                        canvas.drawLine(xx, ys[r], xx, ys[r + 1], line)
            if kind == "wood":
                grain = _paint(
                    _shade(base, 0.85), 90, Style=skia.Paint.kStroke_Style, StrokeWidth=1
                )
                for _ in range(160):
                    x, y = float(rng.uniform(left, right)), float(rng.uniform(floor, bottom))
                    canvas.drawLine(x, y, x + float(rng.uniform(10, 40)), y, grain)
        elif kind == "grass":
            for _ in range(900):
                x, y = float(rng.uniform(left, right)), float(rng.uniform(floor - 4, bottom))
                h = float(rng.uniform(4, 12)) * (0.6 + (y - floor) / depth)
                canvas.drawLine(
                    x,
                    y,
                    x + float(rng.uniform(-3, 3)),
                    y - h,
                    _paint(_shade(base, float(rng.uniform(0.75, 1.25))), 220, StrokeWidth=1.5),
                )
        elif kind == "water":  # ripples that widen toward the viewer
            for k in range(14):
                y = floor + depth * (k / 14) ** 1.5
                canvas.drawLine(left, y, right, y, _paint(_shade(base, 1.4), 80, StrokeWidth=2))
        else:  # speckled surfaces: concrete, carpet, sand, asphalt, dirt, snow, rock
            count = {"sand": 1500, "asphalt": 1200, "dirt": 800, "snow": 900}.get(kind, 600)
            for _ in range(count):
                x, y = float(rng.uniform(left, right)), float(rng.uniform(floor, bottom))
                canvas.drawCircle(
                    x,
                    y,
                    float(rng.uniform(0.6, 1.8)),
                    _paint(_shade(base, float(rng.uniform(0.7, 1.2))), 170),
                )
            if kind == "asphalt":
                y = floor + depth * 0.55
                for x in np.arange(left, right, 0.8 * s):
                    canvas.drawRect(
                        skia.Rect(x, y, x + 0.4 * s, y + 0.04 * s), _paint((230, 220, 150), 220)
                    )
        # Soft line where floor meets the back: contact shadow.
        canvas.drawRect(skia.Rect(left, floor, right, floor + 6), _paint((0, 0, 0), 40))

    def _draw_ramp(self, canvas: skia.Canvas) -> None:
        assert self.sim.ramp is not None
        (tx, ty), (bx, by) = self.sim.ramp
        p_top, p_bottom = self.to_px(tx, ty), self.to_px(bx, by)
        base_px = self.to_px(tx, 0.0)
        path = skia.Path()
        path.moveTo(*p_top)
        path.lineTo(*p_bottom)
        path.lineTo(*base_px)
        path.close()
        wood = _lit((170, 120, 70), self.gains)
        canvas.drawPath(
            path,
            skia.Paint(
                AntiAlias=True,
                Shader=skia.GradientShader.MakeLinear(
                    [p_top, base_px], [_color(_shade(wood, 1.1)), _color(_shade(wood, 0.75))]
                ),
            ),
        )
        canvas.drawLine(
            *p_top,
            *p_bottom,
            _paint(_shade(wood, 0.6), StrokeWidth=4, StrokeCap=skia.Paint.kRound_Cap),
        )

    # -- objects ---------------------------------------------------------------------------
    def _object_painter(self, body: Body) -> Callable[[skia.Canvas, float, float, float], None]:
        """Build the paints for one object once; return a function drawing it at a pose."""
        spec = body.spec
        s = self.px_per_m
        if spec.asset is not None and self.catalogue is not None and spec.asset in self.catalogue:
            return self._asset_painter(body)
        base = _lit(spec.rgb, self.gains, FOREGROUND_LIGHT_SHARE)
        light, dark = _shade(base, 1.35), _shade(base, 0.55)
        alpha = 190 if spec.material in ("glass", "ice") else 255
        outline = _paint(_shade(base, 0.45), alpha, Style=skia.Paint.kStroke_Style, StrokeWidth=1.5)
        lx = self.light_dx
        if spec.kind == "ball":
            r = body.size_m / 2 * s
            shine = 0.55 if spec.material in ("metal", "glass", "plastic", "ice") else 0.25
            fill = skia.Paint(
                AntiAlias=True,
                Shader=skia.GradientShader.MakeRadial(
                    (lx * r, -0.4 * r),
                    1.35 * r,
                    [_color(light, alpha), _color(base, alpha), _color(dark, alpha)],
                    [0.0, 0.45, 1.0],
                ),
            )
            stripe = _paint(
                _shade(base, 0.7),
                alpha,
                Style=skia.Paint.kStroke_Style,
                StrokeWidth=max(1.5, 0.09 * r),
            )
            spot = _paint((255, 255, 255), int(200 * shine))

            def draw_ball(canvas: skia.Canvas, x: float, y: float, angle: float) -> None:
                canvas.save()
                canvas.translate(x, y)
                canvas.drawCircle(0, 0, r, fill)
                canvas.save()
                canvas.rotate(-math.degrees(angle))  # world angles are counter-clockwise
                canvas.drawArc(skia.Rect(-0.5 * r, -r, 0.5 * r, r), -90, 180, False, stripe)
                canvas.restore()
                canvas.drawCircle(lx * 0.8 * r, -0.45 * r, 0.2 * r, spot)
                canvas.drawCircle(0, 0, r, outline)
                canvas.restore()

            return draw_ball

        if spec.kind == "box":
            half = body.size_m / 2 * s
            shape: skia.Path | skia.RRect = skia.RRect.MakeRectXY(
                skia.Rect(-half, -half, half, half), 0.06 * half, 0.06 * half
            )
        elif spec.kind == "triangle":
            side = body.size_m * 1.15 * s
            height = side * math.sqrt(3) / 2
            shape = skia.Path()
            shape.moveTo(-side / 2, height / 3)
            shape.lineTo(side / 2, height / 3)
            shape.lineTo(0, -2 * height / 3)
            shape.close()
            half = side / 2
        elif spec.kind == "capsule":
            length, radius = body.size_m * 1.4 * s, body.size_m * 0.28 * s
            shape = skia.RRect.MakeRectXY(
                skia.Rect(-length / 2, -radius, length / 2, radius), radius, radius
            )
            half = radius
        else:  # plank
            length, thickness = body.size_m * 2.2 * s, body.size_m * 0.22 * s
            shape = skia.RRect.MakeRectXY(
                skia.Rect(-length / 2, -thickness / 2, length / 2, thickness / 2), 2, 2
            )
            half = thickness / 2
        fill = skia.Paint(
            AntiAlias=True,
            Shader=skia.GradientShader.MakeLinear(
                [(-half, -half), (half, half)],
                [_color(light, alpha), _color(base, alpha), _color(_shade(base, 0.7), alpha)],
                [0.0, 0.4, 1.0],
            ),
        )
        detail = self._material_detail(spec.material, spec.kind, half, base, alpha)

        def draw_solid(canvas: skia.Canvas, x: float, y: float, angle: float) -> None:
            canvas.save()
            canvas.translate(x, y)
            canvas.rotate(-math.degrees(angle))
            if isinstance(shape, skia.Path):
                canvas.drawPath(shape, fill)
                detail(canvas)
                canvas.drawPath(shape, outline)
            else:
                canvas.drawRRect(shape, fill)
                detail(canvas)
                canvas.drawRRect(shape, outline)
            canvas.restore()

        return draw_solid

    def _asset_painter(self, body: Body) -> Callable[[skia.Canvas, float, float, float], None]:
        """An object drawn as its asset: the drawing fills the body's shape (a ball's
        diameter, a box's side, a capsule's length) and turns with it."""
        assert self.catalogue is not None and body.spec.asset is not None
        spec = body.spec
        asset = self.catalogue[body.spec.asset]
        _, aspect = outline(asset)
        extent = body.size_m * {"capsule": 1.4, "plank": 2.2}.get(spec.kind, 1.0) * self.px_per_m
        height = max(4, round(extent / max(aspect, 1.0)))
        image = sprite(asset, height, spec.rgb if spec.tinted else None)
        w, h = image.width(), image.height()
        paint = skia.Paint(AntiAlias=True)
        sampling = skia.SamplingOptions(skia.FilterMode.kLinear)

        def draw_asset(canvas: skia.Canvas, x: float, y: float, angle: float) -> None:
            canvas.save()
            canvas.translate(x, y)
            canvas.rotate(-math.degrees(angle))  # world angles are counter-clockwise
            canvas.drawImage(image, -w / 2, -h / 2, sampling, paint)
            canvas.restore()

        return draw_asset

    def _material_detail(
        self, material: str, kind: str, half: float, base: RGB, alpha: int
    ) -> Callable[[skia.Canvas], None]:
        line = _paint(
            _shade(base, 0.62),
            alpha,
            Style=skia.Paint.kStroke_Style,
            StrokeWidth=max(1.0, 0.05 * half),
        )
        if material == "wood" and kind in ("box", "plank"):

            def planks(canvas: skia.Canvas) -> None:
                for k in (-1, 1):
                    canvas.drawLine(-half * 0.9, k * half / 3, half * 0.9, k * half / 3, line)
                if kind == "box":
                    canvas.drawLine(-half * 0.85, -half * 0.85, half * 0.85, half * 0.85, line)

            return planks
        if material == "metal" and kind == "box":
            rivet = _paint(_shade(base, 1.4), alpha)

            def rivets(canvas: skia.Canvas) -> None:
                for dx in (-0.75, 0.75):
                    for dy in (-0.75, 0.75):
                        canvas.drawCircle(dx * half, dy * half, 0.07 * half, rivet)

            return rivets
        if material in ("plastic", "glass", "ice"):
            gloss = _paint((255, 255, 255), 110)

            def glossy(canvas: skia.Canvas) -> None:
                canvas.drawRoundRect(
                    skia.Rect(-half * 0.7, -half * 0.75, -half * 0.35, half * 0.2), 3, 3, gloss
                )

            return glossy
        return lambda canvas: None

    def _draw_shadow(self, canvas: skia.Canvas, body: Body, i: int) -> None:
        x, y, _ = body.track[i]
        height = max(0.0, y)
        radius = body.size_m / 2 * (1.6 if body.spec.kind == "plank" else 1.0)
        strength = max(0.0, 1.0 - height / 3.0)
        if strength <= 0.02:
            return
        cx, cy = self.to_px(x, 0.0)
        w = radius * self.px_per_m * (1.0 + 0.3 * height)
        h = 0.16 * w
        shader = skia.GradientShader.MakeRadial(
            (cx, cy), w, [skia.Color(0, 0, 0, int(110 * strength)), skia.Color(0, 0, 0, 0)]
        )
        paint = skia.Paint(AntiAlias=True, Shader=shader)
        canvas.drawOval(skia.Rect(cx - w, cy - h, cx + w, cy + h), paint)

    # -- characters ---------------------------------------------------------------------
    def _blink_schedule(self) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(self.seed ^ 0xB11)
        schedule = {}
        for character in self.sim.characters:
            times, t = [], float(rng.uniform(0.5, 2.5))
            while t < self.sim.frame_count / self.sim.fps:
                times.append(t)
                t += float(rng.uniform(2.5, 5.0))
            schedule[character.spec.name] = np.array(times)
        return schedule

    def mouth_box_px(self, character: CharacterLayout) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) around the mouth at full opening, for a static camera."""
        hx, hy = self.to_px(*character.head_center_m)
        r = character.head_radius_m * self.px_per_m
        mx, my = hx + character.facing * 0.12 * r, hy + 0.45 * r
        return (int(mx - 0.36 * r), int(my - 0.3 * r), int(mx + 0.36 * r), int(my + 0.36 * r))

    def _character_sprites(
        self, character: CharacterLayout
    ) -> tuple[skia.Image, skia.Image, float, float, float]:
        """The parts of a character that never change, rasterised once and cropped tight:
        legs (fixed) and upper body with head (moved by breathing)."""
        h = character.height_m * self.px_per_m
        feet_x, feet_y = self.to_px(character.x_m, 0.0)
        x0 = int(feet_x - 0.3 * h)
        top = int(feet_y - 1.12 * h)  # above the head, room for a bun
        waist = int(feet_y - 0.4 * h)
        width = int(0.6 * h)
        images = []
        for part, y0, y1 in (("legs", waist, int(feet_y) + 2), ("upper", top, waist + 4)):
            surface = skia.Surface(width, y1 - y0)
            canvas = surface.getCanvas()
            canvas.clear(skia.ColorTRANSPARENT)
            canvas.translate(-x0, -y0)
            self._draw_body(canvas, character, part)
            images.append(surface.makeImageSnapshot())
        return images[0], images[1], float(x0), float(top), float(waist)

    def _draw_body(self, canvas: skia.Canvas, character: CharacterLayout, part: str) -> None:
        look = character.spec.appearance
        s = self.px_per_m
        gains = self.gains
        skin = _lit(look.skin_rgb, gains, FOREGROUND_LIGHT_SHARE)
        shirt = _lit(look.shirt_rgb, gains, FOREGROUND_LIGHT_SHARE)
        pants = _lit(look.pants_rgb, gains, FOREGROUND_LIGHT_SHARE)
        hair = _lit(look.hair_rgb, gains, FOREGROUND_LIGHT_SHARE)
        h = character.height_m * s
        feet_x, feet_y = self.to_px(character.x_m, 0.0)
        r = character.head_radius_m * s
        facing = character.facing
        leg_h = 0.42 * h
        if part == "legs":
            leg_w = 0.075 * h
            for dx in (-0.05 * h, 0.05 * h):
                canvas.drawRoundRect(
                    skia.Rect(
                        feet_x + dx - leg_w / 2,
                        feet_y - leg_h,
                        feet_x + dx + leg_w / 2,
                        feet_y - 0.02 * h,
                    ),
                    leg_w / 3,
                    leg_w / 3,
                    _paint(pants),
                )
                canvas.drawRoundRect(
                    skia.Rect(
                        feet_x + dx - leg_w * 0.6 + facing * 0.02 * h,
                        feet_y - 0.035 * h,
                        feet_x + dx + leg_w * 0.8 + facing * 0.03 * h,
                        feet_y,
                    ),
                    5,
                    5,
                    _paint((40, 34, 30)),
                )
            return
        # Torso with a shaded shirt, arms at the sides.
        torso_top = feet_y - leg_h - 0.3 * h
        torso = skia.Rect(
            feet_x - 0.13 * h, torso_top, feet_x + 0.13 * h, feet_y - leg_h + 0.02 * h
        )
        canvas.drawRoundRect(
            torso,
            0.06 * h,
            0.06 * h,
            skia.Paint(
                AntiAlias=True,
                Shader=skia.GradientShader.MakeLinear(
                    [(torso.left(), 0), (torso.right(), 0)],
                    [_color(_shade(shirt, 1.15)), _color(shirt), _color(_shade(shirt, 0.7))],
                ),
            ),
        )
        for side in (-1, 1):
            if side == facing and character.spec.name in self.wavers:
                continue  # that arm is drawn each frame, raised (_draw_raised_arm)
            self._draw_arm(canvas, character, side, side * 6.0)
        # Neck and head.
        hx, hy = self.to_px(*character.head_center_m)
        canvas.drawRect(
            skia.Rect(hx - 0.2 * r, hy + 0.7 * r, hx + 0.2 * r, torso_top + 4),
            _paint(_shade(skin, 0.85)),
        )
        canvas.save()
        aspect = FACE_ASPECT[look.face_shape]
        if aspect != 1.0:
            canvas.translate(hx, hy)
            canvas.scale(1.0, aspect)
            canvas.translate(-hx, -hy)
        if look.hair_style in ("long", "ponytail", "medium"):  # behind the head
            bottom = 0.55 if look.hair_style == "medium" else 1.25  # a bob ends at the jaw
            canvas.drawRoundRect(
                skia.Rect(hx - 1.08 * r, hy - 0.6 * r, hx + 1.08 * r, hy + bottom * r),
                0.5 * r,
                0.5 * r,
                _paint(_shade(hair, 0.85)),
            )
        canvas.drawCircle(
            hx,
            hy,
            r,
            skia.Paint(
                AntiAlias=True,
                Shader=skia.GradientShader.MakeRadial(
                    (hx + self.light_dx * r, hy - 0.35 * r),
                    1.4 * r,
                    [_color(_shade(skin, 1.12)), _color(skin), _color(_shade(skin, 0.78))],
                    [0.0, 0.5, 1.0],
                ),
            ),
        )
        for side in (-1, 1):  # ears
            canvas.drawCircle(
                hx + side * 0.97 * r, hy + 0.05 * r, 0.17 * r, _paint(_shade(skin, 0.92))
            )
        self._draw_hair(canvas, look.hair_style, hx, hy, r, hair)
        canvas.restore()
        for side in (-1, 1):  # eyebrows
            ex, ey = hx + side * 0.36 * r + facing * 0.1 * r, hy - 0.05 * r
            canvas.drawLine(
                ex - 0.15 * r,
                ey - 0.24 * r,
                ex + 0.15 * r,
                ey - 0.27 * r,
                _paint(
                    _shade(hair, 0.7),
                    StrokeWidth=max(2.0, 0.05 * r),
                    StrokeCap=skia.Paint.kRound_Cap,
                ),
            )
        nose_x = hx + facing * 0.16 * r
        canvas.drawArc(
            skia.Rect(nose_x - 0.08 * r, hy + 0.05 * r, nose_x + 0.08 * r, hy + 0.25 * r),
            0,
            180,
            False,
            _paint(_shade(skin, 0.7), Style=skia.Paint.kStroke_Style, StrokeWidth=2),
        )
        if look.glasses:
            self._draw_glasses(canvas, hx, hy, r, facing)

    @staticmethod
    def _draw_glasses(canvas: skia.Canvas, hx: float, hy: float, r: float, facing: int) -> None:
        """Two round rims around the eyes (drawn each frame, on top of this), a bridge
        and the arms back to the ears. The rims clear the whites of the eyes, which is
        how the judge finds a face."""
        rim = _paint(
            GLASSES_RGB,
            Style=skia.Paint.kStroke_Style,
            StrokeWidth=max(1.5, 0.045 * r),
            StrokeCap=skia.Paint.kRound_Cap,
        )
        lens_r = 0.21 * r
        ey = hy - 0.05 * r  # the eyes' height, as _draw_character places them
        centres = [hx + side * 0.36 * r + facing * 0.1 * r for side in (-1, 1)]
        for side, ex in zip((-1, 1), centres, strict=True):
            canvas.drawCircle(ex, ey, lens_r, rim)
            canvas.drawLine(
                ex + side * lens_r, ey - 0.04 * r, hx + side * 0.93 * r, ey - 0.1 * r, rim
            )
        canvas.drawLine(centres[0] + lens_r, ey - 0.04 * r, centres[1] - lens_r, ey - 0.04 * r, rim)

    def _draw_character(self, canvas: skia.Canvas, character: CharacterLayout, i: int) -> None:
        spec, look = character.spec, character.spec.appearance
        t = i / self.sim.fps
        h = character.height_m * self.px_per_m
        r = character.head_radius_m * self.px_per_m
        # Breathing lifts the upper body by a pixel or two, slowly.
        breathe = round(
            0.006 * h * math.sin(2 * math.pi * t / 3.6 + (0 if character.facing > 0 else 1.3))
        )
        legs, upper, x0, top, waist = self.character_sprites[spec.name]
        canvas.save()
        if spec.action == "jump":  # hops of 0.9 s, 0.35 m high, on the spot
            phase = (t % 0.9) / 0.9
            canvas.translate(0.0, -4 * 0.35 * phase * (1 - phase) * self.px_per_m)
        stride = 0.0
        if spec.name in self.walkers:
            dx, stride = self._walk(character, t)
            canvas.translate(dx, -abs(math.sin(math.pi * stride)) * 0.012 * h)
        if stride:  # the legs scissor about the waist: each half leans its own way
            cx = float(x0 + legs.width() / 2)
            swing = 0.28 * abs(math.sin(math.pi * stride))  # apart mid-step, together
            for side, lean in ((-1, -swing), (1, swing)):  # as each foot passes the other
                canvas.save()
                left = float(x0) if side < 0 else cx
                canvas.translate(cx, float(waist))
                canvas.skew(lean, 0.0)
                canvas.translate(-cx, -float(waist))
                canvas.clipRect(skia.Rect(left, float(waist), left + legs.width() / 2, 1e5))
                canvas.drawImage(legs, x0, waist)
                canvas.restore()
        else:
            canvas.drawImage(legs, x0, waist)
        canvas.drawImage(upper, x0, top - breathe)
        if spec.name in self.wavers:  # the front arm up, the hand waving side to side
            side = character.facing
            wave = 150.0 + 22.0 * math.sin(2 * math.pi * t / 0.7)
            self._draw_arm(canvas, character, side, -side * wave, lift_px=breathe)
        aperture = float(self.mouths[spec.name][i]) if spec.name in self.mouths else 0.0
        facing = character.facing
        skin = _lit(look.skin_rgb, self.gains, FOREGROUND_LIGHT_SHARE)
        hx, hy = self.to_px(*character.head_center_m)
        hy -= breathe
        # Eyes look toward the middle of the frame; they close briefly to blink.
        blinking = np.any(np.abs(self.blinks.get(spec.name, np.array([])) - t) < 0.06)
        for side in (-1, 1):
            ex, ey = hx + side * 0.36 * r + facing * 0.1 * r, hy - 0.05 * r
            if blinking:
                canvas.drawLine(
                    ex - 0.15 * r, ey, ex + 0.15 * r, ey, _paint((40, 30, 30), StrokeWidth=2)
                )
            else:
                canvas.drawOval(
                    skia.Rect(ex - 0.16 * r, ey - 0.12 * r, ex + 0.16 * r, ey + 0.12 * r),
                    _paint((250, 250, 250)),
                )
                canvas.drawCircle(ex + facing * 0.05 * r, ey, 0.075 * r, _paint(look.eye_rgb))
                canvas.drawCircle(
                    ex + facing * 0.05 * r + 0.02 * r,
                    ey - 0.03 * r,
                    0.022 * r,
                    _paint((255, 255, 255)),
                )
        # The mouth: its opening follows the phonemes being spoken.
        mx, my = hx + facing * 0.12 * r, hy + 0.45 * r
        mw = 0.3 * r * (1.0 - 0.15 * aperture)
        mh = 0.035 * r + 0.26 * r * aperture
        lips = _shade(skin, 0.62)
        canvas.drawOval(
            skia.Rect(mx - mw - 2, my - mh / 2 - 2, mx + mw + 2, my + mh / 2 + 2), _paint(lips)
        )
        canvas.drawOval(skia.Rect(mx - mw, my - mh / 2, mx + mw, my + mh / 2), _paint((70, 16, 24)))
        if aperture > 0.3:
            canvas.drawRect(
                skia.Rect(mx - 0.6 * mw, my - mh / 2, mx + 0.6 * mw, my - mh / 2 + 0.07 * r),
                _paint((245, 245, 240)),
            )
        canvas.restore()

    def _draw_arm(
        self, canvas: skia.Canvas, character: CharacterLayout, side: int, degrees: float,
        lift_px: float = 0.0,
    ) -> None:  # fmt: skip
        """One arm hanging from its shoulder, turned by `degrees` (0: straight down)."""
        look = character.spec.appearance
        h = character.height_m * self.px_per_m
        feet_x, feet_y = self.to_px(character.x_m, 0.0)
        torso_top = feet_y - 0.42 * h - 0.3 * h
        canvas.save()
        canvas.translate(feet_x + side * 0.135 * h, torso_top + 0.03 * h - lift_px)
        canvas.rotate(degrees)
        shirt = _lit(look.shirt_rgb, self.gains, FOREGROUND_LIGHT_SHARE)
        skin = _lit(look.skin_rgb, self.gains, FOREGROUND_LIGHT_SHARE)
        canvas.drawRoundRect(
            skia.Rect(-0.035 * h, 0, 0.035 * h, 0.27 * h), 0.03 * h, 0.03 * h,
            _paint(_shade(shirt, 0.9)),
        )  # fmt: skip
        canvas.drawCircle(0, 0.29 * h, 0.032 * h, _paint(skin))
        canvas.restore()

    def _walk(self, character: CharacterLayout, t: float) -> tuple[float, float]:
        """A walking (running) character crosses up to 1.2 m (2 m) the way it faces over
        the clip, centred on its place: its offset in px and its stride phase."""
        running = character.spec.action == "run"
        duration = self.sim.frame_count / self.sim.fps
        speed = 1.0 if running else 0.45  # m/s
        distance = min(speed * duration, 2.0 if running else 1.2)
        progress = t / max(duration, 1e-6)
        dx_m = character.facing * distance * (progress - 0.5)
        stride_s = 0.3 if running else 0.5
        return dx_m * self.px_per_m, t / stride_s

    @staticmethod
    def _draw_hair(
        canvas: skia.Canvas, style: str, hx: float, hy: float, r: float, hair: RGB
    ) -> None:
        paint = _paint(hair)
        if style == "bald":
            canvas.drawArc(
                skia.Rect(hx - r, hy - r, hx + r, hy + r),
                200,
                140,
                False,
                _paint((255, 255, 255), 60, Style=skia.Paint.kStroke_Style, StrokeWidth=3),
            )
            return
        cap = skia.Path()
        # The cap ends above the eyebrows, leaving a forehead; sideburns frame the face.
        cap.addArc(skia.Rect(hx - 1.05 * r, hy - 1.1 * r, hx + 1.05 * r, hy + 0.2 * r), 180, 180)
        cap.close()
        canvas.drawPath(cap, paint)
        for side in (-1, 1):
            canvas.drawRoundRect(
                skia.Rect(
                    hx + side * 0.8 * r - 0.12 * r,
                    hy - 0.5 * r,
                    hx + side * 0.8 * r + 0.12 * r,
                    hy + 0.15 * r,
                ),
                0.08 * r,
                0.08 * r,
                paint,
            )
        if style == "curly":
            for k in range(9):
                a = math.pi + k * math.pi / 8
                canvas.drawCircle(
                    hx + 1.0 * r * math.cos(a),
                    hy - 0.1 * r + 0.95 * r * math.sin(a),
                    0.22 * r,
                    paint,
                )
        elif style == "bun":
            canvas.drawCircle(hx, hy - 1.1 * r, 0.32 * r, paint)
        elif style == "ponytail":
            canvas.drawOval(
                skia.Rect(hx + 0.8 * r, hy - 0.3 * r, hx + 1.35 * r, hy + 0.9 * r), paint
            )

    # -- weather -------------------------------------------------------------------------
    def _draw_weather(self, canvas: skia.Canvas, i: int) -> None:
        weather = self.plan.setting.weather
        if weather == "clear" or (weather == "wind" and self.plan.setting.indoor):
            return
        rng = np.random.default_rng((self.seed, i))
        if self.plan.setting.indoor:
            rect = getattr(self, "window_rect", None)
            if rect is None:
                return
            canvas.save()
            canvas.clipRect(rect)
            left, top, right, bottom = rect.left(), rect.top(), rect.right(), rect.bottom()
            drops = 25
        else:
            left, top, right, bottom = 0.0, 0.0, float(self.width), float(self.height)
            drops = 160
            canvas.save()
        if weather == "rain":
            paint = _paint((200, 210, 230), 130, StrokeWidth=1.5)
            xs, ys = rng.uniform(left, right, drops), rng.uniform(top, bottom, drops)
            for x, y in zip(xs, ys, strict=True):
                canvas.drawLine(x, y, x - 4, y + 26, paint)
        elif weather == "snow":
            paint = _paint((250, 250, 255), 220)
            fall = (i * 3.0) % (bottom - top)
            base = np.random.default_rng(self.seed)
            xs, ys = base.uniform(left, right, drops), base.uniform(top, bottom, drops)
            for k, (x, y) in enumerate(zip(xs, ys, strict=True)):
                yy = top + (y - top + fall * (0.7 + 0.3 * (k % 3))) % (bottom - top)
                canvas.drawCircle(x + 6 * math.sin(i / 9 + k), yy, 2.5, paint)
        else:  # wind: leaves blowing across
            paint = _paint((150, 120, 50), 230)
            base = np.random.default_rng(self.seed)
            for k in range(14):
                x0, y0 = base.uniform(left, right), base.uniform(top, bottom * 0.8)
                x = left + (x0 - left + i * (9 + k % 4)) % (right - left)
                y = y0 + 12 * math.sin(i / 7 + k)
                canvas.drawOval(skia.Rect(x - 6, y - 3, x + 6, y + 3), paint)
        canvas.restore()
