"""Things from the asset library in the sim world: where they stand, what they do, and
every sound they make, at its exact time.

1. Size: a thing's real size is compressed for the frame (drawn = 0.9 m × size^0.5,
   clipped), so a rocket and a dog share a shot and both read; "big"/"small" scale it.
2. Layout: sky things (sun, moon, clouds) high up, buildings and landscape behind on the
   ground line, everything else spread over the floor between the characters.
3. Behaviours: each is a closed-form path over the clip's frame times (x, y, angle,
   facing), so events (a landing, a crash, a catch, a footstep) are known to the sample,
   not to a physics step. Who interacts with whom comes from the plan's targets: a catcher
   meets the thrown thing's predicted path; two crashing movers touch where their
   outlines (raster.outline, the drawing's convex hull) meet; a thing held by a character
   (a pancake flipped by a chef, a piano played by a girl) sits at their hands.
4. Sound events: impacts, footsteps on the gait, calls, whooshes, crashes, notes; and
   continuous sources (engines, rocket thrust) as per-frame speed and position.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from reelforge.assets.catalogue import Asset, Catalogue
from reelforge.assets.raster import outline
from reelforge.types import ThingSpec

GRAVITY = 9.81
SIZE_SCALE = {"small": 0.7, "medium": 1.0, "large": 1.4, None: 1.0}
SKY_CATEGORIES = ("celestial", "weather")
BACKDROP_CATEGORIES = ("building", "landscape")
SPEED_M_S = {
    "walk": 0.7,
    "run": 1.8,
    "drive": 2.4,
    "fly": 1.2,
    "glide": 0.9,
    "swim": 0.8,
    "float": 0.25,
    "hop": 0.9,
    "chase": 1.6,
    "follow": 0.8,
}
RESTITUTION = {
    "rubber": 0.75,
    "plastic": 0.55,
    "wood": 0.4,
    "metal": 0.3,
    "glass": 0.45,
    "stone": 0.2,
    "ice": 0.3,
    "flesh": 0.15,
    "fabric": 0.1,
}
FOOTSTEP_SOUND = {
    "horse": "hoof",
    "zebra": "hoof",
    "donkey": "hoof",
    "deer": "hoof",
    "cow": "hoof",
    "goat": "hoof",
    "unicorn": "hoof",
}


@dataclass(frozen=True)
class ThingEvent:
    """One sound that starts at `time_s`: a class of sfx.py, "impact:<material>",
    or "note:<instrument>:<midi>"."""

    time_s: float
    sound: str
    thing: str
    x_m: float
    y_m: float
    intensity: float = 1.0
    size_m: float = 1.0


@dataclass
class Continuous:
    """A sound that lasts: an engine ("engine:car"), rocket thrust ("rocket"), a melody."""

    thing: str
    kind: str
    level: np.ndarray  # (T,) per frame: speed in m/s for engines, thrust 0..1 for rockets


@dataclass
class Thing:
    name: str  # e.g. "dog_0"
    spec: ThingSpec
    asset: Asset
    height_m: float  # drawn height of the ink box
    aspect: float  # width / height
    hull: np.ndarray  # (K, 2) outline in metres about the centre, y up, facing as drawn
    layer: int  # 0 sky, 1 backdrop, 2 floor
    crashed: bool = False  # already paired in a crash
    track: np.ndarray = field(
        default_factory=lambda: np.zeros((0, 4))
    )  # (T, 4) x, y, angle, facing

    @property
    def width_m(self) -> float:
        return self.height_m * self.aspect

    @property
    def half_height(self) -> float:
        return self.height_m / 2


@dataclass
class World:
    """What behaviours need to know of the scene."""

    view_w: float
    view_h: float
    ceiling: float  # world y of the frame's top edge
    times: np.ndarray  # (T,) seconds of each frame
    rng: np.random.Generator
    hands: dict[str, tuple[float, float, int]]  # character name → (x, y, facing) of hands
    lo: float  # free floor span
    hi: float
    setting: str = "room"  # the plan's setting kind: in water and in space, things hover


@dataclass
class ThingsSim:
    things: list[Thing]
    events: list[ThingEvent]
    continuous: list[Continuous]


def drawn_height_m(
    asset: Asset, size: str | None, aspect: float, view_w: float, view_h: float
) -> float:
    """Height of the drawing in the frame, from the asset's real size (its larger side),
    compressed (square root) and kept within 42 % of the frame's width and 60 % of its
    height."""
    larger = max(0.22, 0.75 * math.sqrt(asset.size_m) * SIZE_SCALE[size])
    height = larger / max(aspect, 1.0)
    width = height * aspect
    shrink = min(1.0, 0.42 * view_w / width, 0.6 * view_h / height)
    return height * shrink


def simulate_things(
    plan_things: list[ThingSpec],
    catalogue: Catalogue,
    world: World,
) -> ThingsSim:
    # 1. Instances with their drawn size and outline.
    things: list[Thing] = []
    for spec in plan_things:
        asset = catalogue[spec.asset]
        hull_unit, aspect = outline(asset)
        for k in range(spec.count):
            height = drawn_height_m(asset, spec.size, aspect, world.view_w, world.view_h)
            height *= float(world.rng.uniform(0.94, 1.06))
            layer = (
                0
                if asset.category in SKY_CATEGORIES and spec.behaviour != "throw"
                else (1 if asset.category in BACKDROP_CATEGORIES else 2)
            )
            things.append(
                Thing(
                    f"{spec.asset}_{len(things)}_{k}",
                    spec,
                    asset,
                    height,
                    aspect,
                    hull_unit * height,
                    layer,
                )
            )
    _fit_floor(things, world)
    # 2. Base positions, then 3. behaviours (targets first, so aimers can read their paths).
    _layout(things, world)
    events: list[ThingEvent] = []
    continuous: list[Continuous] = []
    order = sorted(things, key=lambda t: _aims_at_another(t, things))
    done: set[str] = set()
    for thing in order:
        if thing.name in done:
            continue
        done |= _behave(thing, things, world, events, continuous)
    events.sort(key=lambda e: e.time_s)
    return ThingsSim(things, events, continuous)


def _aims_at_another(thing: Thing, things: list[Thing]) -> bool:
    return (
        thing.spec.target is not None
        and any(t.spec.noun == thing.spec.target for t in things)
        and thing.spec.behaviour in ("catch", "chase", "follow")
    )


def _fit_floor(things: list[Thing], world: World) -> None:
    """Shrink the floor's things together when side by side they would not fit, and two
    that crash into each other so that they have room to drive at each other."""
    floor = [t for t in things if t.layer == 2]
    room = 0.9 * world.view_w  # movers pass in front of the characters
    total = sum(t.width_m for t in floor)
    factor = min(1.0, max(0.5, 0.9 * room / total)) if total > 0 else 1.0
    crashers = [t for t in floor if t.spec.behaviour == "crash"]
    for thing in floor:
        scale = factor
        if thing in crashers:
            scale = min(scale, 0.26 * world.view_w / thing.width_m)
        if thing.spec.behaviour == "flip":  # held food reads better a little larger
            scale = max(scale, 0.3 / thing.width_m)
        thing.height_m *= scale
        thing.hull = thing.hull * scale


# -- 2. Layout ----------------------------------------------------------------------------
def _layout(things: list[Thing], world: World) -> None:
    T = len(world.times)
    floor = [t for t in things if t.layer == 2]
    slots: list[float] | np.ndarray = _floor_slots(world, len(floor)) if floor else []
    order = world.rng.permutation(len(floor)) if len(floor) > 1 else np.arange(len(floor))
    for thing, slot in zip([floor[i] for i in order], slots, strict=True):
        x = float(slot) + float(world.rng.uniform(-0.08, 0.08))
        thing.track = _still(T, x, _ground_y(thing), _facing(world.rng))
    sky = [t for t in things if t.layer == 0]
    for k, thing in enumerate(sky):
        x = world.view_w * (0.2 + 0.6 * (k + 0.5) / len(sky)) + float(world.rng.uniform(-0.1, 0.1))
        y = world.ceiling - 0.5 - thing.half_height - 0.3 * (k % 2)
        thing.track = _still(T, x, y, -1)
    back = [t for t in things if t.layer == 1]
    for k, thing in enumerate(back):
        x = world.view_w * (k + 0.5) / len(back)
        thing.track = _still(T, x, _ground_y(thing) + 0.15, -1)


def _floor_slots(world: World, n: int) -> np.ndarray:
    """Where n floor things start: spread between the characters when that leaves each
    thing room, otherwise over the whole width (they stand in front of the characters)."""
    span = world.hi - world.lo
    if span / (n + 1) >= 0.45:
        return np.linspace(world.lo, world.hi, n + 2)[1:-1]
    return np.linspace(0.0, world.view_w, n + 2)[1:-1]


def _still(frames: int, x: float, y: float, facing: int) -> np.ndarray:
    track = np.zeros((frames, 4))
    track[:, 0], track[:, 1], track[:, 3] = x, y, facing
    return track


def _ground_y(thing: Thing) -> float:
    """Centre height at which the lowest point of the outline touches the floor."""
    return float(-thing.hull[:, 1].min())


def _facing(rng: np.random.Generator) -> int:
    return 1 if rng.random() < 0.5 else -1


# Behaviours during which a thing with an engine runs it (a continuous sound).
ENGINE_BEHAVIOURS = ("drive", "fly", "float", "crash", "chase", "follow")


# -- 3. Behaviours ------------------------------------------------------------------------
def _behave(
    thing: Thing,
    things: list[Thing],
    world: World,
    events: list[ThingEvent],
    continuous: list[Continuous],
) -> set[str]:
    """Fill `thing.track` (and maybe its partner's); return the names it settled."""
    b = thing.spec.behaviour
    target = _target(thing, things)
    if thing.layer == 0 and b in ("float", "fly", "glide", "drive", "walk", "run", "swim"):
        # Sky things drift across at their height: clouds, the moon, a comet.
        drift_m_s = 0.6 if b in ("fly", "glide") else 0.15
        thing.track[:, 0] = thing.track[0, 0] - drift_m_s * world.times * thing.track[0, 3]
        return {thing.name}
    if thing.layer == 0 and b in ("launch", "fall"):
        _rise_or_set(thing, world, rising=b == "launch")  # the moon rises, a star falls
        return {thing.name}
    if b in ("walk", "run", "drive", "hop") and thing.layer == 2:
        _travel(thing, world, events, b)
    elif b in ("fly", "glide"):
        _fly(thing, world, events)
    elif b in ("swim", "float"):
        _swim(thing, world, events, b)
    elif b == "launch":
        _launch(thing, world, events, continuous)
        return {thing.name}
    elif b == "crash":
        return _crash(thing, target, things, world, events)
    elif b == "catch" and target is not None:
        _catch(thing, target, world, events)
        return {thing.name, target.name}
    elif b == "catch" and thing.spec.target in world.hands:  # caught by a character
        _caught_in_hands(thing, world.hands[thing.spec.target or ""], world, events)
    elif b in ("throw", "play", "flip") and target is not None:
        # A thing that acts on another ("a monkey throws a banana", "a bear plays the
        # drum"): the other is held at the actor's front, as a character would hold it.
        front = _front_of(thing)
        holder_world = dataclasses.replace(world, hands={**world.hands, thing.name: front})
        target.spec = target.spec.model_copy(update={"behaviour": b, "target": thing.name})
        _behave(target, things, holder_world, events, continuous)
        return {thing.name, target.name}
    elif b in ("chase", "follow") and target is not None:
        _chase(thing, target, world, events)
    elif b in ("fall", "bounce"):
        _fall(thing, world, events, bouncy=b == "bounce")
    elif b in ("roll", "slide"):
        _roll(thing, world, events, rolling=b == "roll")
    elif b == "throw":
        _throw(thing, world, events)
    elif b == "flip":
        _flip(thing, world, events)
    elif b == "play":
        _play(thing, world, events)
    elif b == "spin":
        thing.track[:, 2] = 2 * math.pi * 0.8 * world.times
    elif b == "sway":
        _sway(thing, world)
    elif b == "jump":
        _hops(thing, world, events, period_s=0.9, height_m=0.6 * thing.height_m + 0.2, speed=0.0)
    _calls(thing, world, events)
    if thing.asset.sound.startswith("engine:") and b in ENGINE_BEHAVIOURS:
        speed = (
            np.abs(np.gradient(thing.track[:, 0], world.times))
            if len(world.times) > 1
            else (np.zeros(len(world.times)))
        )
        continuous.append(Continuous(thing.name, thing.asset.sound, speed))
    return {thing.name}


def _target(thing: Thing, things: list[Thing]) -> Thing | None:
    if thing.spec.target is None:
        return None
    return next((t for t in things if t.spec.noun == thing.spec.target and t is not thing), None)


def _event_at(
    events: list[ThingEvent],
    thing: Thing,
    world: World,
    time_s: float,
    sound: str,
    intensity: float = 1.0,
) -> None:
    duration = world.times[-1] + (world.times[1] - world.times[0] if len(world.times) > 1 else 0)
    if not 0.0 <= time_s < duration:
        return
    i = min(len(world.times) - 1, round(time_s / max(duration, 1e-9) * len(world.times)))
    x, y = thing.track[i, :2]
    events.append(
        ThingEvent(
            round(time_s, 6),
            sound,
            thing.name,
            float(x),
            float(y),
            float(np.clip(intensity, 0.05, 1.0)),
            thing.asset.size_m,
        )
    )


def _travel(thing: Thing, world: World, events: list[ThingEvent], b: str) -> None:
    """Walk, run, drive or hop across the floor, turning at the edges of the free span."""
    t = world.times
    speed = SPEED_M_S[b] * (0.9 + 0.2 * float(world.rng.random()))
    x0 = float(thing.track[0, 0])
    half = thing.width_m / 2
    # Travellers use the whole width, passing in front of the characters.
    lo, hi = min(half + 0.05, x0), max(world.view_w - half - 0.05, x0)
    x, facing = _ping_pong(x0, speed, t, lo, hi, int(thing.track[0, 3]))
    thing.track[:, 0], thing.track[:, 3] = x, facing
    base = _ground_y(thing)
    if b == "hop":
        _hops(
            thing, world, events, period_s=0.55, height_m=0.35 * thing.height_m + 0.1, speed=speed
        )
        return
    if b == "drive":
        thing.track[:, 1] = base + 0.006 * np.sin(2 * np.pi * 9 * t)  # engine shake
        return
    # Gait: one step per half stride; the body bobs and a footstep sounds at each contact.
    stride_s = (0.55 if b == "walk" else 0.32) * math.sqrt(max(thing.height_m, 0.2))
    phase = t / stride_s
    thing.track[:, 1] = base + 0.04 * thing.height_m * np.abs(np.sin(np.pi * phase))
    sound = FOOTSTEP_SOUND.get(thing.asset.id, "footstep")
    steps = np.arange(math.ceil(t[0] / stride_s), math.floor(t[-1] / stride_s) + 1) * stride_s
    for step in steps:
        _event_at(events, thing, world, float(step), sound, 0.25 + 0.3 * min(thing.height_m, 1.5))


def _ping_pong(
    x0: float, speed: float, t: np.ndarray, lo: float, hi: float, facing0: int
) -> tuple[np.ndarray, np.ndarray]:
    span = max(hi - lo, 1e-6)
    direction = facing0 if facing0 != 0 else 1
    s = (x0 - lo) + direction * speed * t if direction > 0 else (hi - x0) + speed * t
    u = np.mod(s, 2 * span)
    forward = u < span
    pos = np.where(forward, u, 2 * span - u)
    if direction > 0:
        return lo + pos, np.where(forward, 1, -1)
    return hi - pos, np.where(forward, -1, 1)


def _hops(
    thing: Thing,
    world: World,
    events: list[ThingEvent],
    period_s: float,
    height_m: float,
    speed: float,
) -> None:
    t = world.times
    phase = np.mod(t, period_s) / period_s
    base = _ground_y(thing)
    thing.track[:, 1] = base + 4 * height_m * phase * (1 - phase)
    for landing in np.arange(period_s, t[-1] + 1e-9, period_s):
        _event_at(events, thing, world, float(landing), "thud", 0.3 + 0.3 * thing.height_m)


def _fly(thing: Thing, world: World, events: list[ThingEvent]) -> None:
    t = world.times
    speed = SPEED_M_S[thing.spec.behaviour] * (0.9 + 0.2 * float(world.rng.random()))
    half = thing.width_m / 2
    x, facing = _ping_pong(
        float(thing.track[0, 0]),
        speed,
        t,
        half + 0.05,
        world.view_w - half - 0.05,
        _facing(world.rng),
    )
    altitude = float(world.rng.uniform(0.55, 0.8)) * (world.ceiling - thing.height_m) + 0.3
    flap = 0.12 * np.sin(2 * np.pi * t / 1.7 + float(world.rng.uniform(0, 6)))
    thing.track[:, 0], thing.track[:, 1], thing.track[:, 3] = x, altitude + flap, facing
    # Tilt with the climb; drawings that face up the diagonal (planes) are levelled.
    thing.track[:, 2] = 0.15 * np.cos(2 * np.pi * t / 1.7) * facing + _level(thing, facing)
    # A whoosh as it passes the middle of the frame.
    middle = world.view_w / 2
    crossings = np.nonzero(np.diff(np.sign(x - middle)) != 0)[0]
    for i in crossings:
        _event_at(events, thing, world, float(t[i + 1]), "whoosh", 0.5)


def _level(thing: Thing, facing: np.ndarray | int) -> np.ndarray | float:
    """Rotation (radians, counter-clockwise) that turns a drawing facing `heading_deg`
    to travel horizontally (drawings are mirrored for facing right)."""
    heading = thing.asset.heading_deg
    if heading in (0.0, 180.0):
        return 0.0
    tilt = math.radians(heading if heading < 90 else 180 - heading)
    return -tilt * np.asarray(facing) if heading < 90 else tilt * np.asarray(facing)


def _swim(thing: Thing, world: World, events: list[ThingEvent], b: str) -> None:
    t = world.times
    speed = SPEED_M_S[b]
    half = thing.width_m / 2
    x, facing = _ping_pong(
        float(thing.track[0, 0]), speed, t, half, world.view_w - half, _facing(world.rng)
    )
    if world.setting in ("underwater", "space", "sky"):  # the whole frame is open to them
        level = float(world.rng.uniform(0.2, 0.6)) * (world.ceiling - thing.height_m)
    elif b == "float" and thing.asset.locomotion in ("flies", "floats"):
        # A butterfly or a balloon floats in the air, not on the floor.
        level = float(world.rng.uniform(0.3, 0.55)) * (world.ceiling - thing.height_m)
    elif b == "float":
        level = 0.35 * thing.height_m
    else:
        level = 0.25 + 0.3 * float(world.rng.random())
    thing.track[:, 0], thing.track[:, 3] = x, facing
    thing.track[:, 1] = _ground_y(thing) + level + 0.05 * np.sin(2 * np.pi * t / 1.3)
    thing.track[:, 2] = 0.08 * np.sin(2 * np.pi * t / 1.3)
    in_air = b == "float" and thing.asset.locomotion in ("flies", "floats")
    for k in range(1, 0 if in_air else int(t[-1] / 2.5) + 1):
        _event_at(events, thing, world, 2.5 * k - 0.7, "splash", 0.3)


def _launch(
    thing: Thing, world: World, events: list[ThingEvent], continuous: list[Continuous]
) -> None:
    """Ignition after a moment on the pad, then constant thrust straight up: y = ½at².
    Things that are no rockets ("the moon rises", "a balloon lifts off") rise slowly."""
    t = world.times
    if thing.asset.locomotion != "launches":  # up through half the frame over the clip
        start = float(thing.track[0, 1])
        climb = max(0.6, 0.5 * world.ceiling / max(float(t[-1]), 1e-3))
        thing.track[:, 1] = start + climb * np.clip(t - 0.3, 0.0, None)
        return
    ignition_s = min(0.8, 0.2 * t[-1])
    x0 = world.view_w / 2
    base = _ground_y_upright(thing)
    after = np.clip(t - ignition_s, 0.0, None)
    accel = 3.0
    thing.track[:, 0] = x0 + np.where(t > ignition_s, 0.012 * np.sin(2 * np.pi * 23 * t), 0.0)
    thing.track[:, 1] = base + 0.5 * accel * after**2
    thing.track[:, 2] = math.radians(90.0 - thing.asset.heading_deg)  # nose up
    thing.track[:, 3] = -1  # as drawn (no mirroring)
    thrust = np.where(t >= ignition_s, 1.0, 0.0)
    continuous.append(Continuous(thing.name, "rocket", thrust))
    _event_at(events, thing, world, ignition_s, "explosion", 0.8)


def _rise_or_set(thing: Thing, world: World, rising: bool) -> None:
    """A sky thing climbs (the moon rises) or sinks (the sun sets, a shooting star falls)
    across half the sky over the clip, drifting sideways as it goes."""
    t = world.times
    duration = max(float(t[-1]), 1e-3)
    low, high = 0.3 * world.ceiling, world.ceiling - 0.3 - thing.half_height
    start, end = (low, high) if rising else (high, max(low, thing.half_height))
    progress = t / duration
    thing.track[:, 1] = start + (end - start) * progress
    facing = thing.track[0, 3] if thing.track[0, 3] != 0 else -1
    thing.track[:, 0] = thing.track[0, 0] - facing * 0.12 * world.view_w * progress


def _ground_y_upright(thing: Thing) -> float:
    # Rotated to point up, a diagonal drawing's bounding circle sits on the pad.
    return float(np.hypot(thing.hull[:, 0], thing.hull[:, 1]).max()) * 0.8


def _crash(
    thing: Thing, target: Thing | None, things: list[Thing], world: World, events: list[ThingEvent]
) -> set[str]:
    """Two movers drive at each other (or one into a still thing) and touch where their
    outlines meet; then they bounce apart, spinning, and stop."""
    t = world.times
    partner = target
    if partner is None:  # "two cars crash": the next one of the same group
        partner = next(
            (
                o
                for o in things
                if o is not thing
                and o.spec is thing.spec
                and o.track[0, 0] != thing.track[0, 0]
                and o.spec.behaviour == "crash"
                and not o.crashed
            ),
            None,
        )
    duration = float(t[-1]) if len(t) else 0.0
    centre = world.view_w / 2
    speed = SPEED_M_S["drive"]
    contact_s = min(2.2, 0.45 * duration) if duration > 0 else 0.0
    if partner is not None and partner.spec.behaviour in ("crash", "drive") and partner.layer == 2:
        a, b = sorted((thing, partner), key=lambda o: float(o.track[0, 0]))
        # a drives right, so it is mirrored: its leading side is the drawing's left side.
        half_a = float(-a.hull[:, 0].min())
        half_b = float(-b.hull[:, 0].min())
        meet_a, meet_b = centre - half_a, centre + half_b
        # They enter from beyond the frame's edges and meet in the middle, about a third
        # of the way into the clip.
        contact_s = min(max(0.8, 0.3 * duration), 2.0, 0.6 * duration)
        speed = max(speed, (meet_a + 1.2 * half_a) / max(contact_s, 1e-3))
        for mover, meet, sign in ((a, meet_a, 1), (b, meet_b, -1)):
            x = np.where(
                t < contact_s,
                meet - sign * speed * (contact_s - t),
                meet - sign * 0.9 * (1 - np.exp(-(t - contact_s) / 0.35)),
            )
            mover.track[:, 0], mover.track[:, 3] = x, sign
            after = np.clip(t - contact_s, 0.0, None)
            # The impact rocks each back on its wheels; the wobble dies away.
            wobble = sign * 0.3 * np.exp(-after / 0.45) * np.sin(2 * np.pi * after / 0.7)
            mover.track[:, 2] = np.where(t < contact_s, 0.0, wobble)
            mover.track[:, 1] = _ground_y(mover) + np.where(
                (t >= contact_s) & (t < contact_s + 0.4),
                0.25 * np.sin(np.pi * (t - contact_s) / 0.4),
                0.0,
            )
            mover.crashed = True
        if a.asset.category == "vehicle":
            _event_at(events, a, world, contact_s - 0.7, "screech", 0.6)
        _event_at(events, a, world, contact_s, "crash", 1.0)
        return {a.name, b.name}
    if partner is not None:  # into a still thing: a rock, a tree, a wall
        wall_x = float(partner.track[0, 0])
        sign = 1 if float(thing.track[0, 0]) < wall_x else -1
        reach = wall_x - sign * (
            float(partner.hull[:, 0].max()) * 0.6 + float(np.abs(thing.hull[:, 0]).max())
        )
        period = 2.4 if thing.asset.id == "water-wave" else duration * 2 + 1
        phase = np.mod(t - contact_s + period, period)
        if thing.asset.id == "water-wave":  # waves break on the rocks again and again
            x = reach - sign * 1.1 * (1 - np.cos(np.pi * phase / period))
            x = np.where(phase < 1e-9, reach, x)
            thing.track[:, 0], thing.track[:, 3] = x, sign
            thing.track[:, 1] = _ground_y(thing)
            for k in range(int((duration - contact_s) / period) + 1):
                _event_at(events, thing, world, contact_s + k * period, "splash", 0.9)
            return {thing.name}
        x = np.where(
            t < contact_s,
            reach - sign * speed * (contact_s - t),
            reach - sign * 0.6 * (1 - np.exp(-(t - contact_s) / 0.3)),
        )
        thing.track[:, 0], thing.track[:, 3] = x, sign
        thing.track[:, 2] = np.where(
            t < contact_s, 0.0, sign * 0.3 * (1 - np.exp(-(t - contact_s) / 0.3))
        )
        _event_at(events, thing, world, contact_s, "crash", 0.9)
        return {thing.name}
    # Nothing to hit: it drives into the frame's edge.
    edge = world.view_w - thing.width_m / 2
    x = np.minimum(float(thing.track[0, 0]) + speed * t, edge)
    thing.track[:, 0], thing.track[:, 3] = x, 1
    hit = (edge - float(thing.track[0, 0])) / speed
    _event_at(events, thing, world, hit, "crash", 0.8)
    return {thing.name}


def _ballistic(
    p0: tuple[float, float], p1: tuple[float, float], flight_s: float, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Positions along the parabola from p0 to p1 in `flight_s` (t from 0)."""
    vx = (p1[0] - p0[0]) / flight_s
    vy = (p1[1] - p0[1] + 0.5 * GRAVITY * 0.35 * flight_s**2) / flight_s
    return p0[0] + vx * t, p0[1] + vy * t - 0.5 * GRAVITY * 0.35 * t**2


def _catch(catcher: Thing, thrown: Thing, world: World, events: list[ThingEvent]) -> None:
    """The thrown thing flies in from the far side; the catcher runs to where it will be
    and meets it; from then on it moves with the catcher's mouth or hands."""
    t = world.times
    duration = float(t[-1])
    throw_s = min(0.5, 0.1 * duration)
    catch_s = min(throw_s + 1.6, 0.6 * duration)
    start_x = float(catcher.track[0, 0])
    side = 1 if start_x < world.view_w / 2 else -1  # the thing comes from the side away
    catch_x = world.view_w / 2 + side * 0.1 * world.view_w
    mouth_dy = catcher.half_height * 0.55
    jump = 0.25
    catch_y = _ground_y(catcher) + jump + mouth_dy
    launch = (world.view_w / 2 + side * 0.55 * world.view_w, 1.2)
    # Catcher: runs to catch_x, arriving just before; a jump at the catch; stays.
    run = np.clip((t - 0.0) / max(catch_s - 0.15, 1e-3), 0.0, 1.0)
    run = run * run * (3 - 2 * run)  # ease in and out
    cx = start_x + (catch_x - start_x) * run
    facing = np.where(t < catch_s - 0.15, np.sign(catch_x - start_x) or side, side)
    leap = np.clip(1 - np.abs(t - catch_s) / 0.35, 0.0, 1.0)
    cy = _ground_y(catcher) + jump * np.sin(np.pi / 2 * leap)
    catcher.track[:, 0], catcher.track[:, 1], catcher.track[:, 3] = cx, cy, facing
    # Thrown thing: parabola from the far side to the catcher's mouth at catch_s.
    fx, fy = _ballistic(
        launch, (catch_x + side * catcher.width_m * 0.35, catch_y), catch_s - throw_s, t - throw_s
    )
    held_x = cx + side * catcher.width_m * 0.35
    held_y = cy + mouth_dy
    before = t < throw_s
    in_flight = (t >= throw_s) & (t < catch_s)
    thrown.track[:, 0] = np.where(before, launch[0], np.where(in_flight, fx, held_x))
    thrown.track[:, 1] = np.where(before, launch[1], np.where(in_flight, fy, held_y))
    thrown.track[:, 2] = np.where(in_flight, 0.35 * np.sin(6 * (t - throw_s)), 0.0)
    thrown.track[:, 3] = -side
    _event_at(events, thrown, world, throw_s, "whoosh", 0.6)
    _event_at(events, catcher, world, catch_s, "pop", 0.7)
    if catcher.asset.category == "animal":
        _event_at(events, catcher, world, catch_s + 0.5, catcher.asset.sound, 0.8)


def _chase(chaser: Thing, target: Thing, world: World, events: list[ThingEvent]) -> None:
    """The chaser runs for the spot just behind the target, a little faster than it, so
    it closes in; when the target turns at an edge the chaser turns after it."""
    t = world.times
    if target.layer == 2 and target.spec.behaviour in ("idle", "walk", "run", "hop", "drive"):
        # The chased flees away from the chaser, across the frame (its own steps redone).
        events[:] = [e for e in events if e.thing != target.name]
        _flee(target, chaser, world, events)
    gap = (chaser.width_m + target.width_m) / 2 + 0.15
    half = chaser.width_m / 2
    behind = target.track[:, 0] - target.track[:, 3] * gap  # off the frame too, after it
    top_speed = 1.25 * max(float(np.abs(np.diff(target.track[:, 0])).max(initial=0.0)), 1e-3)
    x = np.empty(len(t))
    x[0] = np.clip(behind[0] - target.track[0, 3] * 0.3 * gap, half, world.view_w - half)
    for i in range(1, len(t)):
        x[i] = x[i - 1] + np.clip(behind[i] - x[i - 1], -top_speed, top_speed)
    velocity = np.diff(x, prepend=x[0])
    facing = np.sign(velocity)
    facing[0] = facing[0] or target.track[0, 3]
    for i in range(1, len(t)):  # standing still, it keeps facing the way it went
        facing[i] = facing[i] or facing[i - 1]
    chaser.track[:, 0], chaser.track[:, 3] = x, facing
    if (
        chaser.asset.locomotion in ("swims", "flies")
        and target.track[:, 1].min() > _ground_y(target) + 0.1
    ):  # a shark after fish, a hawk after a pigeon: at the quarry's height
        chaser.track[:, 1] = np.maximum(target.track[:, 1], _ground_y(chaser) + 0.1)
        chaser.track[:, 2] = 0.0
        return
    if _on_wheels(chaser):  # a police car's engine runs the whole clip; it makes no steps
        chaser.track[:, 1] = _ground_y(chaser)
        return
    stride_s = 0.32
    chaser.track[:, 1] = _ground_y(chaser) + 0.04 * np.abs(np.sin(np.pi * t / stride_s))
    for step in np.arange(stride_s, t[-1], stride_s):
        _event_at(events, chaser, world, float(step), "footstep", 0.3)


def _on_wheels(thing: Thing) -> bool:
    return thing.asset.locomotion in ("drives", "rolls")


def _flee(target: Thing, chaser: Thing, world: World, events: list[ThingEvent]) -> None:
    """Run from the chaser's side of the frame to the other, crossing it about once in the
    clip (a chase that turns back every second reads as a dance)."""
    duration = max(float(world.times[-1]), 1e-3)
    away = 1 if float(chaser.track[0, 0]) <= float(target.track[0, 0]) else -1
    half = target.width_m / 2
    room = chaser.width_m + half + 0.2  # the chaser starts just behind, inside the frame
    if away > 0:
        start = max(0.4 * world.view_w, room)
    else:
        start = min(0.6 * world.view_w, world.view_w - room)
    target.track[:, 0], target.track[:, 3] = start, away
    # It turns (in a long clip) only once out of sight, beyond the frame's edge.
    lo, hi = -half - 0.3, world.view_w + half + 0.3
    span = (hi - start) if away > 0 else (start - lo)
    speed = float(np.clip(0.9 * span / duration, 0.3, SPEED_M_S["run"]))
    x, facing = _ping_pong(start, speed, world.times, lo, hi, away)
    target.track[:, 0], target.track[:, 3] = x, facing
    if _on_wheels(target):
        target.track[:, 1] = _ground_y(target)
        return
    stride_s = 0.32 * math.sqrt(max(target.height_m, 0.2))
    target.track[:, 1] = _ground_y(target) + 0.04 * target.height_m * np.abs(
        np.sin(np.pi * world.times / stride_s)
    )
    for step in np.arange(stride_s, duration, stride_s):
        _event_at(events, target, world, float(step), "footstep", 0.3)


def _fall(thing: Thing, world: World, events: list[ThingEvent], bouncy: bool) -> None:
    """Dropped from high up: free fall, then bounces that lose energy by the material's
    restitution; each landing is an impact at its exact time."""
    t = world.times
    base = _ground_y(thing)
    y0 = float(world.rng.uniform(0.6, 0.85)) * (world.ceiling - base) + base
    e = max(RESTITUTION[thing.asset.material], 0.7 if bouncy else 0.0)
    h = y0 - base
    y = np.full(len(t), base)
    start_t = float(world.rng.uniform(0.2, 0.6))
    t_land = start_t + math.sqrt(2 * h / GRAVITY)
    fall_part = t < t_land
    y[fall_part] = y0 - 0.5 * GRAVITY * np.clip(t[fall_part] - start_t, 0, None) ** 2
    v = GRAVITY * (t_land - start_t)
    t0 = t_land
    while v > 0.4 and t0 < t[-1] + 1:
        _event_at(events, thing, world, t0, f"impact:{thing.asset.material}", min(1.0, v / 6))
        v *= e
        hop = 2 * v / GRAVITY
        part = (t >= t0) & (t < t0 + hop)
        y[part] = base + v * (t[part] - t0) - 0.5 * GRAVITY * (t[part] - t0) ** 2
        t0 += hop
    thing.track[:, 1] = y
    thing.track[:, 2] = np.where(t < t_land, 0.6 * (t - start_t) * (1 if bouncy else 0.3), 0.0)


def _roll(thing: Thing, world: World, events: list[ThingEvent], rolling: bool) -> None:
    t = world.times
    v0, decel = 2.2, 0.6
    x0 = float(thing.track[0, 0])
    direction = 1 if x0 < world.view_w / 2 else -1
    tt = np.minimum(t, v0 / decel)
    x = x0 + direction * (v0 * tt - 0.5 * decel * tt**2)
    x = np.clip(x, thing.width_m / 2, world.view_w - thing.width_m / 2)
    thing.track[:, 0] = x
    if rolling:
        thing.track[:, 2] = -(x - x0) / max(thing.half_height, 0.05)
    _event_at(events, thing, world, 0.0, "thud", 0.2)


def _throw(thing: Thing, world: World, events: list[ThingEvent]) -> None:
    """Thrown by a character (or from the side): an arc across the frame, then bounces."""
    t = world.times
    holder = world.hands.get(thing.spec.target or "")
    start = (holder[0], holder[1]) if holder else (world.lo, 1.0)
    facing = holder[2] if holder else 1
    throw_s = 0.6
    land_x = float(np.clip(start[0] + facing * 0.55 * world.view_w, 0.3, world.view_w - 0.3))
    flight = 1.3
    fx, fy = _ballistic(start, (land_x, _ground_y(thing)), flight, t - throw_s)
    before = t < throw_s
    flying = (t >= throw_s) & (t < throw_s + flight)
    thing.track[:, 0] = np.where(before, start[0], np.where(flying, fx, land_x))
    thing.track[:, 1] = np.where(before, start[1], np.where(flying, fy, _ground_y(thing)))
    thing.track[:, 2] = np.where(flying, 4.0 * (t - throw_s), 4.0 * flight) * -facing
    _event_at(events, thing, world, throw_s, "whoosh", 0.5)
    _event_at(events, thing, world, throw_s + flight, f"impact:{thing.asset.material}", 0.7)


def _front_of(thing: Thing) -> tuple[float, float, int]:
    """Where a thing holds what it acts on: at its front, halfway up."""
    x, y, _, facing = thing.track[0]
    face = 1 if facing > 0 else -1
    return float(x) + face * thing.width_m * 0.45, float(y), face


def _caught_in_hands(
    thing: Thing, hands: tuple[float, float, int], world: World, events: list[ThingEvent]
) -> None:
    """Thrown in from the side the catcher faces; from the catch on, held at the hands."""
    t = world.times
    x, y, facing = hands
    throw_s, catch_s = 0.5, min(2.0, 0.6 * float(t[-1]))
    start = (float(np.clip(x + facing * 0.6 * world.view_w, 0.2, world.view_w - 0.2)), 1.2)
    fx, fy = _ballistic(start, (x, y), catch_s - throw_s, t - throw_s)
    before, flying = t < throw_s, (t >= throw_s) & (t < catch_s)
    thing.track[:, 0] = np.where(before, start[0], np.where(flying, fx, x))
    thing.track[:, 1] = np.where(before, start[1], np.where(flying, fy, y))
    thing.track[:, 2] = np.where(flying, 3.0 * (t - throw_s), 0.0)
    _event_at(events, thing, world, throw_s, "whoosh", 0.5)
    _event_at(events, thing, world, catch_s, "pop", 0.6)


def _flip(thing: Thing, world: World, events: list[ThingEvent]) -> None:
    """Tossed up from the holder's hands (a pancake from the pan), one full turn, caught."""
    t = world.times
    holder = world.hands.get(thing.spec.target or "")
    x, y, facing = holder if holder else (world.view_w / 2, 1.0, 1)
    x += facing * (0.25 + thing.width_m / 2)
    period, air = 2.2, 0.8
    thing.track[:, 0], thing.track[:, 1], thing.track[:, 3] = x, y, facing
    phase = np.mod(t - 0.6, period)
    up = (t >= 0.6) & (phase < air)
    height = 4 * 0.7 * (phase / air) * (1 - phase / air)
    thing.track[:, 1] = y + np.where(up, height, 0.0)
    thing.track[:, 2] = np.where(up, 2 * np.pi * phase / air, 0.0) * -facing
    for k in range(int((t[-1] - 0.6) / period) + 1):
        toss = 0.6 + k * period
        _event_at(events, thing, world, toss, "whoosh", 0.4)
        _event_at(events, thing, world, toss + air, "thud", 0.5)


def _play(thing: Thing, world: World, events: list[ThingEvent]) -> None:
    """An instrument at its player's hands; a tune whose notes sound as the hands strike."""
    t = world.times
    holder = world.hands.get(thing.spec.target or "")
    if holder is not None:
        x, y, facing = holder
        keyboard = thing.asset.id == "musical-keyboard"
        # A keyboard stands in front of its player, its keys at hand height; a guitar or a
        # violin is held against the body.
        thing.track[:, 0] = x + facing * (0.2 * thing.width_m if keyboard else 0.02)
        thing.track[:, 1] = (y - thing.half_height * 0.55) if keyboard else y - 0.05
        thing.track[:, 1] = np.maximum(thing.track[:, 1], _ground_y(thing))
        thing.track[:, 3] = -facing
    instrument = thing.asset.sound.removeprefix("melody:")
    if not thing.asset.sound.startswith("melody:"):
        return
    beat = 60.0 / 100.0 / 2
    scale = (60, 62, 64, 67, 69, 72, 74, 76)
    note = 3
    for k, onset in enumerate(np.arange(0.5, t[-1] - 0.2, beat)):
        note = int(np.clip(note + world.rng.integers(-2, 3), 0, len(scale) - 1))
        pitch = scale[note] - (12 if instrument in ("guitar",) else 0)
        if instrument == "drums":
            pitch = (36, 42, 38, 42)[k % 4]
        _event_at(events, thing, world, float(onset), f"note:{instrument}:{pitch}", 0.7)


def _sway(thing: Thing, world: World) -> None:
    """Rock about the base (trees in wind): the centre moves on an arc around it."""
    t = world.times
    angle = 0.06 * np.sin(2 * np.pi * t / 2.6 + float(world.rng.uniform(0, 6)))
    r = _ground_y(thing)
    base_x = float(thing.track[0, 0])
    thing.track[:, 2] = angle
    thing.track[:, 0] = base_x - r * np.sin(angle)
    thing.track[:, 1] = r * np.cos(angle)


def _calls(thing: Thing, world: World, events: list[ThingEvent]) -> None:
    """Animals call now and then: a dog barks, a cow moos."""
    if thing.asset.category not in ("animal", "fantasy") or thing.layer == 0:
        return
    sound = thing.asset.sound
    if sound in ("footstep", "splash", "impact") or sound.startswith(("engine:", "melody:")):
        return
    duration = float(world.times[-1])
    first = float(world.rng.uniform(0.3, 1.2))
    gap = float(world.rng.uniform(2.5, 4.0))
    for time_s in np.arange(first, duration - 0.3, gap):
        _event_at(events, thing, world, float(time_s), sound, 0.6)
