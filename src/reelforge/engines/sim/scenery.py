"""Backdrops of the places the sim's first ten settings did not cover: a stage, a
classroom, an office, snow, mountains, a city skyline, space, underwater, a farm, a
stadium, the open ocean and the sky. Each is a function that paints everything above the
floor line (the floor itself is render.py's, by floor kind), in the scene's light.

`draw(kind, ...)` is the one entry point; `KINDS` says which settings are drawn here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import skia

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Backdrop:
    """What a painter needs: the canvas area above the floor line and the light."""

    canvas: skia.Canvas
    left: float
    right: float
    top: float
    floor: float  # y of the floor line, px
    px_per_m: float
    time_of_day: str
    lit: Callable[[RGB], RGB]  # a colour in the scene's light
    rng: np.random.Generator

    def paint(self, rgb: RGB, alpha: int = 255, **kwargs: object) -> skia.Paint:
        r, g, b = self.lit(rgb)
        return skia.Paint(AntiAlias=True, Color=skia.Color(r, g, b, alpha), **kwargs)

    def vertical(self, y0: float, y1: float, top: RGB, bottom: RGB) -> skia.Paint:
        a, b = self.lit(top), self.lit(bottom)
        return skia.Paint(
            Shader=skia.GradientShader.MakeLinear(
                [(0, y0), (0, y1)], [skia.Color(*a), skia.Color(*b)]
            )
        )


def _sky(b: Backdrop, bottom: float | None = None) -> None:
    colours = {
        "day": ((110, 165, 230), (200, 225, 245)),
        "sunset": ((90, 70, 140), (250, 170, 100)),
        "night": ((12, 16, 40), (40, 50, 90)),
    }[b.time_of_day]
    y1 = b.floor if bottom is None else bottom
    top, low = colours
    shader = skia.GradientShader.MakeLinear(
        [(0, b.top), (0, y1)], [skia.Color(*top), skia.Color(*low)]
    )
    b.canvas.drawRect(skia.Rect(b.left, b.top, b.right, y1), skia.Paint(Shader=shader))
    if b.time_of_day == "night":
        for _ in range(120):
            x, y = b.rng.uniform(b.left, b.right), b.rng.uniform(b.top, y1)
            b.canvas.drawCircle(
                x,
                y,
                float(b.rng.uniform(0.6, 1.5)),
                skia.Paint(AntiAlias=True, Color=skia.Color(255, 255, 240, 200)),
            )


def _stage(b: Backdrop) -> None:
    """A concert hall's stage: red curtains, a dark back wall and spotlights."""
    s = b.px_per_m
    b.canvas.drawRect(
        skia.Rect(b.left, b.top, b.right, b.floor),
        b.vertical(b.top, b.floor, (30, 20, 28), (60, 40, 50)),
    )
    fold = 0.22 * s
    for side in (-1, 1):
        edge = b.left if side < 0 else b.right
        width = 0.22 * (b.right - b.left)
        for k, x in enumerate(np.arange(0, width, fold)):
            x0 = edge - side * 0 + (x if side < 0 else -x - fold)
            shade = 0.8 + 0.2 * math.sin(k * 1.7)
            colour = (int(170 * shade), int(25 * shade), int(35 * shade))
            b.canvas.drawRect(skia.Rect(x0, b.top, x0 + fold, b.floor), b.paint(colour))
    valance = b.top + 0.12 * (b.floor - b.top)
    b.canvas.drawRect(skia.Rect(b.left, b.top, b.right, valance), b.paint((150, 20, 30)))
    for x in np.linspace(b.left + 0.3 * (b.right - b.left), b.right - 0.3 * (b.right - b.left), 2):
        beam = skia.Path()
        beam.moveTo(x - 0.1 * s, valance)
        beam.lineTo(x + 0.1 * s, valance)
        beam.lineTo(x + 0.9 * s, b.floor)
        beam.lineTo(x - 0.9 * s, b.floor)
        beam.close()
        b.canvas.drawPath(beam, skia.Paint(AntiAlias=True, Color=skia.Color(255, 240, 200, 40)))


def _classroom(b: Backdrop) -> None:
    s = b.px_per_m
    b.canvas.drawRect(
        skia.Rect(b.left, b.top, b.right, b.floor),
        b.vertical(b.top, b.floor, (232, 226, 200), (210, 200, 170)),
    )
    cx = (b.left + b.right) / 2
    board = skia.Rect(cx - 1.2 * s, b.floor - 2.4 * s, cx + 1.2 * s, b.floor - 1.2 * s)
    b.canvas.drawRect(board.makeOutset(0.06 * s, 0.06 * s), b.paint((150, 110, 60)))
    b.canvas.drawRect(board, b.paint((40, 80, 60)))
    chalk = b.paint((235, 235, 225), 200, Style=skia.Paint.kStroke_Style, StrokeWidth=2)
    for k in range(3):  # sums on the board
        y = board.top() + (0.25 + 0.25 * k) * board.height()
        b.canvas.drawLine(board.left() + 0.2 * s, y, board.left() + (0.9 + 0.3 * k) * s, y, chalk)
    b.canvas.drawCircle(b.right - 0.5 * s, b.floor - 2.6 * s, 0.22 * s, b.paint((250, 250, 250)))
    b.canvas.drawCircle(
        b.right - 0.5 * s,
        b.floor - 2.6 * s,
        0.22 * s,
        b.paint((60, 60, 60), Style=skia.Paint.kStroke_Style, StrokeWidth=3),
    )


def _office(b: Backdrop) -> None:
    s = b.px_per_m
    b.canvas.drawRect(
        skia.Rect(b.left, b.top, b.right, b.floor),
        b.vertical(b.top, b.floor, (220, 224, 228), (196, 200, 206)),
    )
    for x in np.arange(b.left + 0.2 * s, b.right, 1.3 * s):  # windows on a city
        window = skia.Rect(x, b.floor - 2.9 * s, x + 1.0 * s, b.floor - 1.1 * s)
        b.canvas.drawRect(
            window, b.vertical(window.top(), window.bottom(), (150, 190, 230), (210, 230, 245))
        )
        for bx in np.arange(window.left(), window.right(), 0.25 * s):
            h = float(b.rng.uniform(0.3, 1.2)) * s
            b.canvas.drawRect(
                skia.Rect(bx, window.bottom() - h, bx + 0.2 * s, window.bottom()),
                b.paint((140, 150, 170), 200),
            )
        b.canvas.drawRect(
            window, b.paint((90, 90, 95), Style=skia.Paint.kStroke_Style, StrokeWidth=0.05 * s)
        )
    desk = skia.Rect(
        b.left + 0.1 * (b.right - b.left),
        b.floor - 0.75 * s,
        b.left + 0.45 * (b.right - b.left),
        b.floor - 0.68 * s,
    )
    b.canvas.drawRect(desk, b.paint((120, 90, 60)))


def _snow(b: Backdrop) -> None:
    _sky(b)
    s = b.px_per_m
    for depth, shade in ((1.4, 0.85), (0.8, 0.95)):  # snowy hills
        path = skia.Path()
        path.moveTo(b.left, b.floor)
        for x in np.linspace(b.left, b.right, 7):
            path.lineTo(x, b.floor - float(b.rng.uniform(0.5, 1.0)) * depth * s)
        path.lineTo(b.right, b.floor)
        path.close()
        b.canvas.drawPath(path, b.paint((int(235 * shade), int(240 * shade), 250)))
    for _ in range(6):  # snowy firs
        x = float(b.rng.uniform(b.left, b.right))
        h = float(b.rng.uniform(0.8, 1.6)) * s
        tree = skia.Path()
        tree.moveTo(x, b.floor - h)
        tree.lineTo(x + 0.3 * h, b.floor)
        tree.lineTo(x - 0.3 * h, b.floor)
        tree.close()
        b.canvas.drawPath(tree, b.paint((40, 90, 70)))
        cap = skia.Path()
        cap.moveTo(x, b.floor - h)
        cap.lineTo(x + 0.1 * h, b.floor - 0.7 * h)
        cap.lineTo(x - 0.1 * h, b.floor - 0.7 * h)
        cap.close()
        b.canvas.drawPath(cap, b.paint((245, 248, 255)))


def _mountains(b: Backdrop) -> None:
    _sky(b)
    s = b.px_per_m
    for layer, (height, colour) in enumerate(((3.4, (120, 130, 160)), (2.2, (90, 110, 120)))):
        x = b.left - 1.0 * s
        while x < b.right + s:
            w = float(b.rng.uniform(1.4, 2.6)) * s
            h = float(b.rng.uniform(0.6, 1.0)) * height * s
            peak = skia.Path()
            peak.moveTo(x, b.floor)
            peak.lineTo(x + w / 2, b.floor - h)
            peak.lineTo(x + w, b.floor)
            peak.close()
            b.canvas.drawPath(peak, b.paint(colour))
            if layer == 0:
                snow = skia.Path()
                snow.moveTo(x + w / 2, b.floor - h)
                snow.lineTo(x + w / 2 + 0.12 * w, b.floor - 0.75 * h)
                snow.lineTo(x + w / 2 - 0.12 * w, b.floor - 0.75 * h)
                snow.close()
                b.canvas.drawPath(snow, b.paint((245, 248, 252)))
            x += 0.7 * w


def _city(b: Backdrop) -> None:
    _sky(b)
    s = b.px_per_m
    night = b.time_of_day == "night"
    for far in (True, False):
        x = b.left
        while x < b.right:
            w = float(b.rng.uniform(0.4, 0.9)) * s
            h = float(b.rng.uniform(2.5, 4.5) if far else b.rng.uniform(1.2, 3.0)) * s
            colour = (70, 74, 96) if far else (100, 104, 120)
            b.canvas.drawRect(skia.Rect(x, b.floor - h, x + w - 3, b.floor), b.paint(colour))
            for wy in np.arange(b.floor - h + 0.1 * s, b.floor - 0.2 * s, 0.22 * s):
                for wx in np.arange(x + 0.06 * s, x + w - 0.12 * s, 0.16 * s):
                    on = b.rng.random() < (0.55 if night else 0.2)
                    light = (255, 215, 120) if night else (180, 200, 225)
                    if on:
                        b.canvas.drawRect(
                            skia.Rect(wx, wy, wx + 0.08 * s, wy + 0.1 * s),
                            skia.Paint(Color=skia.Color(*light, 230)),
                        )
            x += w


def _space(b: Backdrop) -> None:
    s = b.px_per_m
    b.canvas.drawRect(
        skia.Rect(b.left, b.top, b.right, b.floor), skia.Paint(Color=skia.Color(4, 5, 14))
    )
    for _ in range(260):
        x, y = b.rng.uniform(b.left, b.right), b.rng.uniform(b.top, b.floor)
        level = int(b.rng.uniform(120, 255))
        b.canvas.drawCircle(
            x,
            y,
            float(b.rng.uniform(0.5, 1.8)),
            skia.Paint(AntiAlias=True, Color=skia.Color(level, level, 255)),
        )
    cx, cy = b.right - 0.3 * (b.right - b.left), b.top + 0.25 * (b.floor - b.top)
    planet = skia.GradientShader.MakeRadial(
        (cx - 0.2 * s, cy - 0.2 * s),
        0.9 * s,
        [skia.Color(120, 170, 255), skia.Color(30, 60, 140)],
    )
    b.canvas.drawCircle(cx, cy, 0.7 * s, skia.Paint(AntiAlias=True, Shader=planet))


def _underwater(b: Backdrop) -> None:
    s = b.px_per_m
    b.canvas.drawRect(
        skia.Rect(b.left, b.top, b.right, b.floor),
        b.vertical(b.top, b.floor, (40, 140, 200), (10, 50, 100)),
    )
    for _ in range(5):  # light from the surface
        x = float(b.rng.uniform(b.left, b.right))
        ray = skia.Path()
        ray.moveTo(x, b.top)
        ray.lineTo(x + 0.3 * s, b.top)
        ray.lineTo(x + 0.9 * s, b.floor)
        ray.lineTo(x + 0.4 * s, b.floor)
        ray.close()
        b.canvas.drawPath(ray, skia.Paint(AntiAlias=True, Color=skia.Color(200, 240, 255, 28)))
    for _ in range(9):  # seaweed
        x = float(b.rng.uniform(b.left, b.right))
        h = float(b.rng.uniform(0.6, 1.6)) * s
        weed = skia.Path()
        weed.moveTo(x, b.floor)
        for k in range(1, 7):
            weed.lineTo(x + 0.08 * s * math.sin(k * 1.3), b.floor - h * k / 6)
        b.canvas.drawPath(
            weed,
            b.paint(
                (40, 140, 80),
                Style=skia.Paint.kStroke_Style,
                StrokeWidth=0.06 * s,
                StrokeCap=skia.Paint.kRound_Cap,
            ),
        )
    for _ in range(40):  # bubbles
        x, y = b.rng.uniform(b.left, b.right), b.rng.uniform(b.top, b.floor)
        b.canvas.drawCircle(
            x,
            y,
            float(b.rng.uniform(2, 6)),
            skia.Paint(
                AntiAlias=True,
                Color=skia.Color(220, 245, 255, 110),
                Style=skia.Paint.kStroke_Style,
                StrokeWidth=1.2,
            ),
        )


def _farm(b: Backdrop) -> None:
    _sky(b)
    s = b.px_per_m
    hills = skia.Path()
    hills.moveTo(b.left, b.floor)
    for x in np.linspace(b.left, b.right, 6):
        hills.lineTo(x, b.floor - float(b.rng.uniform(0.4, 0.8)) * s)
    hills.lineTo(b.right, b.floor)
    hills.close()
    b.canvas.drawPath(hills, b.paint((120, 170, 80)))
    bx = b.left + 0.62 * (b.right - b.left)
    barn = skia.Path()  # a red barn with a gable roof
    barn.moveTo(bx, b.floor)
    barn.lineTo(bx, b.floor - 1.0 * s)
    barn.lineTo(bx + 0.6 * s, b.floor - 1.5 * s)
    barn.lineTo(bx + 1.2 * s, b.floor - 1.0 * s)
    barn.lineTo(bx + 1.2 * s, b.floor)
    barn.close()
    b.canvas.drawPath(barn, b.paint((170, 40, 35)))
    door = skia.Rect(bx + 0.4 * s, b.floor - 0.6 * s, bx + 0.8 * s, b.floor)
    b.canvas.drawRect(
        door, b.paint((240, 235, 225), Style=skia.Paint.kStroke_Style, StrokeWidth=0.04 * s)
    )
    wood = b.paint((200, 170, 120), StrokeWidth=0.04 * s)
    for x in np.arange(b.left, b.right, 0.5 * s):  # fence
        b.canvas.drawLine(x, b.floor, x, b.floor - 0.45 * s, wood)
    for y in (0.15, 0.35):
        b.canvas.drawLine(b.left, b.floor - y * s, b.right, b.floor - y * s, wood)


def _stadium(b: Backdrop) -> None:
    _sky(b)
    s = b.px_per_m
    stands_top = b.floor - 2.2 * s
    b.canvas.drawRect(skia.Rect(b.left, stands_top, b.right, b.floor), b.paint((70, 74, 90)))
    colours = ((220, 60, 60), (60, 90, 200), (240, 240, 240), (240, 200, 60), (60, 160, 90))
    for y in np.arange(stands_top + 0.08 * s, b.floor - 0.1 * s, 0.16 * s):  # the crowd
        for x in np.arange(b.left, b.right, 0.1 * s):
            c = colours[int(b.rng.integers(len(colours)))]
            b.canvas.drawCircle(x + float(b.rng.uniform(-2, 2)), y, 0.035 * s, b.paint(c))
    for x in (b.left + 0.15 * (b.right - b.left), b.right - 0.15 * (b.right - b.left)):
        b.canvas.drawLine(
            x, stands_top, x, stands_top - 1.4 * s, b.paint((180, 180, 190), StrokeWidth=0.05 * s)
        )
        b.canvas.drawRect(
            skia.Rect(x - 0.3 * s, stands_top - 1.6 * s, x + 0.3 * s, stands_top - 1.35 * s),
            b.paint((250, 250, 230)),
        )


def _ocean(b: Backdrop) -> None:
    horizon = b.floor - 1.6 * b.px_per_m
    _sky(b, horizon)
    b.canvas.drawRect(
        skia.Rect(b.left, horizon, b.right, b.floor),
        b.vertical(horizon, b.floor, (30, 90, 150), (50, 130, 190)),
    )
    for y in np.arange(horizon + 6, b.floor, 14):
        b.canvas.drawLine(b.left, y, b.right, y, b.paint((180, 220, 240), 70, StrokeWidth=2))


def _sky_only(b: Backdrop) -> None:
    _sky(b)
    s = b.px_per_m
    for _ in range(9):
        x, y = b.rng.uniform(b.left, b.right), b.rng.uniform(b.top, b.floor)
        for k in range(5):
            b.canvas.drawCircle(
                x + k * 0.2 * s,
                y + float(b.rng.uniform(-0.06, 0.06)) * s,
                float(b.rng.uniform(0.15, 0.3)) * s,
                b.paint((250, 250, 252), 220),
            )


PAINTERS: dict[str, Callable[[Backdrop], None]] = {
    "stage": _stage,
    "classroom": _classroom,
    "office": _office,
    "snow": _snow,
    "mountains": _mountains,
    "city": _city,
    "space": _space,
    "underwater": _underwater,
    "farm": _farm,
    "stadium": _stadium,
    "ocean": _ocean,
    "sky": _sky_only,
}
KINDS = frozenset(PAINTERS)


def draw(kind: str, backdrop: Backdrop) -> None:
    PAINTERS[kind](backdrop)
