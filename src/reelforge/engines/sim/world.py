"""The physical world of a sim clip: layout from the ScenePlan, then rigid-body physics.

World units are metres and seconds, y up, the floor's top at y = 0. The camera's base view
is a rectangle `view` whose short side is VIEW_SHORT_M metres. Physics runs at a fixed step
that divides the frame interval exactly (about 1 ms), so a contact's time is known to a
millisecond; contacts loud enough to hear are logged with their step time, and persistent
contacts feed the rolling and sliding sound signals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pymunk

from reelforge.assets.raster import outline_parts
from reelforge.engines.sim.things import Thing, ThingsSim
from reelforge.types import CharacterSpec, Material, ObjectSpec, ScenePlan

GRAVITY_M_S2 = 9.81
VIEW_SHORT_M = 3.2  # the frame's short side shows 3.2 m of the world
FLOOR_FRACTION = 0.2  # the floor line sits this far up from the frame's bottom
AUDIBLE_SPEED_M_S = 0.3  # closing speed below which a contact makes no separate sound
MIN_REPEAT_S = 0.02  # the same pair touching again within this is one sound

SIZE_M = {"small": 0.22, "medium": 0.34, "large": 0.5}  # diameter / side
# material → (density kg/m², elasticity, friction); densities are per unit area in 2-D.
MATERIAL_PHYSICS: dict[str, tuple[float, float, float]] = {
    "rubber": (1.1, 0.82, 0.9),
    "wood": (0.7, 0.45, 0.6),
    "metal": (7.8, 0.35, 0.4),
    "glass": (2.5, 0.55, 0.3),
    "plastic": (0.95, 0.6, 0.5),
    "stone": (2.6, 0.25, 0.7),
    "ice": (0.92, 0.3, 0.04),
    "flesh": (1.0, 0.2, 0.8),
    "fabric": (0.3, 0.1, 0.9),
}
FLOOR_PHYSICS: dict[str, tuple[float, float]] = {  # floor kind → (elasticity, friction)
    "wood": (0.8, 0.6),
    "tile": (0.85, 0.5),
    "concrete": (0.8, 0.7),
    "carpet": (0.45, 0.9),
    "grass": (0.5, 0.9),
    "sand": (0.25, 1.0),
    "asphalt": (0.75, 0.8),
    "dirt": (0.45, 0.9),
    "snow": (0.2, 0.8),
    "water": (0.1, 0.3),
    "rock": (0.6, 0.8),
}

# Rolling resistance coefficients (deceleration / g) by surface: pymunk has none, and
# without it a ball rolls forever.
ROLLING_RESISTANCE: dict[str, float] = {
    "wood": 0.03,
    "tile": 0.025,
    "concrete": 0.03,
    "carpet": 0.15,
    "grass": 0.2,
    "sand": 0.35,
    "asphalt": 0.04,
    "dirt": 0.15,
    "snow": 0.3,
    "water": 0.5,
    "rock": 0.05,
}


@dataclass
class Body:
    """One simulated object and what the renderer and the audio need to know of it."""

    name: str
    spec: ObjectSpec
    size_m: float  # diameter (ball), side (box), or length (plank, capsule)
    mass_kg: float
    body: pymunk.Body
    track: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))  # (T, 3) x_m, y_m, rad

    @property
    def material(self) -> Material:
        return self.spec.material


@dataclass(frozen=True)
class Contact:
    time_s: float
    a: str
    b: str
    impulse: float  # N·s
    speed: float  # m/s normal closing speed
    x_m: float
    y_m: float
    material_a: str
    material_b: str
    size_a_m: float
    size_b_m: float


@dataclass
class CharacterLayout:
    spec: CharacterSpec
    x_m: float  # feet centre
    facing: int  # +1 looks right, -1 looks left
    height_m: float

    @property
    def head_radius_m(self) -> float:
        return 0.17 * self.height_m

    @property
    def head_center_m(self) -> tuple[float, float]:
        return self.x_m, self.height_m - self.head_radius_m


@dataclass
class Simulation:
    """Everything the renderer and the sound synthesiser read of a simulated clip."""

    view_w_m: float
    view_h_m: float
    floor_y_m: float  # world y of the frame's bottom edge (negative: below the floor line)
    frame_count: int
    fps: int
    step_s: float
    bodies: list[Body]
    characters: list[CharacterLayout]
    contacts: list[Contact]
    roll_speed: np.ndarray  # (N_bodies, N_steps) m/s of rolling on a surface, 0 if airborne
    slip_speed: np.ndarray  # (N_bodies, N_steps) m/s of sliding on a surface
    ramp: tuple[tuple[float, float], tuple[float, float]] | None
    floor_kind: str
    things: ThingsSim | None = None  # the plan's things (things.py), added by the engine


def view_size_m(width_px: int, height_px: int) -> tuple[float, float]:
    scale = min(width_px, height_px) / VIEW_SHORT_M  # px per metre
    return width_px / scale, height_px / scale


def simulate(
    plan: ScenePlan,
    *,
    width_px: int,
    height_px: int,
    fps: int,
    frame_count: int,
    rng: np.random.Generator,
    things: ThingsSim | None = None,
) -> Simulation:
    """`things`, when given, are moved through the world on their tracks as kinematic
    bodies shaped by their outlines: the classic objects bounce off a passing car where it
    is drawn, and every touch is in the contact log like any other."""
    # 1. Geometry of the view, walls, floor and ramp.
    view_w, view_h = view_size_m(width_px, height_px)
    floor_y = -FLOOR_FRACTION * view_h  # world y at the bottom of the frame
    ceiling = view_h + floor_y
    substeps = math.ceil(1000 / fps)
    step_s = 1.0 / (fps * substeps)

    space = pymunk.Space()
    space.gravity = (0.0, -GRAVITY_M_S2)
    space.iterations = 20
    space.sleep_time_threshold = 0.4
    floor_elasticity, floor_friction = FLOOR_PHYSICS[plan.setting.floor]
    statics: dict[pymunk.Shape, str] = {}
    margin = 0.02

    def wall(
        a: tuple[float, float],
        b: tuple[float, float],
        name: str,
        elasticity: float,
        friction: float,
    ) -> None:
        segment = pymunk.Segment(space.static_body, a, b, 0.05)
        segment.elasticity, segment.friction = elasticity, friction
        space.add(segment)
        statics[segment] = name

    # Segments have a 5 cm radius: offset them so their surfaces sit where they look.
    wall((-10.0, -0.05), (view_w + 10.0, -0.05), "floor", floor_elasticity, floor_friction)
    wall((-margin - 0.05, -1.0), (-margin - 0.05, ceiling + 2.0), "wall", 0.6, 0.5)
    wall((view_w + margin + 0.05, -1.0), (view_w + margin + 0.05, ceiling + 2.0), "wall", 0.6, 0.5)
    wall((-1.0, ceiling + 1.5), (view_w + 1.0, ceiling + 1.5), "ceiling", 0.5, 0.5)

    # 2. Characters stand on the floor; their bodies are static obstacles.
    characters = place_characters(plan.characters, view_w)
    for layout in characters:
        body_w = 0.42 * layout.height_m * 0.62
        hx, hy = layout.head_center_m
        torso = pymunk.Poly.create_box(space.static_body, (body_w, layout.height_m * 0.62))
        torso.unsafe_set_vertices(
            [(layout.x_m + vx, layout.height_m * 0.31 + vy) for vx, vy in torso.get_vertices()]
        )
        head = pymunk.Circle(space.static_body, layout.head_radius_m, (hx, hy))
        for shape in (torso, head):
            shape.elasticity, shape.friction = 0.3, 0.8
            space.add(shape)
            statics[shape] = f"character:{layout.spec.name}"

    ramp = None
    if plan.setting.ramp:
        left_free = free_range(characters, view_w)[0]
        top = (left_free + 0.05, min(1.7, 0.45 * ceiling))
        bottom = (left_free + 0.6 * (free_range(characters, view_w)[1] - left_free), 0.0)
        wall(top, bottom, "ramp", 0.4, 0.5)
        ramp = (top, bottom)

    # 3. Objects, placed without overlap, with the plan's initial motion; the things as
    # kinematic bodies on their tracks.
    # Objects start clear of where the floor's things start, not inside a car's drawing.
    occupied = tuple(
        (float(t.track[0, 0]), float(t.track[0, 1]), float(np.hypot(*t.hull.T).max()))
        for t in (things.things if things is not None else [])
        if t.layer == 2
    )
    bodies = _place_objects(plan.objects, space, characters, view_w, ceiling, ramp, rng, occupied)
    # (Without objects there is nothing for them to push: they stay out of the space.)
    movers = _kinematic_things(things, space, statics) if things is not None and bodies else []

    # 4. The contact log and surface-motion signals, filled by the collision callbacks.
    log = ContactLog(
        bodies,
        shape_names={**statics, **{shape: b.name for b in bodies for shape in b.body.shapes}},
        shape_material=_materials(bodies, movers, statics, plan.setting.floor),
        steps=frame_count * substeps,
        step_s=step_s,
        rolling_decel=ROLLING_RESISTANCE[plan.setting.floor] * GRAVITY_M_S2,
    )
    space.on_collision(None, None, pre_solve=log.pre_solve, post_solve=log.post_solve)

    # 5. Step the world; record every body's pose at each frame time.
    tracks = np.zeros((len(bodies), frame_count, 3))
    for frame in range(frame_count):
        for i, b in enumerate(bodies):
            tracks[i, frame] = (b.body.position.x, b.body.position.y, b.body.angle)
        for mover, thing in movers:
            _follow_track(mover, thing, frame, fps)
        for _ in range(substeps):
            space.step(step_s)
            log.step += 1
    for i, b in enumerate(bodies):
        b.track = tracks[i]
    # Contacts after the last frame's time are outside the clip.
    duration = frame_count / fps
    contacts = [c for c in log.contacts if c.time_s < duration]
    return Simulation(
        view_w,
        view_h,
        floor_y,
        frame_count,
        fps,
        step_s,
        bodies,
        characters,
        contacts,
        log.roll_speed,
        log.slip_speed,
        ramp,
        plan.setting.floor,
    )


def _materials(
    bodies: list[Body],
    movers: list[tuple[pymunk.Body, Thing]],
    statics: dict[pymunk.Shape, str],
    floor: str,
) -> dict[pymunk.Shape, tuple[str, float]]:
    """What each shape sounds like when struck: (material, size in m). Objects and moving
    things have their own; the floor is the setting's, the ramp wood, characters bodies."""
    material: dict[pymunk.Shape, tuple[str, float]] = {}
    for b in bodies:
        for shape in b.body.shapes:
            material[shape] = (b.material, b.size_m)
    for mover, thing in movers:
        for shape in mover.shapes:
            material[shape] = (thing.asset.material, thing.width_m)
    for shape, name in statics.items():
        if shape.body is not None and shape.body.body_type == pymunk.Body.KINEMATIC:
            continue
        surface = (
            floor
            if name == "floor"
            else ("wood" if name == "ramp" else "body" if name.startswith("character") else "wall")
        )
        material[shape] = (surface, 4.0)
    return material


class ContactLog:
    """What the collision callbacks record while the world steps: every audible first
    touch (a Contact, at most one per pair of names within MIN_REPEAT_S), and per object
    and physics step the speed it rolls and slips at along what it touches. Balls rolling
    on a static surface are slowed here too (rolling resistance, `rolling_decel` m/s²).
    The stepping loop advances `step`."""

    def __init__(
        self,
        bodies: list[Body],
        *,
        shape_names: dict[pymunk.Shape, str],
        shape_material: dict[pymunk.Shape, tuple[str, float]],
        steps: int,
        step_s: float,
        rolling_decel: float,
    ) -> None:
        self.bodies = bodies
        self.index_of = {b.body: i for i, b in enumerate(bodies)}
        self.shape_names = shape_names
        self.shape_material = shape_material
        self.steps = steps
        self.step_s = step_s
        self.rolling_decel = rolling_decel
        self.step = 0
        self.contacts: list[Contact] = []
        self.roll_speed = np.zeros((len(bodies), steps), np.float32)
        self.slip_speed = np.zeros((len(bodies), steps), np.float32)
        self._last_sound: dict[tuple[str, str], float] = {}
        # Closing speed and point of a first touch, from before the solver changed them.
        self._closing: dict[tuple[pymunk.Shape, pymunk.Shape], tuple[float, float, float]] = {}

    def pre_solve(self, arbiter: pymunk.Arbiter, _space: pymunk.Space, _data: object) -> None:
        if not arbiter.is_first_contact:
            return
        shape_a, shape_b = arbiter.shapes
        points = arbiter.contact_point_set.points
        if not points:
            return
        point = points[0].point_a
        relative = arbiter.bodies[1].velocity_at_world_point(point) - arbiter.bodies[
            0
        ].velocity_at_world_point(point)
        self._closing[(shape_a, shape_b)] = (abs(relative.dot(arbiter.normal)), point.x, point.y)

    def post_solve(self, arbiter: pymunk.Arbiter, _space: pymunk.Space, _data: object) -> None:
        if arbiter.is_first_contact:
            self._touch(arbiter)
        elif self.step < self.steps:
            self._surface_motion(arbiter)

    def _touch(self, arbiter: pymunk.Arbiter) -> None:
        shape_a, shape_b = arbiter.shapes
        speed, x, y = self._closing.pop((shape_a, shape_b), (0.0, 0.0, 0.0))
        if speed < AUDIBLE_SPEED_M_S:
            return
        time_s = self.step * self.step_s
        names = (self.shape_names[shape_a], self.shape_names[shape_b])
        if time_s - self._last_sound.get(names, -1.0) < MIN_REPEAT_S:
            return
        self._last_sound[names] = time_s
        (mat_a, size_a), (mat_b, size_b) = (
            self.shape_material[shape_a],
            self.shape_material[shape_b],
        )
        self.contacts.append(
            Contact(
                time_s,
                names[0],
                names[1],
                arbiter.total_impulse.length,
                speed,
                x,
                y,
                mat_a,
                mat_b,
                size_a,
                size_b,
            )
        )

    def _surface_motion(self, arbiter: pymunk.Arbiter) -> None:
        step = self.step
        for body, shape in zip(arbiter.bodies, arbiter.shapes, strict=True):
            i = self.index_of.get(body)
            if i is None:
                continue
            tangent = arbiter.normal.perpendicular()
            points = arbiter.contact_point_set.points
            if not points:
                continue
            other = arbiter.bodies[1] if body is arbiter.bodies[0] else arbiter.bodies[0]
            rel = body.velocity_at_world_point(points[0].point_a) - other.velocity_at_world_point(
                points[0].point_a
            )
            slip = abs(rel.dot(tangent))
            if isinstance(shape, pymunk.Circle) and self.bodies[i].spec.kind == "ball":
                self.roll_speed[i, step] = max(
                    self.roll_speed[i, step], abs(body.angular_velocity) * shape.radius
                )
                if other.body_type == pymunk.Body.STATIC:
                    _resist_rolling(body, shape.radius, self.rolling_decel * self.step_s)
                slip = max(0.0, slip - 0.05)  # a rolling ball barely slips
                self.slip_speed[i, step] = max(
                    self.slip_speed[i, step], slip if slip > 0.2 else 0.0
                )
            else:
                self.slip_speed[i, step] = max(self.slip_speed[i, step], slip)


def _kinematic_things(
    things: ThingsSim, space: pymunk.Space, statics: dict[pymunk.Shape, str]
) -> list[tuple[pymunk.Body, Thing]]:
    """A kinematic body per moving floor thing, shaped by its outline's convex parts
    (mirrored when it faces right, as it is drawn). Sky and backdrop things are out of
    reach."""
    movers = []
    for thing in things.things:
        if thing.layer != 2 or np.ptp(thing.track[:, :3], axis=0).max() < 1e-6:
            continue
        facing = 1.0 if thing.track[0, 3] > 0 else -1.0
        body = pymunk.Body(body_type=pymunk.Body.KINEMATIC)
        x, y, angle, _ = thing.track[0]
        body.position, body.angle = (float(x), float(y)), float(angle)
        space.add(body)
        elasticity, friction = MATERIAL_PHYSICS[thing.asset.material][1:]
        for part in outline_parts(thing.asset):
            points = [(-facing * float(px) * thing.height_m, float(py) * thing.height_m)
                      for px, py in part]  # fmt: skip
            shape = pymunk.Poly(body, points)
            shape.elasticity, shape.friction = elasticity, friction
            # Things meet each other by their own choreography; only objects touch them.
            shape.filter = pymunk.ShapeFilter(categories=0b10, mask=0b01)
            space.add(shape)
            statics[shape] = thing.name
        movers.append((body, thing))
    return movers


def _follow_track(body: pymunk.Body, thing: Thing, frame: int, fps: int) -> None:
    """Put a kinematic thing where its track says at this frame, moving at the track's
    speed to the next: pymunk carries it there over the frame's sub-steps (so what it hits
    is pushed, not passed through), with no Python per sub-step."""
    track = thing.track
    nxt = track[min(frame + 1, len(track) - 1)]
    body.position = (float(track[frame, 0]), float(track[frame, 1]))
    body.angle = float(track[frame, 2])
    body.velocity = (float(nxt[0] - track[frame, 0]) * fps, float(nxt[1] - track[frame, 1]) * fps)
    body.angular_velocity = float(nxt[2] - track[frame, 2]) * fps


def _resist_rolling(body: pymunk.Body, radius: float, dv: float) -> None:
    """Slow a ball rolling on a surface by `dv` m/s, keeping it rolling without slip."""
    speed = body.velocity.length
    if speed <= 1e-6:
        return
    scale = max(0.0, speed - dv) / speed
    body.velocity = body.velocity * scale
    body.angular_velocity = body.angular_velocity * scale


def place_characters(specs: list[CharacterSpec], view_w: float) -> list[CharacterLayout]:
    layouts = []
    for spec in specs:
        left = spec.position == "left"
        x = (0.19 if left else 0.81) * view_w
        # Characters face the other speaker, or the middle of the frame.
        layouts.append(CharacterLayout(spec, x, 1 if left else -1, spec.appearance.height_m))
    return layouts


def free_range(characters: list[CharacterLayout], view_w: float) -> tuple[float, float]:
    """The horizontal span objects can use without starting inside a character."""
    lo, hi = 0.05, view_w - 0.05
    for c in characters:
        half = 0.3 * c.height_m
        if c.x_m < view_w / 2:
            lo = max(lo, c.x_m + half + 0.1)
        else:
            hi = min(hi, c.x_m - half - 0.1)
    return lo, hi


def _make_body(spec: ObjectSpec, size_m: float) -> tuple[pymunk.Body, list[pymunk.Shape], float]:
    density, elasticity, friction = MATERIAL_PHYSICS[spec.material]
    if spec.kind == "ball":
        radius = size_m / 2
        mass = density * math.pi * radius**2
        body = pymunk.Body(mass, pymunk.moment_for_circle(mass, 0, radius))
        shapes: list[pymunk.Shape] = [pymunk.Circle(body, radius)]
    elif spec.kind == "box":
        mass = density * size_m**2
        body = pymunk.Body(mass, pymunk.moment_for_box(mass, (size_m, size_m)))
        shapes = [pymunk.Poly.create_box(body, (size_m, size_m), radius=0.01)]
    elif spec.kind == "triangle":
        side = size_m * 1.15
        height = side * math.sqrt(3) / 2
        vertices = [(-side / 2, -height / 3), (side / 2, -height / 3), (0.0, 2 * height / 3)]
        mass = density * side * height / 2
        body = pymunk.Body(mass, pymunk.moment_for_poly(mass, vertices))
        shapes = [pymunk.Poly(body, vertices, radius=0.01)]
    elif spec.kind == "capsule":
        length, radius = size_m * 1.4, size_m * 0.28
        mass = density * (2 * radius * length)
        body = pymunk.Body(
            mass,
            pymunk.moment_for_segment(
                mass, (-length / 2 + radius, 0), (length / 2 - radius, 0), radius
            ),
        )
        shapes = [pymunk.Segment(body, (-length / 2 + radius, 0), (length / 2 - radius, 0), radius)]
    else:  # plank
        length, thickness = size_m * 2.2, size_m * 0.22
        mass = density * length * thickness
        body = pymunk.Body(mass, pymunk.moment_for_box(mass, (length, thickness)))
        shapes = [pymunk.Poly.create_box(body, (length, thickness), radius=0.005)]
    for shape in shapes:
        shape.elasticity, shape.friction = elasticity, friction
    return body, shapes, mass


def extent_m(kind: str, size_m: float) -> float:
    """Radius of the circle that bounds an object of this kind and size."""
    return {"ball": 0.5, "box": 0.72, "triangle": 0.67, "capsule": 0.7, "plank": 1.1}[kind] * size_m


def _place_objects(
    specs: list[ObjectSpec],
    space: pymunk.Space,
    characters: list[CharacterLayout],
    view_w: float,
    ceiling: float,
    ramp: tuple[tuple[float, float], tuple[float, float]] | None,
    rng: np.random.Generator,
    occupied: tuple[tuple[float, float, float], ...] = (),
) -> list[Body]:
    lo, hi = free_range(characters, view_w)
    placed: list[tuple[float, float, float]] = list(occupied)  # (x, y, bounding radius)
    bodies: list[Body] = []
    collide_sign = 1
    for spec in specs:
        for k in range(spec.count):
            size = SIZE_M[spec.size] * float(rng.uniform(0.92, 1.08))
            name = f"{spec.color}_{spec.kind}_{len(bodies)}"
            body, shapes, mass = _make_body(spec, size)
            r = extent_m(spec.kind, size)
            x, y, velocity, spin = _initial_state(
                spec, k, r, lo, hi, ceiling, ramp, rng, collide_sign
            )
            if spec.motion == "collide":
                collide_sign = -collide_sign
            x, y = _non_overlapping(
                x,
                y,
                r,
                lo,
                hi,
                ceiling,
                placed,
                rng,
                keep_low=spec.motion in ("roll", "slide", "rest"),
            )
            placed.append((x, y, r))
            body.position = (x, y)
            body.angle = (
                float(rng.uniform(-0.3, 0.3))
                if spec.kind != "ball"
                else float(rng.uniform(0, 2 * math.pi))
            )
            body.velocity = velocity
            body.angular_velocity = spin
            space.add(body, *shapes)
            bodies.append(Body(name, spec, size, mass, body))
    return bodies


def _initial_state(
    spec: ObjectSpec,
    k: int,
    r: float,
    lo: float,
    hi: float,
    ceiling: float,
    ramp: tuple[tuple[float, float], tuple[float, float]] | None,
    rng: np.random.Generator,
    collide_sign: int,
) -> tuple[float, float, tuple[float, float], float]:
    width = hi - lo
    x = float(rng.uniform(lo + r, hi - r)) if width > 2 * r else (lo + hi) / 2
    motion = spec.motion
    if motion in ("fall", "bounce"):
        # Staggered heights so that impacts are separate events in time.
        top = ceiling - r - 0.15
        y = float(rng.uniform(0.45, 1.0)) * (top - 0.8) + 0.8
        return x, y, (float(rng.uniform(-0.4, 0.4)), 0.0), float(rng.uniform(-1, 1))
    if motion in ("roll", "slide") and ramp is not None:
        (tx, ty), (bx, by) = ramp
        u = 0.1 + 0.15 * k
        x, y = tx + u * (bx - tx), ty + u * (by - ty) + r + 0.06
        return x, y, (0.0, 0.0), 0.0
    if motion in ("roll", "slide"):
        direction = 1.0 if x < (lo + hi) / 2 else -1.0
        speed = float(rng.uniform(1.8, 3.2)) if motion == "roll" else float(rng.uniform(2.5, 4.0))
        spin = -direction * speed / r if spec.kind == "ball" and motion == "roll" else 0.0
        return x, r + 0.01, (direction * speed, 0.0), spin
    if motion == "collide":
        x = lo + r + 0.05 if collide_sign > 0 else hi - r - 0.05
        y = float(rng.uniform(0.9, 1.6))
        speed = float(rng.uniform(3.0, 4.0))
        return x, y, (collide_sign * speed, float(rng.uniform(1.5, 2.5))), 0.0
    if motion == "throw":
        direction = 1.0 if x < (lo + hi) / 2 else -1.0
        return (
            x,
            r + 0.3,
            (direction * float(rng.uniform(0.8, 1.8)), float(rng.uniform(5.0, 6.5))),
            float(rng.uniform(-4, 4)),
        )
    return x, r + 0.01, (0.0, 0.0), 0.0  # rest


def _non_overlapping(
    x: float,
    y: float,
    r: float,
    lo: float,
    hi: float,
    ceiling: float,
    placed: list[tuple[float, float, float]],
    rng: np.random.Generator,
    keep_low: bool,
) -> tuple[float, float]:
    def clear(px: float, py: float) -> bool:
        return all(math.hypot(px - qx, py - qy) > r + qr + 0.04 for qx, qy, qr in placed)

    if clear(x, y):
        return x, y
    for _ in range(200):
        px = float(rng.uniform(lo + r, max(lo + r, hi - r)))
        py = y if keep_low else float(rng.uniform(0.8, max(0.9, ceiling - r - 0.15)))
        if clear(px, py):
            return px, py
    # Crowded: stack upward above everything placed so far.
    top = max((qy + qr for _, qy, qr in placed), default=0.0)
    return x, top + r + 0.05
