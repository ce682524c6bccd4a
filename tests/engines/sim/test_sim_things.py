"""Things act out their behaviours: the rocket rises, the caught frisbee stops at the dog,
crashing cars meet where their outlines touch, every sound starts at its event's sample,
and the same seed gives the same scene."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from reelforge import pipeline
from reelforge.assets.catalogue import load_catalogue
from reelforge.assets.install import default_assets_dir
from reelforge.engines.sim.thing_audio import synthesize_things
from reelforge.engines.sim.things import ThingsSim, World, simulate_things
from reelforge.recaption import recaption
from reelforge.settings import Settings
from reelforge.types import AUDIO_SAMPLE_RATE, Request

FPS = 24
VIEW_W, VIEW_H = 3.2, 5.69  # metres, a 720x1280 frame


def scene(prompt: str, seed: int = 1, seconds: float = 4.0) -> tuple[ThingsSim, World]:
    plan, _ = recaption(prompt, seed, Settings())
    world = World(
        view_w=VIEW_W,
        view_h=VIEW_H,
        ceiling=0.8 * VIEW_H,
        times=np.arange(round(seconds * FPS)) / FPS,
        rng=np.random.default_rng(seed),
        hands={},
        lo=0.05,
        hi=VIEW_W - 0.05,
    )
    return simulate_things(plan.things, load_catalogue(default_assets_dir()), world), world


def named(sim: ThingsSim, asset: str) -> list:
    return [t for t in sim.things if t.asset.id == asset]


def test_the_rockets_track_rises_after_ignition() -> None:
    sim, world = scene("a rocket launches from a desert pad")
    (rocket,) = named(sim, "rocket")
    ignition = next(e.time_s for e in sim.events if e.sound == "explosion")
    y = rocket.track[:, 1]
    before = world.times < ignition
    assert np.ptp(y[before]) < 1e-9  # on the pad until ignition
    assert np.all(np.diff(y[~before]) >= 0)
    assert y[-1] - y[0] > 0.5 * VIEW_H  # out of the top of the frame in 4 s
    assert any(c.kind == "rocket" and c.thing == rocket.name for c in sim.continuous)


def test_the_caught_frisbee_stops_at_the_dog() -> None:
    sim, world = scene("a golden retriever catches a frisbee on a beach")
    (dog,), (frisbee,) = named(sim, "dog"), named(sim, "flying-disc")
    caught = next(e.time_s for e in sim.events if e.sound == "pop")
    gap = np.hypot(*(frisbee.track[:, :2] - dog.track[:, :2]).T)
    after = world.times >= caught
    assert gap[after].max() < 0.7 * dog.width_m  # held at the dog's mouth from then on
    assert np.ptp(gap[after]) < 1e-6
    assert gap[world.times < caught - 0.5].min() > 1.0  # and far away while it flew
    # Flight is a parabola: its height has one maximum between throw and catch.
    flying = (world.times > 0.6) & (world.times < caught)
    heights = frisbee.track[flying, 1]
    peak = int(heights.argmax())
    assert 0 < peak < len(heights) - 1


def test_crashing_cars_meet_where_their_outlines_touch() -> None:
    sim, world = scene("two cars crash at an intersection")
    a, b = sorted(named(sim, "automobile"), key=lambda t: t.track[0, 0])
    crash = next(e for e in sim.events if e.sound == "crash")
    # Gap between a's leading edge (mirrored: it faces right) and b's leading edge.
    lead_a = a.track[:, 0] - a.hull[:, 0].min()
    lead_b = b.track[:, 0] + b.hull[:, 0].min()
    gap = lead_b - lead_a
    frame = int(np.argmin(np.abs(world.times - crash.time_s)))
    assert abs(gap[frame]) < 0.1  # touching, within a frame's travel
    assert np.all(gap[world.times < crash.time_s - 0.2] > 0.1)  # apart before
    assert np.all(np.diff(gap[world.times < crash.time_s]) < 0)  # closing in
    assert gap[-1] > 0.3  # and bounced apart after
    assert any(e.sound == "screech" and e.time_s < crash.time_s for e in sim.events)


def test_walkers_step_with_their_gait_and_turn_at_the_edges() -> None:
    sim, _ = scene("a dog walks along the beach", seconds=10.0)
    (dog,) = named(sim, "dog")
    x = dog.track[:, 0]
    assert np.ptp(x) > 1.5
    assert set(np.unique(dog.track[:, 3])) == {-1.0, 1.0}  # turned round
    steps = [e.time_s for e in sim.events if e.sound == "footstep"]
    assert len(steps) > 10
    assert np.allclose(np.diff(steps), np.diff(steps)[0], atol=1e-6)  # an even gait


def test_the_same_seed_gives_the_same_scene() -> None:
    first, _ = scene("a dog chases a cat while two birds fly and a rocket launches", seed=9)
    second, _ = scene("a dog chases a cat while two birds fly and a rocket launches", seed=9)
    other, _ = scene("a dog chases a cat while two birds fly and a rocket launches", seed=10)
    assert [e for e in first.events] == [e for e in second.events]
    for t1, t2 in zip(first.things, second.things, strict=True):
        assert np.array_equal(t1.track, t2.track)
    assert any(
        not np.array_equal(t1.track, t3.track)
        for t1, t3 in zip(first.things, other.things, strict=True)
    )


BUSY = (
    "A dog chases a cat across the park while two birds fly overhead, a car drives past, "
    'a horse gallops and a frog hops. A girl plays the guitar and a boy says "Look at them go!"'
)


def test_every_sound_event_of_a_busy_scene_starts_within_one_frame() -> None:
    sim, world = scene(BUSY)
    assert len({t.asset.id for t in sim.things}) >= 6
    n = round(world.times[-1] * AUDIO_SAMPLE_RATE) + AUDIO_SAMPLE_RATE // FPS
    everything = synthesize_things(sim, VIEW_W, n, np.random.default_rng(0))
    one_shots = [e for e in sim.events if not e.sound.startswith("note:")]
    assert len(one_shots) > 20
    for event in one_shots:
        without = dataclasses.replace(sim, events=[e for e in sim.events if e is not event])
        alone = everything - synthesize_things(without, VIEW_W, n, np.random.default_rng(0))
        level = np.abs(alone).max(axis=0)
        assert level.max() > 1e-4, f"{event.sound} at {event.time_s:.3f} s is silent"
        onset_s = int(np.argmax(level > 0.1 * level.max())) / AUDIO_SAMPLE_RATE
        assert abs(onset_s - event.time_s) <= 1 / FPS, (event.sound, event.time_s, onset_s)


@pytest.fixture(scope="module")
def busy_clip(tmp_path_factory: pytest.TempPathFactory, settings: Settings):
    out = tmp_path_factory.mktemp("busy") / "busy.mp4"
    return pipeline.generate(
        Request(prompt=BUSY, seconds=4, size="360x640", seed=5), out, settings=settings
    )


def test_a_busy_clip_logs_its_sounds_and_says_what_it_drew(busy_clip) -> None:
    import json

    sidecar = json.loads(Path(busy_clip.sidecar_path).read_text())
    sounds = sidecar["events"]["sounds"]
    assert {"footstep", "whoosh"} <= {s["sound"] for s in sounds}
    assert any(s["sound"].startswith("note:guitar") for s in sounds)
    assert sounds == sorted(sounds, key=lambda s: s["time_s"])
    summary = sidecar["understood"]["summary"]
    for word in ("dog", "cat", "bird", "automobile", "horse", "frog", "guitar"):
        assert word in summary
    assert any(name.startswith("dog_") for name in busy_clip.clip.tracks)


def test_a_thing_acts_on_another_as_a_character_would() -> None:
    sim, world = scene("a monkey throws a banana in the forest")
    (monkey,), (banana,) = named(sim, "monkey"), named(sim, "banana")
    start = banana.track[0, :2]
    assert np.hypot(*(start - monkey.track[0, :2])) < monkey.width_m  # held at its front
    landed = next(e.time_s for e in sim.events if e.sound.startswith("impact:"))
    flying = (world.times > 0.6) & (world.times < landed)
    assert banana.track[flying, 1].max() > start[1] + 0.3  # up along an arc
    assert abs(banana.track[-1, 0] - start[0]) > 0.5  # and down away from the monkey


def test_a_moving_thing_knocks_the_physics_objects_where_it_is_drawn() -> None:
    from reelforge.engines.sim import SimEngine

    settings = Settings()
    plan, _ = recaption("A red ball rests on the street while a car drives past", 3, settings)
    clip = SimEngine(settings).generate(plan, seconds=3, size="360x640", fps=FPS, seed=3)
    hits = [c for c in clip.contacts if "automobile" in (c.object_a + c.object_b)]
    assert hits, "the car never touched the ball"
    ball = next(name for name in clip.tracks if name.startswith("red_ball"))
    car = next(name for name in clip.tracks if name.startswith("automobile"))
    for hit in hits[:3]:
        frame = min(len(clip.tracks[ball]) - 1, round(hit.time_s * FPS))
        gap_px = abs(clip.tracks[ball][frame, 0] - clip.tracks[car][frame, 0])
        assert gap_px < 0.4 * 360  # the ball is beside the car's drawing when they touch
    assert np.ptp(clip.tracks[ball][:, 0]) > 20  # and it was knocked along


def test_a_chase_closes_in_without_jumping() -> None:
    sim, _ = scene("a lion chases a zebra across the savanna")
    (lion,), (zebra,) = named(sim, "lion"), named(sim, "zebra")
    x_lion, x_zebra = lion.track[:, 0], zebra.track[:, 0]
    top_speed_m_s = 3.0  # faster than any run: a frame-to-frame step above it is a jump
    assert np.abs(np.diff(x_lion)).max() * FPS < top_speed_m_s
    assert np.abs(np.diff(x_zebra)).max() * FPS < top_speed_m_s
    assert min(np.ptp(x_lion), np.ptp(x_zebra)) > 0.1 * VIEW_W  # both run across
    gap = np.abs(x_zebra - x_lion)
    assert gap[-1] < gap[0]  # the lion gains on the zebra
    v_lion, v_zebra = np.diff(x_lion), np.diff(x_zebra)
    both = (np.abs(v_lion) > 1e-6) & (np.abs(v_zebra) > 1e-6)
    assert both.mean() > 0.8 and np.mean(np.sign(v_lion[both]) == np.sign(v_zebra[both])) > 0.9


def test_a_police_car_chases_on_its_wheels() -> None:
    sim, _ = scene("a police car chases a motorcycle through the city")
    movers = [t for t in sim.things if t.asset.id in ("police-car", "motorcycle")]
    assert len(movers) == 2
    for mover in movers:  # on the road the whole time: no hops, no footsteps
        assert np.ptp(mover.track[:, 1]) < 0.02
    assert not [e for e in sim.events if e.sound.startswith("footstep")]


def test_a_butterfly_flies_without_splashing() -> None:
    sim, _ = scene("a butterfly flies over a pond in the garden")
    (butterfly,) = named(sim, "butterfly")
    assert butterfly.track[:, 1].min() > 0.2  # off the ground the whole clip
    assert not [e for e in sim.events if e.thing.startswith("butterfly") and "splash" in e.sound]


def test_the_moon_rises_and_the_sun_sets() -> None:
    rising, _ = scene("a full moon rises over the mountains at night")
    setting, _ = scene("the sun sinks slowly over the ocean")
    (moon,), (sun,) = named(rising, "full-moon"), named(setting, "sun")
    assert moon.layer == 0 and sun.layer == 0  # in the sky, behind the floor's things
    assert moon.track[-1, 1] - moon.track[0, 1] > 0.3 * VIEW_H
    assert sun.track[0, 1] - sun.track[-1, 1] > 0.3 * VIEW_H


def test_each_player_gets_their_own_instrument(settings: Settings) -> None:
    from reelforge.engines.sim import SimEngine

    plan, _ = recaption("two friends play a guitar and a banjo in the park", 1, settings)
    assert [(t.asset, t.behaviour) for t in plan.things] == [("guitar", "play"), ("banjo", "play")]
    sim = SimEngine(settings)._things(plan, 720, 1280, 96, FPS, np.random.default_rng(1))
    holders = {t.spec.target for t in sim.things}
    assert holders == {c.name for c in plan.characters}  # one each
