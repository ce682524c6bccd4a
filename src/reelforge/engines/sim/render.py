"""Composition of a simulated clip's frames with skia: antialiased, shaded, textured.

The static backdrop (backdrop.py: sky or wall, window, scenery, textured floor, ramp,
vignette) is drawn once into a raster image; each frame restores it with one memcpy
(static camera) or draws it through the camera transform (pan, zoom), then draws the
things behind everyone, shadows and characters (figures.py), the things in front, the
objects (props.py) and the weather on top. Paints and gradient shaders are built once per
object in the object's own coordinates, so a frame costs a few transforms and fills.
paint.py holds the colours, the light and the Stage every painter draws on.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import skia

from reelforge.assets.catalogue import Catalogue
from reelforge.engines.sim.backdrop import BackdropPainter
from reelforge.engines.sim.figures import FigurePainter
from reelforge.engines.sim.paint import Stage, StagePainter, lit_color, make_paint
from reelforge.engines.sim.props import PropPainter
from reelforge.engines.sim.thing_render import ThingPainter
from reelforge.engines.sim.world import CharacterLayout, Simulation
from reelforge.types import ScenePlan


@dataclass
class CameraPose:
    scale: float
    dx_px: float
    dy_px: float


class Renderer(StagePainter):
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
        stage = Stage(sim, plan, width, height, seed)
        super().__init__(stage)
        self.buffer = np.zeros((height, width, 4), np.uint8)
        self.surface = skia.Surface(self.buffer)  # draws straight into self.buffer (RGBA)
        self.static_camera = plan.camera.motion == "static"
        # A moving camera needs scenery beyond the frame's edges.
        self.bg_margin = 0 if self.static_camera else int(0.25 * max(width, height))
        self.backdrop = BackdropPainter(stage, self.bg_margin)
        self.background = self.backdrop.render() if plate is None else self.backdrop.plate(plate)
        self.background_image = skia.Image.fromarray(self.background)
        self.props = PropPainter(stage, catalogue)
        self.object_painters = [self.props.painter_for(b) for b in sim.bodies]
        self.figures = FigurePainter(stage, mouth_apertures)
        self.things = (
            ThingPainter(
                sim.things,
                self.px_per_m,
                self.to_px,
                sim.fps,
                seed,
                {
                    c.spec.name: lit_color(c.spec.appearance.skin_rgb, self.gains, 0.35)
                    for c in sim.characters
                },
            )
            if sim.things is not None
            else None
        )

    def mouth_box_px(self, character: CharacterLayout) -> tuple[int, int, int, int]:
        return self.figures.mouth_box_px(character)

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
            self.props.draw_shadow(canvas, body, i)
        for character in self.sim.characters:
            self.figures.draw(canvas, character, i)
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

    # -- weather -------------------------------------------------------------------------
    def _draw_weather(self, canvas: skia.Canvas, i: int) -> None:
        weather = self.plan.setting.weather
        if weather == "clear" or (weather == "wind" and self.plan.setting.indoor):
            return
        rng = np.random.default_rng((self.seed, i))
        if self.plan.setting.indoor:
            rect = self.backdrop.window_rect
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
            paint = make_paint((200, 210, 230), 130, StrokeWidth=1.5)
            xs, ys = rng.uniform(left, right, drops), rng.uniform(top, bottom, drops)
            for x, y in zip(xs, ys, strict=True):
                canvas.drawLine(x, y, x - 4, y + 26, paint)
        elif weather == "snow":
            paint = make_paint((250, 250, 255), 220)
            fall = (i * 3.0) % (bottom - top)
            base = np.random.default_rng(self.seed)
            xs, ys = base.uniform(left, right, drops), base.uniform(top, bottom, drops)
            for k, (x, y) in enumerate(zip(xs, ys, strict=True)):
                yy = top + (y - top + fall * (0.7 + 0.3 * (k % 3))) % (bottom - top)
                canvas.drawCircle(x + 6 * math.sin(i / 9 + k), yy, 2.5, paint)
        else:  # wind: leaves blowing across
            paint = make_paint((150, 120, 50), 230)
            base = np.random.default_rng(self.seed)
            for k in range(14):
                x0, y0 = base.uniform(left, right), base.uniform(top, bottom * 0.8)
                x = left + (x0 - left + i * (9 + k % 4)) % (right - left)
                y = y0 + 12 * math.sin(i / 7 + k)
                canvas.drawOval(skia.Rect(x - 6, y - 3, x + 6, y + 3), paint)
        canvas.restore()
