"""The plan's characters: body, clothes, arms, hair and face, drawn each frame with blinks,
lip-synced mouths, waves and walks."""

from __future__ import annotations

import math

import numpy as np
import skia

from reelforge.engines.sim.paint import (
    FOREGROUND_LIGHT_SHARE,
    Stage,
    StagePainter,
    lit_color,
    make_paint,
    shaded,
    skia_color,
)
from reelforge.engines.sim.world import CharacterLayout
from reelforge.types import RGB

# A face's height over its width. The head is drawn as a circle stretched by this about
# its centre, hair included, so the eyes, nose and mouth (and the judge's eye-based face
# finder) stay where they always were.
FACE_ASPECT = {"round": 1.0, "oval": 1.1, "long": 1.2}

GLASSES_RGB = (28, 28, 32)


class FigurePainter(StagePainter):
    def __init__(self, stage: Stage, mouth_apertures: dict[str, np.ndarray]) -> None:
        super().__init__(stage)
        self.mouths = mouth_apertures
        plan, sim = stage.plan, stage.sim
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
        skin = lit_color(look.skin_rgb, gains, FOREGROUND_LIGHT_SHARE)
        shirt = lit_color(look.shirt_rgb, gains, FOREGROUND_LIGHT_SHARE)
        pants = lit_color(look.pants_rgb, gains, FOREGROUND_LIGHT_SHARE)
        hair = lit_color(look.hair_rgb, gains, FOREGROUND_LIGHT_SHARE)
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
                    make_paint(pants),
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
                    make_paint((40, 34, 30)),
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
                    [
                        skia_color(shaded(shirt, 1.15)),
                        skia_color(shirt),
                        skia_color(shaded(shirt, 0.7)),
                    ],
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
            make_paint(shaded(skin, 0.85)),
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
                make_paint(shaded(hair, 0.85)),
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
                    [
                        skia_color(shaded(skin, 1.12)),
                        skia_color(skin),
                        skia_color(shaded(skin, 0.78)),
                    ],
                    [0.0, 0.5, 1.0],
                ),
            ),
        )
        for side in (-1, 1):  # ears
            canvas.drawCircle(
                hx + side * 0.97 * r, hy + 0.05 * r, 0.17 * r, make_paint(shaded(skin, 0.92))
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
                make_paint(
                    shaded(hair, 0.7),
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
            make_paint(shaded(skin, 0.7), Style=skia.Paint.kStroke_Style, StrokeWidth=2),
        )
        if look.glasses:
            self._draw_glasses(canvas, hx, hy, r, facing)

    @staticmethod
    def _draw_glasses(canvas: skia.Canvas, hx: float, hy: float, r: float, facing: int) -> None:
        """Two round rims around the eyes (drawn each frame, on top of this), a bridge
        and the arms back to the ears. The rims clear the whites of the eyes, which is
        how the judge finds a face."""
        rim = make_paint(
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

    def draw(self, canvas: skia.Canvas, character: CharacterLayout, i: int) -> None:
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
        skin = lit_color(look.skin_rgb, self.gains, FOREGROUND_LIGHT_SHARE)
        hx, hy = self.to_px(*character.head_center_m)
        hy -= breathe
        # Eyes look toward the middle of the frame; they close briefly to blink.
        blinking = np.any(np.abs(self.blinks.get(spec.name, np.array([])) - t) < 0.06)
        for side in (-1, 1):
            ex, ey = hx + side * 0.36 * r + facing * 0.1 * r, hy - 0.05 * r
            if blinking:
                canvas.drawLine(
                    ex - 0.15 * r, ey, ex + 0.15 * r, ey, make_paint((40, 30, 30), StrokeWidth=2)
                )
            else:
                canvas.drawOval(
                    skia.Rect(ex - 0.16 * r, ey - 0.12 * r, ex + 0.16 * r, ey + 0.12 * r),
                    make_paint((250, 250, 250)),
                )
                canvas.drawCircle(ex + facing * 0.05 * r, ey, 0.075 * r, make_paint(look.eye_rgb))
                canvas.drawCircle(
                    ex + facing * 0.05 * r + 0.02 * r,
                    ey - 0.03 * r,
                    0.022 * r,
                    make_paint((255, 255, 255)),
                )
        # The mouth: its opening follows the phonemes being spoken.
        mx, my = hx + facing * 0.12 * r, hy + 0.45 * r
        mw = 0.3 * r * (1.0 - 0.15 * aperture)
        mh = 0.035 * r + 0.26 * r * aperture
        lips = shaded(skin, 0.62)
        canvas.drawOval(
            skia.Rect(mx - mw - 2, my - mh / 2 - 2, mx + mw + 2, my + mh / 2 + 2), make_paint(lips)
        )
        canvas.drawOval(
            skia.Rect(mx - mw, my - mh / 2, mx + mw, my + mh / 2), make_paint((70, 16, 24))
        )
        if aperture > 0.3:
            canvas.drawRect(
                skia.Rect(mx - 0.6 * mw, my - mh / 2, mx + 0.6 * mw, my - mh / 2 + 0.07 * r),
                make_paint((245, 245, 240)),
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
        shirt = lit_color(look.shirt_rgb, self.gains, FOREGROUND_LIGHT_SHARE)
        skin = lit_color(look.skin_rgb, self.gains, FOREGROUND_LIGHT_SHARE)
        canvas.drawRoundRect(
            skia.Rect(-0.035 * h, 0, 0.035 * h, 0.27 * h), 0.03 * h, 0.03 * h,
            make_paint(shaded(shirt, 0.9)),
        )  # fmt: skip
        canvas.drawCircle(0, 0.29 * h, 0.032 * h, make_paint(skin))
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
        paint = make_paint(hair)
        if style == "bald":
            canvas.drawArc(
                skia.Rect(hx - r, hy - r, hx + r, hy + r),
                200,
                140,
                False,
                make_paint((255, 255, 255), 60, Style=skia.Paint.kStroke_Style, StrokeWidth=3),
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
