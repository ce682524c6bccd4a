"""The `sim` engine: a deterministic world simulator.

ScenePlan → physics (world.py) → speech and mouth shapes (speech.py) → frames (render.py)
and sound from the simulation's own events (audio.py). It is the ground truth for physics
and sync, and the source of training data for learned engines.

The clip's frames are a FrameSource: each is drawn when it is asked for (by the encoder,
one at a time), because a frame is a pure function of its index and 10 s of 720x1280 held
as an array is 663 MB. The engine's own progress therefore stops at 0.3; the pipeline's
encode stage carries the bar on while the frames are drawn.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np

from reelforge.assets.catalogue import Catalogue, load_catalogue
from reelforge.assets.install import default_assets_dir
from reelforge.engines import Capabilities, References
from reelforge.engines.sim import audio as sound
from reelforge.engines.sim.render import Renderer
from reelforge.engines.sim.speech import Utterance, mouth_aperture, synthesize
from reelforge.engines.sim.thing_audio import synthesize_things
from reelforge.engines.sim.things import Thing, ThingsSim, simulate_things
from reelforge.engines.sim.things import World as ThingWorld
from reelforge.engines.sim.world import (
    FLOOR_FRACTION,
    Contact,
    Simulation,
    free_range,
    place_characters,
    simulate,
    view_size_m,
)
from reelforge.settings import Settings
from reelforge.types import (
    AUDIO_SAMPLE_RATE,
    SUPPORTED_FPS,
    SUPPORTED_SIZES,
    Clip,
    ContactEvent,
    FrameRender,
    FrameSource,
    Progress,
    ScenePlan,
    SoundEvent,
    SpeechSegment,
    ThingSpec,
    parse_size,
)

LINE_GAP_S = 0.3  # the shortest pause between two lines of dialogue


@dataclass(frozen=True)
class SpokenLine:
    character: str
    text: str
    start_s: float
    utterance: Utterance


class SimEngine:
    name = "sim"
    capabilities = Capabilities(
        audio=True,
        image_input=True,  # the image becomes the scene's backdrop: frame 0 starts from it
        cameos=True,  # a verified cameo's likeness, cast into the plan (cameos/draw.py)
        max_seconds=20.0,
        sizes=SUPPORTED_SIZES,
        fps=SUPPORTED_FPS,
        cameo_images=False,
    )

    def __init__(self, settings: Settings):
        self.settings = settings

    def generate(
        self,
        plan: ScenePlan,
        *,
        seconds: float,
        size: str,
        fps: int,
        seed: int,
        references: References | None = None,
        progress: Progress | None = None,
    ) -> Clip:
        report = progress or (lambda stage, fraction: None)
        width, height = parse_size(size)
        frame_count = max(1, round(seconds * fps))
        duration_s = frame_count / fps
        n_samples = round(duration_s * AUDIO_SAMPLE_RATE)
        timings: dict[str, float] = {}
        # Independent streams per stage, so changing one stage never reshuffles another.
        # (Spawned children depend only on their index: adding streams keeps the others.)
        streams = np.random.default_rng(seed).spawn(6)

        # 1. Speech first: real utterance lengths decide when each line starts.
        started = time.perf_counter()
        report("speech", 0.0)
        spoken = self._speak(plan)
        timings["speech_s"] = time.perf_counter() - started

        # 2. The plan's things and what they do (closed-form paths and their sound events),
        # then the physics, through which the moving things pass as kinematic bodies.
        started = time.perf_counter()
        report("physics", 0.05)
        things = (
            self._things(plan, width, height, frame_count, fps, streams[4]) if plan.things else None
        )
        sim = simulate(
            plan,
            width_px=width,
            height_px=height,
            fps=fps,
            frame_count=frame_count,
            rng=streams[0],
            things=things,
        )
        sim.things = things
        timings["physics_s"] = time.perf_counter() - started

        # 3. Mouth opening per frame from the phonemes being spoken.
        frame_times = np.arange(frame_count) / fps
        mouths: dict[str, np.ndarray] = {}
        for character in plan.characters:
            track = np.zeros(frame_count, np.float32)
            for line in spoken:
                if line.character == character.name:
                    track = np.maximum(
                        track, mouth_aperture(line.utterance, frame_times - line.start_s)
                    )
            mouths[character.name] = track

        # 4. Frames: the renderer is set up (background, sprites) now; each frame is drawn
        # when it is asked for. render_s here is the set-up; the source times the frames.
        started = time.perf_counter()
        report("render", 0.15)
        plate = references.first_frame if references is not None else None
        drawn_objects = any(o.asset for o in plan.objects)
        renderer = Renderer(
            sim, plan, width, height, mouths, seed, plate=plate,
            catalogue=self._catalogue() if drawn_objects else None,
        )  # fmt: skip
        frames = FrameSource(frame_count, height, width, _rgb_frames(renderer))
        timings["render_s"] = time.perf_counter() - started

        # 5. Sound.
        started = time.perf_counter()
        report("audio", 0.2)
        audio = self._mix(plan, sim, spoken, n_samples, streams[1:4] + streams[5:6])
        timings["audio_s"] = time.perf_counter() - started
        report("audio", 0.3)

        return Clip(
            frames=frames,
            audio=audio,
            fps=fps,
            sample_rate=AUDIO_SAMPLE_RATE,
            contacts=[self._contact_event(c, renderer) for c in sim.contacts],
            sounds=self._sound_events(sim, renderer),
            speech=[
                SpeechSegment(
                    character=line.character,
                    text=line.text,
                    start_s=line.start_s,
                    end_s=line.start_s + line.utterance.duration_s,
                    phonemes=tuple(
                        (line.start_s + p0, ph) for p0, _, ph in line.utterance.phonemes
                    ),
                )
                for line in spoken
            ],
            mouth_apertures=mouths,
            mouth_boxes_px={c.spec.name: renderer.mouth_box_px(c) for c in sim.characters},
            tracks={
                **{b.name: self._track_px(b.track, renderer) for b in sim.bodies},
                **{t.name: self._track_px(t.track[:, :3], renderer) for t in self._things_of(sim)},
            },
            timings_s=timings,
        )

    # -- helpers --------------------------------------------------------------------------
    def _things(
        self,
        plan: ScenePlan,
        width: int,
        height: int,
        frame_count: int,
        fps: int,
        rng: np.random.Generator,
    ) -> ThingsSim:
        catalogue = self._catalogue()
        view_w, view_h = view_size_m(width, height)
        characters = place_characters(plan.characters, view_w)
        lo, hi = free_range(characters, view_w)
        hands = {
            c.spec.name: (c.x_m + c.facing * 0.24 * c.height_m, 0.5 * c.height_m, c.facing)
            for c in characters
        }
        world = ThingWorld(
            view_w=view_w,
            view_h=view_h,
            ceiling=view_h * (1 - FLOOR_FRACTION),
            times=np.arange(frame_count) / fps,
            rng=rng,
            hands=hands,
            lo=lo,
            hi=hi,
            setting=plan.setting.kind,
        )
        return simulate_things(_one_instrument_each(plan.things, list(hands)), catalogue, world)

    def _catalogue(self) -> Catalogue:
        return load_catalogue(self.settings.assets_dir or default_assets_dir())

    @staticmethod
    def _things_of(sim: Simulation) -> list[Thing]:
        return sim.things.things if sim.things is not None else []

    @staticmethod
    def _sound_events(sim: Simulation, renderer: Renderer) -> list[SoundEvent]:
        if sim.things is None:
            return []
        events = []
        for e in sim.things.events:
            x_px, y_px = renderer.to_px(e.x_m, e.y_m)
            events.append(SoundEvent(e.time_s, e.sound, e.thing, round(x_px, 1), round(y_px, 1)))
        return events

    @staticmethod
    def _speak(plan: ScenePlan) -> list[SpokenLine]:
        """Synthesize every line; start each at its planned time or after the previous one."""
        lines = sorted(
            (
                (line.start_s, c.name, line.text, c.voice)
                for c in plan.characters
                for line in c.lines
            ),
            key=lambda item: item[0],
        )
        spoken: list[SpokenLine] = []
        free_at = 0.0
        for start_s, name, text, voice in lines:
            utterance = synthesize(text, voice)
            start = max(start_s, free_at)
            spoken.append(SpokenLine(name, text, start, utterance))
            free_at = start + utterance.duration_s + LINE_GAP_S
        return spoken

    @staticmethod
    def _mix(
        plan: ScenePlan,
        sim: Simulation,
        spoken: list[SpokenLine],
        n_samples: int,
        streams: list[np.random.Generator],
    ) -> np.ndarray:
        mix = sound.synthesize_ambience(plan.sound.ambience, n_samples, streams[0])
        mix += sound.synthesize_impacts(sim.contacts, sim, n_samples, streams[1])
        mix += sound.synthesize_surface_motion(sim, n_samples, streams[2])
        if sim.things is not None:
            mix += synthesize_things(sim.things, sim.view_w_m, n_samples, streams[3])
        positions = {c.spec.name: c.x_m / sim.view_w_m for c in sim.characters}
        for line in spoken:
            sound.place_speech(
                mix, line.utterance.audio, line.start_s, positions.get(line.character, 0.5)
            )
        return sound.master(mix)

    @staticmethod
    def _contact_event(contact: Contact, renderer: Renderer) -> ContactEvent:
        x_px, y_px = renderer.to_px(contact.x_m, contact.y_m)
        return ContactEvent(
            time_s=contact.time_s,
            object_a=contact.a,
            object_b=contact.b,
            impulse=contact.impulse,
            speed=contact.speed,
            x_px=x_px,
            y_px=y_px,
        )

    @staticmethod
    def _track_px(track: np.ndarray, renderer: Renderer) -> np.ndarray:
        px = np.empty_like(track)
        px[:, 0] = track[:, 0] * renderer.px_per_m
        px[:, 1] = renderer.height - (track[:, 1] - renderer.sim.floor_y_m) * renderer.px_per_m
        px[:, 2] = track[:, 2]
        return px


def _rgb_frames(renderer: Renderer) -> FrameRender:
    """Frame i drawn by `renderer` (RGBA into its own buffer) → `out` (H, W, 3) RGB."""

    def draw(index: int, out: np.ndarray) -> None:
        renderer.render_frame(index)
        cv2.cvtColor(renderer.buffer, cv2.COLOR_RGBA2RGB, dst=out)

    return draw


def _one_instrument_each(things: list[ThingSpec], players: list[str]) -> list[ThingSpec]:
    """ "Two friends play a guitar and a banjo": both instruments are aimed at the friends'
    first name; each goes to a player who has none yet while there are such players."""
    holding: set[str] = set()
    placed: list[ThingSpec] = []
    for spec in things:
        if spec.behaviour == "play" and spec.target in players:
            if spec.target in holding:
                free = [p for p in players if p not in holding]
                if free:
                    spec = spec.model_copy(update={"target": free[0]})
            holding.add(spec.target or "")
        placed.append(spec)
    return placed
