"""Colours and light for the sim's painters, and the stage they draw on: the frame's size,
the world→pixel mapping and the scene's light, shared by the backdrop, the props, the
figures and the renderer that composes them."""

from __future__ import annotations

from dataclasses import dataclass

import skia

from reelforge.engines.sim.world import Simulation
from reelforge.types import RGB, ScenePlan

# Lighting multiplies colours: (r, g, b) gains for the scenery, and how much of that the
# lit foreground (objects, characters) takes, so a red ball stays red at night.
LIGHT_GAINS: dict[str, tuple[float, float, float]] = {
    "day": (1.0, 1.0, 1.0),
    "sunset": (1.08, 0.86, 0.72),
    "night": (0.42, 0.48, 0.68),
}

FOREGROUND_LIGHT_SHARE = 0.35


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


def lit_color(rgb: RGB, gains: tuple[float, float, float], share: float = 1.0) -> RGB:
    r, g, b = (
        int(max(0, min(255, c * (1 + share * (k - 1))))) for c, k in zip(rgb, gains, strict=True)
    )
    return r, g, b


def shaded(rgb: RGB, factor: float) -> RGB:
    """factor < 1 darkens, > 1 lightens toward white."""
    if factor <= 1:
        return int(rgb[0] * factor), int(rgb[1] * factor), int(rgb[2] * factor)
    t = factor - 1
    r, g, b = (int(c + (255 - c) * t) for c in rgb)
    return r, g, b


def skia_color(rgb: RGB, alpha: int = 255) -> int:
    return skia.Color(rgb[0], rgb[1], rgb[2], alpha)


def make_paint(rgb: RGB, alpha: int = 255, **kwargs: object) -> skia.Paint:
    return skia.Paint(AntiAlias=True, Color=skia_color(rgb, alpha), **kwargs)


@dataclass(frozen=True)
class Stage:
    """Where and in what light a clip is drawn. Pixel coordinates: x right, y down; the
    world's metres map through `px_per_m`, with the world's floor (y = 0) on the floor line."""

    sim: Simulation
    plan: ScenePlan
    width: int
    height: int
    seed: int

    @property
    def px_per_m(self) -> float:
        sim = self.sim
        return min(self.width, self.height) / (
            sim.view_w_m if self.width <= self.height else sim.view_h_m
        )

    @property
    def gains(self) -> tuple[float, float, float]:
        return LIGHT_GAINS[self.plan.lighting.time_of_day]

    @property
    def light_dx(self) -> float:
        """Where the key light's highlights and shadows lean, as a share of a size."""
        return {"left": -0.35, "right": 0.35, "top": 0.0}[self.plan.lighting.key_from]

    def to_px(self, x_m: float, y_m: float) -> tuple[float, float]:
        return x_m * self.px_per_m, self.height - (y_m - self.sim.floor_y_m) * self.px_per_m

    @property
    def floor_line_px(self) -> float:
        return self.to_px(0.0, 0.0)[1]


class StagePainter:
    """Base of the painters: the stage's facts as attributes, so drawing code reads
    `self.px_per_m`, `self.gains`, `self.to_px(...)`."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        self.sim, self.plan, self.seed = stage.sim, stage.plan, stage.seed
        self.width, self.height = stage.width, stage.height
        self.px_per_m = stage.px_per_m
        self.gains = stage.gains
        self.light_dx = stage.light_dx
        self.floor_line_px = stage.floor_line_px
        self.to_px = stage.to_px
