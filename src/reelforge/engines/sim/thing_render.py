"""Drawing the sim's things: asset sprites at their poses, shadows, and the effects that
behaviours leave in the air (rocket flame and smoke, crash debris, splashes).

Sprites come from assets.raster (SVG rasterised once per asset, pixel height and tint).
Drawings face where they were drawn facing; a thing moving the other way is mirrored.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import skia

from reelforge.assets.raster import sprite
from reelforge.engines.sim.things import Thing, ThingsSim

SAMPLING = skia.SamplingOptions(skia.FilterMode.kLinear, skia.MipmapMode.kNone)
ToPx = Callable[[float, float], tuple[float, float]]


class ThingPainter:
    def __init__(
        self,
        sim: ThingsSim,
        px_per_m: float,
        to_px: ToPx,
        fps: int,
        seed: int,
        skins: dict[str, tuple[int, int, int]],  # character name → skin colour
    ):
        self.sim, self.px_per_m, self.to_px, self.fps = sim, px_per_m, to_px, fps
        self.skins = skins
        # Notes each played thing sounds: (onset_s, midi) in time order.
        self.notes: dict[str, list[tuple[float, int]]] = {}
        for e in sim.events:
            if e.sound.startswith("note:"):
                self.notes.setdefault(e.thing, []).append((e.time_s, int(e.sound.split(":")[2])))
        self.images = {
            t.name: sprite(t.asset, max(4, round(t.height_m * px_per_m)), t.spec.rgb)
            for t in sim.things
        }
        self.seed = seed
        self.crashes = [e for e in sim.events if e.sound == "crash"]
        self.splashes = [e for e in sim.events if e.sound == "splash"]
        self.rockets = [t for t in sim.things if t.spec.behaviour == "launch"]
        self.ignitions = {e.thing: e.time_s for e in sim.events if e.sound == "explosion"}

    def draw_layer(self, canvas: skia.Canvas, layer: int, i: int) -> None:
        for thing in self.sim.things:
            if thing.layer != layer:
                continue
            if layer == 2:
                self._shadow(canvas, thing, i)
            held_by = thing.spec.target if thing.spec.target in self.skins else None
            if held_by is not None and thing.spec.behaviour == "flip":
                self._pan(canvas, thing, self.skins[held_by])
            self._draw(canvas, thing, i)
            if held_by is not None and thing.spec.behaviour == "play":
                self._hands_on(canvas, thing, i, self.skins[held_by])

    def draw_effects(self, canvas: skia.Canvas, i: int) -> None:
        t = i / self.fps
        for rocket in self.rockets:
            self._exhaust(canvas, rocket, i, t)
        for crash in self.crashes:
            self._debris(canvas, crash.x_m, crash.y_m, t - crash.time_s, crash.thing)
        for splash in self.splashes:
            self._spray(canvas, splash.x_m, splash.y_m, t - splash.time_s, splash.time_s)

    def _draw(self, canvas: skia.Canvas, thing: Thing, i: int) -> None:
        x, y, angle, facing = thing.track[i]
        image = self.images[thing.name]
        px, py = self.to_px(float(x), float(y))
        canvas.save()
        canvas.translate(px, py)
        canvas.rotate(-math.degrees(float(angle)))
        # Drawings face left (heading 180) or up the diagonal; mirror to face right.
        if facing > 0 and thing.asset.heading_deg != 90.0:
            canvas.scale(-1.0, 1.0)
        canvas.drawImage(image, -image.width() / 2, -image.height() / 2, SAMPLING)
        canvas.restore()

    def _pan(self, canvas: skia.Canvas, thing: Thing, skin: tuple[int, int, int]) -> None:
        """A frying pan under the thing tossed from it, its handle in the holder's hand."""
        x, _, _, facing = thing.track[0]
        rest_y = float(np.min(thing.track[:, 1])) - thing.half_height * 0.8
        s = self.px_per_m
        cx, cy = self.to_px(float(x), rest_y)
        w, h = (thing.width_m * 0.75 + 0.05) * s, 0.05 * s
        hand_side = -1 if facing > 0 else 1  # the holder faces the pan from this side
        handle_end = cx + hand_side * (w + 0.25 * s)
        canvas.drawLine(
            cx + hand_side * w * 0.9,
            cy,
            handle_end,
            cy + 0.02 * s,
            skia.Paint(
                AntiAlias=True,
                Color=skia.Color(40, 40, 44),
                StrokeWidth=0.035 * s,
                StrokeCap=skia.Paint.kRound_Cap,
            ),
        )
        canvas.drawOval(
            skia.Rect(cx - w, cy - h, cx + w, cy + h),
            skia.Paint(AntiAlias=True, Color=skia.Color(55, 55, 60)),
        )
        canvas.drawOval(
            skia.Rect(cx - w * 0.9, cy - h * 1.4, cx + w * 0.9, cy + h * 0.3),
            skia.Paint(AntiAlias=True, Color=skia.Color(90, 90, 96)),
        )
        canvas.drawCircle(
            handle_end, cy + 0.02 * s, 0.05 * s, skia.Paint(AntiAlias=True, Color=skia.Color(*skin))
        )

    def _hands_on(
        self, canvas: skia.Canvas, thing: Thing, i: int, skin: tuple[int, int, int]
    ) -> None:
        """The player's two hands on the instrument; each note moves a hand to its place
        (low notes left, high right on a keyboard) and presses down as it sounds."""
        t = i / self.fps
        notes = self.notes.get(thing.name, [])
        x, y = float(thing.track[i, 0]), float(thing.track[i, 1])
        top = y + thing.half_height * 0.55
        width = thing.width_m * 0.8
        keyboard = thing.asset.id == "musical-keyboard"
        paint = skia.Paint(AntiAlias=True, Color=skia.Color(*skin))
        outline = skia.Paint(
            AntiAlias=True,
            Color=skia.Color(0, 0, 0, 90),
            Style=skia.Paint.kStroke_Style,
            StrokeWidth=1.2,
        )
        sounding = [(onset, pitch) for onset, pitch in notes if onset <= t]
        for hand in (0, 1):
            mine = (
                [(o, p) for o, p in sounding if (p >= 66) == bool(hand)]
                if keyboard
                else (sounding if hand == 1 else [])
            )
            if mine:
                onset, pitch = mine[-1]
                place = (pitch - 58) / 20.0 if keyboard else 0.55
                press = max(0.0, 1.0 - (t - onset) / 0.15)
            else:
                onset, place, press = -1.0, 0.25 + 0.5 * hand, 0.0
            hx = x + (float(np.clip(place, 0.05, 0.95)) - 0.5) * width
            if not keyboard:  # strings: the strumming hand swings across the strings
                hx = x + 0.05 * thing.width_m * (1 if hand else -1)
            hy = top + 0.06 - 0.06 * press if keyboard else y + (0.1 * press if hand else 0.15)
            px, py = self.to_px(hx, hy)
            r = 0.07 * self.px_per_m
            canvas.drawCircle(px, py, r, paint)
            canvas.drawCircle(px, py, r, outline)

    def _shadow(self, canvas: skia.Canvas, thing: Thing, i: int) -> None:
        x, y = float(thing.track[i, 0]), float(thing.track[i, 1])
        lift = max(0.0, y - thing.half_height)
        strength = max(0.0, 1.0 - lift / 2.5)
        if strength < 0.05:
            return
        cx, cy = self.to_px(x, 0.0)
        w = 0.45 * thing.width_m * self.px_per_m * (1.0 + 0.2 * lift)
        h = max(2.0, 0.12 * w)
        shader = skia.GradientShader.MakeRadial(
            (cx, cy), w, [skia.Color(0, 0, 0, int(90 * strength)), skia.Color(0, 0, 0, 0)]
        )
        canvas.drawOval(
            skia.Rect(cx - w, cy - h, cx + w, cy + h), skia.Paint(AntiAlias=True, Shader=shader)
        )

    def _exhaust(self, canvas: skia.Canvas, rocket: Thing, i: int, t: float) -> None:
        ignition = self.ignitions.get(rocket.name)
        if ignition is None or t < ignition:
            return
        x, y = float(rocket.track[i, 0]), float(rocket.track[i, 1])
        tail_y = y - rocket.height_m * 0.62
        px, py = self.to_px(x, tail_y)
        s = self.px_per_m
        rng = np.random.default_rng((self.seed, i, 7))
        flicker = 1.0 + 0.15 * float(rng.standard_normal())
        for radius, color in (
            (0.32, (255, 120, 20, 200)),
            (0.2, (255, 220, 80, 230)),
            (0.1, (255, 255, 220, 255)),
        ):
            flame = skia.Path()
            w, h = radius * s * 0.6, radius * s * 2.2 * flicker
            flame.moveTo(px - w, py)
            flame.quadTo(px, py + 2 * h, px + w, py)
            flame.close()
            canvas.drawPath(flame, skia.Paint(AntiAlias=True, Color=skia.Color(*color)))
        # Smoke: puffs left where the tail was, growing and fading.
        frame_times = np.arange(i + 1) / self.fps
        for k in range(max(0, i - 40), i + 1, 2):
            if frame_times[k] < ignition:
                continue
            age = t - frame_times[k]
            sx = float(rocket.track[k, 0]) + 0.25 * math.sin(k * 1.7) * age
            sy = float(rocket.track[k, 1]) - rocket.height_m * 0.7
            qx, qy = self.to_px(sx, max(sy, 0.05))
            r = (0.12 + 0.5 * age) * s
            alpha = int(max(0.0, 150 * (1 - age / 1.8)))
            if alpha > 0:
                canvas.drawCircle(
                    qx, qy, r, skia.Paint(AntiAlias=True, Color=skia.Color(200, 200, 200, alpha))
                )

    def _debris(self, canvas: skia.Canvas, x: float, y: float, age: float, seed: str) -> None:
        if not 0.0 <= age < 1.2:
            return
        rng = np.random.default_rng(sum(map(ord, seed)))
        paint = skia.Paint(AntiAlias=True)
        for _ in range(14):
            vx, vy = float(rng.uniform(-2.5, 2.5)), float(rng.uniform(1.0, 4.0))
            dx, dy = vx * age, vy * age - 0.5 * 9.81 * age**2
            if y + dy < 0.02:
                dy = 0.02 - y
            px, py = self.to_px(x + dx, y + dy)
            size = float(rng.uniform(0.03, 0.07)) * self.px_per_m
            shade = int(rng.uniform(60, 200))
            paint.setColor(skia.Color(shade, shade, shade + 20, int(255 * (1 - age / 1.2))))
            canvas.save()
            canvas.translate(px, py)
            canvas.rotate(age * float(rng.uniform(200, 700)))
            canvas.drawRect(skia.Rect(-size, -size / 2, size, size / 2), paint)
            canvas.restore()

    def _spray(self, canvas: skia.Canvas, x: float, y: float, age: float, key: float) -> None:
        if not 0.0 <= age < 0.9:
            return
        rng = np.random.default_rng(int(key * 1000))
        paint = skia.Paint(AntiAlias=True)
        for _ in range(18):
            vx, vy = float(rng.uniform(-1.2, 1.2)), float(rng.uniform(1.5, 3.5))
            px, py = self.to_px(x + vx * age, max(0.0, y + vy * age - 0.5 * 9.81 * age**2))
            paint.setColor(skia.Color(230, 245, 255, int(230 * (1 - age / 0.9))))
            canvas.drawCircle(px, py, float(rng.uniform(0.02, 0.05)) * self.px_per_m, paint)
