"""The clip's static backdrop, drawn once: a setting's wall, window and scenery or its
outdoor sky and landscape, the textured floor, the ramp and a vignette; or a given image
(image-to-video) extended by mirroring. A moving camera gets `margin` pixels more on
every side."""

from __future__ import annotations

import numpy as np
import skia

from reelforge.engines.sim import scenery
from reelforge.engines.sim.paint import (
    FLOOR_COLORS,
    SKY_COLORS,
    WALL_COLORS,
    Stage,
    StagePainter,
    lit_color,
    make_paint,
    shaded,
    skia_color,
)

OVERCAST_GREY = (150, 156, 166)


def _greyed(color: tuple[int, int, int], grey: tuple[int, int, int]) -> tuple[int, int, int]:
    """`color` two thirds of the way to `grey`: a clear sky's colour under cloud."""
    return (
        round(color[0] / 3 + 2 * grey[0] / 3),
        round(color[1] / 3 + 2 * grey[1] / 3),
        round(color[2] / 3 + 2 * grey[2] / 3),
    )


class BackdropPainter(StagePainter):
    def __init__(self, stage: Stage, margin: int) -> None:
        super().__init__(stage)
        self.bg_margin = margin
        # Where a window was drawn, for the weather seen through it.
        self.window_rect: skia.Rect | None = None

    def render(self) -> np.ndarray:
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
                self.plan.lighting.time_of_day, lambda rgb: lit_color(rgb, self.gains), rng,
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

    def plate(self, plate: np.ndarray) -> np.ndarray:
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
        base = lit_color(WALL_COLORS.get(kind, WALL_COLORS["room"]), self.gains)
        shader = skia.GradientShader.MakeLinear(
            [(0, top), (0, floor)], [skia_color(shaded(base, 1.08)), skia_color(shaded(base, 0.86))]
        )
        canvas.drawRect(skia.Rect(left, top, right, floor), skia.Paint(Shader=shader))
        line = make_paint(shaded(base, 0.9), Style=skia.Paint.kStroke_Style, StrokeWidth=2)
        s = self.px_per_m
        if kind == "room":  # wallpaper stripes and a wainscot
            for x in np.arange(left, right, 0.28 * s):
                canvas.drawRect(
                    skia.Rect(x, top, x + 0.09 * s, floor - 0.9 * s), make_paint(shaded(base, 0.95))
                )
            canvas.drawRect(
                skia.Rect(left, floor - 0.9 * s, right, floor), make_paint(shaded(base, 0.82))
            )
            canvas.drawLine(left, floor - 0.9 * s, right, floor - 0.9 * s, line)
        elif kind == "kitchen":  # tiled backsplash and a counter line
            y0 = floor - 1.6 * s
            for y in np.arange(y0, floor, 0.15 * s):
                canvas.drawLine(left, y, right, y, line)
            for x in np.arange(left, right, 0.15 * s):
                canvas.drawLine(x, y0, x, floor, line)
            canvas.drawRect(
                skia.Rect(left, y0 - 0.08 * s, right, y0),
                make_paint(lit_color((120, 110, 100), self.gains)),
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
                        make_paint(
                            shaded(base, 0.8), 120, Style=skia.Paint.kStroke_Style, StrokeWidth=3
                        ),
                    )
        # studio: a seamless backdrop, the gradient alone.
        canvas.drawRect(
            skia.Rect(left, floor - 0.06 * s, right, floor), make_paint(shaded(base, 0.7))
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
            [(0, y0), (0, y0 + h)], [skia_color(sky_top), skia_color(sky_bottom)]
        )
        rect = skia.Rect(x0, y0, x0 + w, y0 + h)
        canvas.drawRect(rect, skia.Paint(Shader=shader))
        frame = make_paint((235, 235, 230), Style=skia.Paint.kStroke_Style, StrokeWidth=0.05 * s)
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
        # Rain and snow come from a grey sky: no sun, and more, darker clouds.
        overcast = self.plan.setting.weather in ("rain", "snow") and time != "night"
        if overcast:
            sky_top, sky_bottom = (_greyed(c, OVERCAST_GREY) for c in (sky_top, sky_bottom))
        canvas.drawRect(
            skia.Rect(left, top, right, floor),
            skia.Paint(
                Shader=skia.GradientShader.MakeLinear(
                    [(0, top), (0, floor)], [skia_color(sky_top), skia_color(sky_bottom)]
                )
            ),
        )
        s = self.px_per_m
        if time == "night":
            for _ in range(120):
                x, y = rng.uniform(left, right), rng.uniform(top, floor - 1.5 * s)
                canvas.drawCircle(
                    x, y, float(rng.uniform(0.6, 1.6)), make_paint((255, 255, 240), 200)
                )
            canvas.drawCircle(
                right - 0.25 * self.width,
                top + 0.15 * self.height,
                0.18 * s,
                make_paint((245, 245, 225)),
            )
        else:
            if not overcast:
                sun = (255, 245, 200) if time == "day" else (255, 190, 120)
                cx, cy = left + 0.25 * self.width, floor - (2.9 if time == "day" else 1.3) * s
                glow = skia.GradientShader.MakeRadial(
                    (cx, cy), 0.8 * s, [skia_color(sun, 200), skia_color(sun, 0)]
                )
                canvas.drawCircle(cx, cy, 0.8 * s, skia.Paint(AntiAlias=True, Shader=glow))
                canvas.drawCircle(cx, cy, 0.22 * s, make_paint(sun))
            cloud = (170, 174, 182) if overcast else (250, 250, 252)
            for _ in range(9 if overcast else 4):  # clouds
                x, y = rng.uniform(left, right), rng.uniform(top + 0.1 * s, floor - 2.4 * s)
                for k in range(5):
                    canvas.drawCircle(
                        x + k * 0.16 * s,
                        y + float(rng.uniform(-0.05, 0.05)) * s,
                        float(rng.uniform(0.12, 0.22)) * s,
                        make_paint(lit_color(cloud, self.gains), 215),
                    )
        kind = self.plan.setting.kind
        far = lit_color(
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
                    make_paint(shaded(far, float(rng.uniform(0.8, 1.1)))),
                )
                lit = (255, 220, 140) if time == "night" else shaded(far, 1.35)
                for wy in np.arange(floor - h + 0.12 * s, floor - 0.3 * s, 0.3 * s):
                    for wx in np.arange(x + 0.08 * s, x + w - 0.15 * s, 0.22 * s):
                        canvas.drawRect(
                            skia.Rect(wx, wy, wx + 0.1 * s, wy + 0.14 * s), make_paint(lit, 220)
                        )
                x += w
        elif kind == "beach":  # the sea up to the horizon
            horizon = floor - 0.9 * s
            canvas.drawRect(
                skia.Rect(left, horizon, right, floor),
                skia.Paint(
                    Shader=skia.GradientShader.MakeLinear(
                        [(0, horizon), (0, floor)], [skia_color(far), skia_color(shaded(far, 1.3))]
                    )
                ),
            )
            for y in np.arange(horizon + 0.1 * s, floor, 0.12 * s):
                canvas.drawLine(left, y, right, y, make_paint(shaded(far, 1.5), 90, StrokeWidth=2))
        elif kind in ("park", "forest"):  # hills and trees
            path = skia.Path()
            path.moveTo(left, floor)
            for x in np.linspace(left, right, 9):
                path.lineTo(x, floor - float(rng.uniform(0.5, 1.0)) * s)
            path.lineTo(right, floor)
            path.close()
            canvas.drawPath(path, make_paint(far))
            trees = 14 if kind == "forest" else 5
            for _ in range(trees):
                x = float(rng.uniform(left, right))
                h = float(rng.uniform(1.0, 2.4 if kind == "forest" else 1.6)) * s
                canvas.drawRect(
                    skia.Rect(x - 0.05 * s, floor - h * 0.5, x + 0.05 * s, floor),
                    make_paint(lit_color((90, 60, 40), self.gains)),
                )
                canvas.drawCircle(
                    x,
                    floor - h * 0.6,
                    0.32 * s * h / s / 1.6 + 0.15 * s,
                    make_paint(shaded(far, float(rng.uniform(0.7, 0.95)))),
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
                canvas.drawPath(path, make_paint(far))

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
        base = lit_color(FLOOR_COLORS[kind], self.gains)
        canvas.drawRect(
            skia.Rect(left, floor, right, bottom),
            skia.Paint(
                Shader=skia.GradientShader.MakeLinear(
                    [(0, floor), (0, bottom)],
                    [skia_color(shaded(base, 0.82)), skia_color(shaded(base, 1.06))],
                )
            ),
        )
        s = self.px_per_m
        depth = bottom - floor
        vanish_x = self.width / 2
        line = make_paint(shaded(base, 0.72), Style=skia.Paint.kStroke_Style, StrokeWidth=1.5)
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
                grain = make_paint(
                    shaded(base, 0.85), 90, Style=skia.Paint.kStroke_Style, StrokeWidth=1
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
                    make_paint(shaded(base, float(rng.uniform(0.75, 1.25))), 220, StrokeWidth=1.5),
                )
        elif kind == "water":  # ripples that widen toward the viewer
            for k in range(14):
                y = floor + depth * (k / 14) ** 1.5
                canvas.drawLine(left, y, right, y, make_paint(shaded(base, 1.4), 80, StrokeWidth=2))
        else:  # speckled surfaces: concrete, carpet, sand, asphalt, dirt, snow, rock
            count = {"sand": 1500, "asphalt": 1200, "dirt": 800, "snow": 900}.get(kind, 600)
            for _ in range(count):
                x, y = float(rng.uniform(left, right)), float(rng.uniform(floor, bottom))
                canvas.drawCircle(
                    x,
                    y,
                    float(rng.uniform(0.6, 1.8)),
                    make_paint(shaded(base, float(rng.uniform(0.7, 1.2))), 170),
                )
            if kind == "asphalt":
                y = floor + depth * 0.55
                for x in np.arange(left, right, 0.8 * s):
                    canvas.drawRect(
                        skia.Rect(x, y, x + 0.4 * s, y + 0.04 * s), make_paint((230, 220, 150), 220)
                    )
        # Soft line where floor meets the back: contact shadow.
        canvas.drawRect(skia.Rect(left, floor, right, floor + 6), make_paint((0, 0, 0), 40))

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
        wood = lit_color((170, 120, 70), self.gains)
        canvas.drawPath(
            path,
            skia.Paint(
                AntiAlias=True,
                Shader=skia.GradientShader.MakeLinear(
                    [p_top, base_px],
                    [skia_color(shaded(wood, 1.1)), skia_color(shaded(wood, 0.75))],
                ),
            ),
        )
        canvas.drawLine(
            *p_top,
            *p_bottom,
            make_paint(shaded(wood, 0.6), StrokeWidth=4, StrokeCap=skia.Paint.kRound_Cap),
        )
