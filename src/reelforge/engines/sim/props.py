"""The plan's objects as the physics moves them: balls (with a pattern where the ball has
one), boxes and other solids with their material's detail, or the asset a noun names,
each with a soft contact shadow on the floor."""

from __future__ import annotations

import math
from collections.abc import Callable

import skia

from reelforge.assets.catalogue import Catalogue
from reelforge.assets.raster import outline, sprite
from reelforge.engines.sim.paint import (
    FOREGROUND_LIGHT_SHARE,
    Stage,
    StagePainter,
    lit_color,
    make_paint,
    shaded,
    skia_color,
)
from reelforge.engines.sim.world import Body
from reelforge.types import RGB


class PropPainter(StagePainter):
    def __init__(self, stage: Stage, catalogue: Catalogue | None) -> None:
        super().__init__(stage)
        self.catalogue = catalogue

    def painter_for(self, body: Body) -> Callable[[skia.Canvas, float, float, float], None]:
        """Build the paints for one object once; return a function drawing it at a pose."""
        spec = body.spec
        s = self.px_per_m
        if spec.asset is not None and self.catalogue is not None and spec.asset in self.catalogue:
            return self._asset_painter(body)
        base = lit_color(spec.rgb, self.gains, FOREGROUND_LIGHT_SHARE)
        light, dark = shaded(base, 1.35), shaded(base, 0.55)
        alpha = 190 if spec.material in ("glass", "ice") else 255
        outline = make_paint(
            shaded(base, 0.45), alpha, Style=skia.Paint.kStroke_Style, StrokeWidth=1.5
        )
        lx = self.light_dx
        if spec.kind == "ball":
            r = body.size_m / 2 * s
            shine = 0.55 if spec.material in ("metal", "glass", "plastic", "ice") else 0.25
            fill = skia.Paint(
                AntiAlias=True,
                Shader=skia.GradientShader.MakeRadial(
                    (lx * r, -0.4 * r),
                    1.35 * r,
                    [skia_color(light, alpha), skia_color(base, alpha), skia_color(dark, alpha)],
                    [0.0, 0.45, 1.0],
                ),
            )
            stripe = make_paint(
                shaded(base, 0.7),
                alpha,
                Style=skia.Paint.kStroke_Style,
                StrokeWidth=max(1.5, 0.09 * r),
            )
            spot = make_paint((255, 255, 255), int(200 * shine))

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
                [
                    skia_color(light, alpha),
                    skia_color(base, alpha),
                    skia_color(shaded(base, 0.7), alpha),
                ],
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
        line = make_paint(
            shaded(base, 0.62),
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
            rivet = make_paint(shaded(base, 1.4), alpha)

            def rivets(canvas: skia.Canvas) -> None:
                for dx in (-0.75, 0.75):
                    for dy in (-0.75, 0.75):
                        canvas.drawCircle(dx * half, dy * half, 0.07 * half, rivet)

            return rivets
        if material in ("plastic", "glass", "ice"):
            gloss = make_paint((255, 255, 255), 110)

            def glossy(canvas: skia.Canvas) -> None:
                canvas.drawRoundRect(
                    skia.Rect(-half * 0.7, -half * 0.75, -half * 0.35, half * 0.2), 3, 3, gloss
                )

            return glossy
        return lambda canvas: None

    def draw_shadow(self, canvas: skia.Canvas, body: Body, i: int) -> None:
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
