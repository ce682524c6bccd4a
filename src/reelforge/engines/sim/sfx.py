"""Synthesised sound events for the sim world: animal calls, impacts, machines, engines,
music and weather beds, mono at 48 kHz, deterministic for a `numpy.random.Generator`.

Every sound is built from a few parts, with numpy alone:

- Voices (animal calls, a cheering crowd): the harmonics of a pitch contour, each weighted
  by a spectral tilt and by formant resonances evaluated at that harmonic's own frequency,
  so a glide keeps its vowel; plus band-limited breath or rasp noise, vibrato, tremolo
  (bleats, croaks, grunts) and jitter (growls, roars).
- Struck things (bells, impacts, xylophone, piano): modal synthesis, damped sinusoids with
  per-mode frequency ratios and decays, and a short noise click for the contact.
- Noises (hiss, rain, roar, whoosh): white noise shaped in the frequency domain
  (`audio.shape_noise`, or a frame-by-frame version of it for bands that sweep), and only
  then enveloped, so filtering never blurs an onset.
- Textures (applause, crackle, bubbles, typing): many short grains scattered in time.

Events (`event_sound`) start at sample 0: every envelope stands at a good fraction of its
peak within 2 ms, so an event is heard at the exact sample where it is logged. An event
peaks at 0.5 × intensity. Asked for a duration, a call (a bark, a quack) repeats with
pauses, a sustained sound (a howl, a siren) is synthesised at that length, and a struck
sound rings out into silence or is cut.

Engines (`engine_sound`) are synthesised at the vehicle from its speed (firing frequency
from rpm through a gearbox, harmonics, exhaust and road noise) and read back through the
time-varying delay distance / 343 m/s to a listener 3 m in front of the line of motion:
warping the read position gives the Doppler shift, and the level falls as 1 / distance.

Music (`melody`) renders each note from sample round(onset_s × 48000): an additive piano
with inharmonic partials, a Karplus–Strong guitar run one period at a time, bowed, blown
and brass tones with vibrato, synthesised drums, harp, xylophone and bell.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from reelforge.engines.sim.audio import shape_noise
from reelforge.types import AUDIO_SAMPLE_RATE

SAMPLE_RATE = AUDIO_SAMPLE_RATE
SPEED_OF_SOUND_M_S = 343.0
LISTENER_OFFSET_M = 3.0  # the listener stands this far in front of a vehicle's line of motion
EVENT_PEAK = 0.5  # an event at intensity 1 peaks here, leaving headroom for the mix
NOTE_PEAK = 0.3  # each note of a melody peaks near here, so chords and tails can overlap
BED_FADE_IN_S = 0.05
_TOP_HZ = 0.45 * SAMPLE_RATE  # partials above this would alias; they are left out

SOUND_CLASSES: tuple[str, ...] = (
    # animal calls
    "bark",
    "meow",
    "chirp",
    "tweet",
    "caw",
    "moo",
    "neigh",
    "oink",
    "baa",
    "quack",
    "cluck",
    "crow_rooster",
    "roar",
    "howl",
    "hiss",
    "buzz",
    "croak",
    "trumpet",
    "squeak",
    "growl",
    "whale_song",
    "monkey",
    "honk_goose",
    # things happening
    "footstep",
    "hoof",
    "splash",
    "whoosh",
    "crash",
    "screech",
    "horn",
    "siren",
    "bell",
    "thud",
    "pop",
    "explosion",
    "thunder",
    "zap",
    "applause",
    "cheer",
    "chime",
    "door",
    "bounce",
)
ENGINE_KINDS = ("car", "truck", "motorcycle", "train", "airplane", "jet", "helicopter", "boat")
INSTRUMENTS = (
    "piano",
    "guitar",
    "violin",
    "flute",
    "trumpet",
    "drums",
    "harp",
    "xylophone",
    "bell",
)
WEATHER_KINDS = (
    "rain_heavy",
    "thunderstorm",
    "blizzard",
    "fire_crackle",
    "stream",
    "waterfall",
    "underwater",
    "space",
    "city_night",
    "farm",
    "stadium_crowd",
    "concert_hall",
    "office",
    "classroom",
    "forest",
)
MAJOR_PENTATONIC = (0, 2, 4, 7, 9)  # semitones above the tonic


def event_sound(
    sound_class: str,
    *,
    rng: np.random.Generator,
    size_m: float | None = None,
    intensity: float = 1.0,
    duration_s: float | None = None,
) -> np.ndarray:
    """(S,) float32: one event, audible from sample 0, peaking at 0.5 × `intensity`.

    `size_m` is the emitter's size in metres. Against the class's typical size (a 0.9 m
    dog, a 0.3 m bell, a 4.5 m car's horn), a bigger one sounds lower: pitch ×
    (typical / size) ** 0.5, kept within an octave either way. None means typical;
    sounds without a size (a siren, thunder) ignore it. `duration_s` (up to 60 s), when
    given, sets the length to round(duration_s × 48000) samples.
    """
    # 1. Check inputs
    if sound_class not in SOUND_CLASSES:
        raise ValueError(f"unknown sound class {sound_class!r}; known: {', '.join(SOUND_CLASSES)}")
    if not 0.0 <= intensity <= 1.0:
        raise ValueError(f"intensity must be 0..1, got {intensity}")
    if size_m is not None and not size_m > 0:
        raise ValueError(f"size_m must be > 0, got {size_m}")
    if duration_s is not None and not 0 < duration_s <= 60:
        raise ValueError(f"duration_s must be in (0, 60], got {duration_s}")
    recipe = _RECIPES[sound_class]
    # 2. Synthesise at the emitter's pitch, for the asked length
    pitch = _size_pitch(recipe.typical_size_m, size_m)
    if isinstance(recipe, _Sustained):
        sound = recipe.synth(rng, pitch, recipe.natural_s if duration_s is None else duration_s)
    else:
        sound = _fit(recipe, rng, pitch, duration_s)
    # 3. Peak-normalise
    return _normalise(sound, EVENT_PEAK * intensity)


def engine_sound(
    speed_m_s: np.ndarray,
    x_m: np.ndarray,
    *,
    listener_x_m: float,
    kind: str,
    rng: np.random.Generator,
) -> np.ndarray:
    """(S,) float32: a vehicle's engine as heard by a listener at (`listener_x_m`, 3 m in
    front of the line of motion), from per-audio-sample speed (m/s, >= 0) and horizontal
    position (m). It peaks at roughly 0.3–0.7 as a vehicle passes the listener.

    The source is synthesised at the vehicle and read back through the propagation delay
    distance / 343 m/s, re-evaluated at every sample: the read position runs slower than
    real time while the vehicle approaches and faster while it recedes, which is the
    Doppler shift. The level falls as 1 / distance (1 at the closest possible pass).

    Kinds: "car" (four cylinders through five gears), "truck" (a low six-cylinder
    diesel), "motorcycle" (a raspy, high-revving twin), "train" (a diesel's drone,
    rumble and the clack of wheels over rail joints), "airplane" (a propeller's buzz over
    a roar), "jet" (broadband roar and turbine whine), "helicopter" (the rotor's ~21 Hz
    blade slap) and "boat" (an outboard over water wash and hull slap).
    """
    # 1. Check inputs
    if kind not in ENGINE_KINDS:
        raise ValueError(f"unknown engine kind {kind!r}; known: {', '.join(ENGINE_KINDS)}")
    speed = np.asarray(speed_m_s, np.float64)
    x = np.asarray(x_m, np.float64)
    if speed.ndim != 1 or speed.shape != x.shape:
        raise ValueError(
            f"speed_m_s and x_m must be 1-D and of one length, got {speed.shape} and {x.shape}"
        )
    if speed.size == 0:
        return np.zeros(0, np.float32)
    if not (np.isfinite(speed).all() and np.isfinite(x).all()):
        raise ValueError("speed_m_s and x_m must be finite")
    if speed.min() < 0:
        raise ValueError(f"speed_m_s is a speed and must be >= 0, got {speed.min()}")
    # 2. The propagation delay, in samples, of what the listener hears at each sample
    distance_m = np.hypot(x - listener_x_m, LISTENER_OFFSET_M)
    delay = distance_m * (SAMPLE_RATE / SPEED_OF_SOUND_M_S)
    # 3. The source at the vehicle, started `lead` samples early so every read has a past
    lead = int(np.ceil(delay.max())) + 2
    padded_speed = np.concatenate([np.full(lead, speed[0]), speed]).astype(np.float32)
    source = _ENGINES[kind](padded_speed, rng)
    # 4. Read it back through the delay (Doppler) and spread it over distance
    heard = _read_at(source, np.arange(speed.size) + lead - delay)
    return (heard * (LISTENER_OFFSET_M / distance_m)).astype(np.float32)


def rocket_roar(thrust: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(S,) float32: a rocket motor's crackling broadband roar over a low rumble, from the
    per-sample thrust (0..1). Silent while thrust is 0; ignition is a sharp onset at the
    first sample with thrust; about 0.5 peak at full thrust.
    """
    # 1. Check inputs
    level = np.asarray(thrust, np.float64)
    if level.ndim != 1:
        raise ValueError(f"thrust must be 1-D (one value per sample), got shape {level.shape}")
    if level.size and not (np.isfinite(level).all() and level.min() >= 0 and level.max() <= 1):
        raise ValueError(f"thrust must be within 0..1, got {level.min()}..{level.max()}")
    n = level.size
    if n == 0 or level.max() == 0:
        return np.zeros(n, np.float32)
    # 2. The three parts: roar and rumble at unit RMS, crackle at unit peak
    roar = _band(n, rng, 40.0, 7000.0, order=1)
    rumble = _band(n, rng, 15.0, 140.0)
    crackle = np.zeros(n, np.float32)
    (times,) = np.nonzero(rng.random(n) < 90.0 / SAMPLE_RATE)
    crackle[times] = np.minimum(rng.pareto(2.5, times.size) + 1.0, 5.0).astype(np.float32)
    crackle = _peak1(_shape(crackle, low_hz=1200.0, high_hz=9000.0))
    # 3. Loudness follows thrust at once on the way up (a sharp ignition), plus a bang
    loudness = (level**0.7).astype(np.float32)
    sound = (0.8 * roar + 0.7 * rumble + 2.0 * crackle * loudness) * loudness
    ignition = int(np.argmax(level > 0))
    bang = _band(_samples(0.25), rng, 60.0, 6000.0) * _decay(_samples(0.25), 0.04)
    _add_at(sound, 1.5 * float(level[ignition]) ** 0.7 * bang, ignition)
    return (0.09 * sound).astype(np.float32)


def melody(
    instrument: str,
    notes: list[tuple[float, float, float]],
    n_samples: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """(n_samples,) float32: `notes` as (onset_s, midi_pitch, duration_s) played on
    `instrument`, each from sample round(onset_s × 48000), each peaking near 0.3
    (notes that ring into each other add up).

    Struck, plucked and drum notes reach 10 % of their peak within 5 ms of the onset
    sample. Bowed and blown notes (violin, flute, trumpet) start at 20–30 % of their
    level and swell to full over 30–40 ms, as the instruments do. Drums take General MIDI
    numbers: 35/36 kick, 37 rim, 38/40 snare, 39 clap, 42/44 closed and 46 open hi-hat,
    41–50 toms, 49/57 crash, 51/59 ride. Notes that start past the end are left out;
    notes that run past it are cut.
    """
    # 1. Check inputs
    if instrument not in INSTRUMENTS:
        raise ValueError(f"unknown instrument {instrument!r}; known: {', '.join(INSTRUMENTS)}")
    if n_samples < 0:
        raise ValueError(f"n_samples must be >= 0, got {n_samples}")
    for onset_s, pitch, duration_s in notes:
        if not (onset_s >= 0 and duration_s > 0 and 0 <= pitch <= 127):
            raise ValueError(
                "each note must be (onset_s >= 0, midi_pitch 0..127, duration_s > 0), "
                f"got {(onset_s, pitch, duration_s)}"
            )
        if instrument == "drums" and round(pitch) not in _DRUMS:
            raise ValueError(f"no drum at MIDI {pitch}; known: {sorted(_DRUMS)}")
    # 2. Render each note from its exact onset sample
    out = np.zeros(n_samples, np.float32)
    play = _NOTE_SYNTHS[instrument]
    for onset_s, pitch, duration_s in notes:
        start = round(onset_s * SAMPLE_RATE)
        if start >= n_samples:
            continue
        touch = float(rng.uniform(0.85, 1.0))  # a player's touch varies a little
        _add_at(out, _normalise(play(rng, pitch, duration_s), NOTE_PEAK * touch), start)
    return out


def simple_tune(
    rng: np.random.Generator, *, start_s: float, end_s: float, bpm: float = 110
) -> list[tuple[float, float, float]]:
    """A short, pleasant tune for `melody`: a seeded walk, mostly by step, on the major
    pentatonic scale of a random key (tonic C4..G4), in eighth, quarter and half notes,
    ending on the tonic. Every note starts at or after `start_s` and ends by `end_s`.
    """
    if not 0 <= start_s < end_s:
        raise ValueError(f"need 0 <= start_s < end_s, got {start_s} and {end_s}")
    if not 20 <= bpm <= 400:
        raise ValueError(f"bpm must be 20..400, got {bpm}")
    beat_s = 60.0 / bpm
    tonic = 60 + int(rng.integers(0, 8))
    degree = 0  # position on the scale, counted in scale steps from the tonic
    notes: list[tuple[float, float, float]] = []
    time_s = start_s
    while True:
        beats = float(rng.choice([0.5, 0.5, 1.0, 1.0, 1.0, 2.0]))
        if time_s + beats * beat_s > end_s - beat_s:
            break  # leave room for the closing tonic
        notes.append((time_s, float(tonic + _scale_semitones(degree)), 0.9 * beats * beat_s))
        time_s += beats * beat_s
        degree = int(np.clip(degree + rng.choice([-2, -1, -1, 0, 1, 1, 2]), -3, 8))
    final_s = min(2 * beat_s, end_s - time_s)
    notes.append((time_s, float(tonic), 0.95 * final_s))
    return notes


def weather_bed(kind: str, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """(n_samples,) float32 mono bed for a weather or a place, fading in over 50 ms.
    Levels sit well under events and speech (RMS about 0.005–0.08); a thunderstorm's
    thunder rolls peak at 0.35–0.5.
    """
    if kind not in WEATHER_KINDS:
        raise ValueError(f"unknown weather bed {kind!r}; known: {', '.join(WEATHER_KINDS)}")
    if n_samples < 0:
        raise ValueError(f"n_samples must be >= 0, got {n_samples}")
    if n_samples == 0:
        return np.zeros(0, np.float32)
    bed = _BEDS[kind](n_samples, rng)
    fade = min(n_samples, _samples(BED_FADE_IN_S))
    bed[:fade] *= np.linspace(0.0, 1.0, fade, dtype=np.float32)
    return bed.astype(np.float32)


# --- Events: how a class becomes a sound -------------------------------------------------

Synth = Callable[[np.random.Generator, float], np.ndarray]  # (rng, pitch factor) → raw mono
Stretch = Callable[[np.random.Generator, float, float], np.ndarray]  # (…, seconds) → raw


@dataclass(frozen=True)
class _Fixed:
    """A sound with a length of its own: a call (repeats to fill a longer duration) or a
    struck sound (rings out into silence)."""

    synth: Synth
    typical_size_m: float | None
    repeats: bool


@dataclass(frozen=True)
class _Sustained:
    """A sound synthesised at whatever length is asked, `natural_s` when none is."""

    synth: Stretch
    natural_s: float
    typical_size_m: float | None


def _size_pitch(typical_size_m: float | None, size_m: float | None) -> float:
    if typical_size_m is None or size_m is None:
        return 1.0
    return float(np.clip((typical_size_m / size_m) ** 0.5, 0.5, 2.0))


def _fit(
    recipe: _Fixed, rng: np.random.Generator, pitch: float, duration_s: float | None
) -> np.ndarray:
    """A fixed-length sound at its own length, or made exactly `duration_s` long."""
    sound = recipe.synth(rng, pitch)
    if duration_s is None:
        return sound
    n = _samples(duration_s)
    if recipe.repeats:
        parts, length = [sound], sound.size
        while length < n:
            pause = np.zeros(_samples(float(rng.uniform(0.2, 0.5))), np.float32)
            call = recipe.synth(rng, pitch)
            parts += [pause, call]
            length += pause.size + call.size
        sound = np.concatenate(parts)
    if sound.size >= n:
        return _fade_out(sound[:n].copy(), 0.01)
    return np.pad(sound, (0, n - sound.size))


# --- Animal calls ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Syllable:
    """One vocal gesture. Contours are (fraction of the syllable, value) points; the
    envelope's first point is its onset level, reached after a 1.5 ms fade-in."""

    seconds: float
    f0_hz: tuple[tuple[float, float], ...]
    formants: tuple[tuple[float, float, float], ...]  # (centre Hz, bandwidth Hz, gain)
    envelope: tuple[tuple[float, float], ...]
    tilt: float = 1.0  # harmonic k has amplitude k ** -tilt before the formants
    harmonics: int = 24
    noise: float = 0.0  # breath or rasp, RMS relative to the voice
    noise_band_hz: tuple[float, float] = (300.0, 4000.0)
    vibrato: tuple[float, float] = (0.0, 0.0)  # (rate Hz, depth as a fraction of f0)
    tremolo: tuple[float, float] = (0.0, 0.0)  # (rate Hz, depth 0..1)
    jitter: float = 0.0  # random pitch wander, as a fraction of f0
    formant_shift: tuple[tuple[float, float], ...] = ((0.0, 1.0),)  # the vowel opening


def _sing(s: _Syllable, rng: np.random.Generator, pitch: float) -> np.ndarray:
    """Render a syllable; `pitch` scales its pitch and formants (a smaller animal has a
    shorter vocal tract as well as smaller folds)."""
    n = _samples(s.seconds)
    t = _times(n)
    f0 = _contour(n, s.f0_hz) * pitch
    rate, depth = s.vibrato
    if depth:
        f0 *= 1 + depth * np.sin(2 * np.pi * rate * t)
    if s.jitter:
        f0 *= 1 + s.jitter * _wander(n, 30.0, rng)
    shift = _contour(n, s.formant_shift) * pitch
    formants = [(centre * shift, width * pitch, gain) for centre, width, gain in s.formants]
    sound = _unit(_voice(f0, formants, rng, harmonics=s.harmonics, tilt=s.tilt))
    if s.noise:
        low, high = s.noise_band_hz
        sound += s.noise * _band(n, rng, low * pitch, high * pitch)
    envelope = _contour(n, s.envelope) * _fade_in(n)
    rate, depth = s.tremolo
    if depth:  # starts at full level, so the onset stays sharp
        envelope *= 1 - depth * (0.5 - 0.5 * np.cos(2 * np.pi * rate * t))
    return sound * envelope


def _calls(
    rng: np.random.Generator,
    pitch: float,
    syllables: Sequence[_Syllable],
    gaps_s: tuple[float, float],
) -> np.ndarray:
    """Syllables one after another, with a random gap in `gaps_s` between them; the
    first at sample 0."""
    parts, start_s = [], 0.0
    for i, syllable in enumerate(syllables):
        level = 1.0 if i == 0 else float(rng.uniform(0.75, 1.0))
        parts.append((start_s, level * _sing(syllable, rng, pitch)))
        start_s += syllable.seconds + float(rng.uniform(*gaps_s))
    return _sequence(parts)


def _bark(rng: np.random.Generator, pitch: float) -> np.ndarray:
    barks = [
        _Syllable(
            seconds=float(rng.uniform(0.11, 0.15)),
            f0_hz=((0.0, 430.0), (0.25, 620.0), (1.0, 330.0)),
            formants=((750.0, 450.0, 1.0), (1650.0, 550.0, 0.7), (2900.0, 800.0, 0.35)),
            envelope=((0.0, 0.75), (0.08, 1.0), (0.4, 0.7), (1.0, 0.0)),
            tilt=0.6,
            harmonics=20,
            noise=0.6,
            noise_band_hz=(500.0, 3500.0),
            jitter=0.03,
        )
        for _ in range(2)
    ]
    return _calls(rng, pitch, barks, (0.08, 0.15))


def _meow(rng: np.random.Generator, pitch: float) -> np.ndarray:
    return _sing(
        _Syllable(
            seconds=float(rng.uniform(0.6, 0.8)),
            f0_hz=((0.0, 560.0), (0.35, 820.0), (1.0, 470.0)),
            formants=((900.0, 300.0, 1.0), (1800.0, 400.0, 0.6), (3200.0, 600.0, 0.3)),
            formant_shift=((0.0, 0.55), (0.3, 1.1), (1.0, 0.7)),  # "m-i" → "a" → "u"
            envelope=((0.0, 0.5), (0.25, 1.0), (0.7, 0.8), (1.0, 0.0)),
            tilt=0.9,
            harmonics=16,
            noise=0.08,
            vibrato=(6.0, 0.01),
        ),
        rng,
        pitch,
    )


def _chirp(rng: np.random.Generator, pitch: float) -> np.ndarray:
    chirps = []
    for _ in range(int(rng.integers(3, 6))):
        low, high = float(rng.uniform(2200, 3000)), float(rng.uniform(4500, 6000))
        sweep = ((0.0, high), (1.0, low)) if rng.random() < 0.6 else ((0.0, low), (1.0, high))
        chirps.append(
            _Syllable(
                seconds=float(rng.uniform(0.03, 0.06)),
                f0_hz=sweep,
                formants=(),
                envelope=((0.0, 1.0), (0.5, 0.8), (1.0, 0.0)),
                tilt=2.5,
                harmonics=2,
            )
        )
    return _calls(rng, pitch, chirps, (0.025, 0.06))


def _tweet(rng: np.random.Generator, pitch: float) -> np.ndarray:
    song_hz = rng.choice([2300.0, 2600.0, 2900.0, 3300.0, 3700.0, 4200.0], size=5)
    notes = [
        _Syllable(
            seconds=float(rng.uniform(0.07, 0.16)),
            f0_hz=((0.0, float(f) * 1.06), (1.0, float(f) * 0.94)),
            formants=(),
            envelope=((0.0, 0.9), (0.2, 1.0), (0.8, 0.7), (1.0, 0.0)),
            tilt=2.5,
            harmonics=2,
            vibrato=(float(rng.uniform(25, 35)), 0.03),
        )
        for f in song_hz[: int(rng.integers(3, 6))]
    ]
    return _calls(rng, pitch, notes, (0.03, 0.08))


def _caw(rng: np.random.Generator, pitch: float) -> np.ndarray:
    caws = [
        _Syllable(
            seconds=float(rng.uniform(0.22, 0.3)),
            f0_hz=((0.0, 520.0), (0.3, 560.0), (1.0, 470.0)),
            formants=((1150.0, 450.0, 1.0), (1900.0, 600.0, 0.7), (3100.0, 900.0, 0.4)),
            envelope=((0.0, 0.7), (0.1, 1.0), (0.7, 0.85), (1.0, 0.0)),
            tilt=0.3,
            noise=0.7,
            noise_band_hz=(800.0, 4500.0),
            tremolo=(70.0, 0.5),
            jitter=0.04,
        )
        for _ in range(int(rng.integers(2, 4)))
    ]
    return _calls(rng, pitch, caws, (0.12, 0.2))


def _moo(rng: np.random.Generator, pitch: float, seconds: float) -> np.ndarray:
    return _sing(
        _Syllable(
            seconds=seconds,
            f0_hz=((0.0, 125.0), (0.25, 165.0), (0.75, 150.0), (1.0, 115.0)),
            formants=((650.0, 250.0, 1.0), (1100.0, 300.0, 0.6), (2400.0, 500.0, 0.2)),
            formant_shift=((0.0, 0.5), (0.25, 1.0), (1.0, 0.85)),  # "mm" opening to "oo"
            envelope=((0.0, 0.6), (0.2, 1.0), (0.8, 0.9), (1.0, 0.0)),
            harmonics=32,
            noise=0.1,
            noise_band_hz=(200.0, 2000.0),
            vibrato=(4.0, 0.01),
            jitter=0.01,
        ),
        rng,
        pitch,
    )


def _neigh(rng: np.random.Generator, pitch: float, seconds: float) -> np.ndarray:
    return _sing(
        _Syllable(
            seconds=seconds,
            f0_hz=((0.0, 650.0), (0.12, 1050.0), (0.6, 750.0), (1.0, 380.0)),
            formants=((900.0, 500.0, 1.0), (1900.0, 600.0, 0.6), (3000.0, 900.0, 0.3)),
            envelope=((0.0, 0.6), (0.1, 1.0), (0.6, 0.8), (1.0, 0.0)),
            tilt=0.7,
            harmonics=16,
            noise=0.35,
            noise_band_hz=(500.0, 5000.0),
            vibrato=(11.0, 0.06),  # the whinny's shake
            tremolo=(11.0, 0.5),
            jitter=0.02,
        ),
        rng,
        pitch,
    )


def _oink(rng: np.random.Generator, pitch: float) -> np.ndarray:
    grunts = [
        _Syllable(
            seconds=float(rng.uniform(0.12, 0.18)),
            f0_hz=((0.0, 150.0), (0.5, 170.0), (1.0, 120.0)),
            formants=((400.0, 250.0, 1.0), (1100.0, 400.0, 0.6), (2400.0, 700.0, 0.3)),
            envelope=((0.0, 0.8), (0.3, 1.0), (1.0, 0.0)),
            tilt=0.5,
            harmonics=30,
            noise=0.8,
            noise_band_hz=(200.0, 2500.0),
            tremolo=(35.0, 0.7),  # creaky, pulsed
            jitter=0.08,
        )
        for _ in range(int(rng.integers(2, 4)))
    ]
    return _calls(rng, pitch, grunts, (0.07, 0.14))


def _baa(rng: np.random.Generator, pitch: float, seconds: float) -> np.ndarray:
    return _sing(
        _Syllable(
            seconds=seconds,
            f0_hz=((0.0, 320.0), (0.2, 350.0), (1.0, 290.0)),
            formants=((850.0, 300.0, 1.0), (1400.0, 350.0, 0.7), (2600.0, 500.0, 0.35)),
            envelope=((0.0, 0.6), (0.15, 1.0), (0.75, 0.9), (1.0, 0.0)),
            tilt=0.8,
            noise=0.15,
            noise_band_hz=(400.0, 4000.0),
            vibrato=(22.0, 0.03),
            tremolo=(22.0, 0.75),  # the bleat
        ),
        rng,
        pitch,
    )


def _quack(rng: np.random.Generator, pitch: float) -> np.ndarray:
    quacks = [
        _Syllable(
            seconds=float(rng.uniform(0.14, 0.18)),
            f0_hz=((0.0, 290.0), (1.0, 220.0)),
            formants=((1100.0, 220.0, 1.0), (2300.0, 300.0, 0.8), (3500.0, 500.0, 0.3)),
            envelope=((0.0, 0.8), (0.15, 1.0), (0.6, 0.85), (1.0, 0.0)),
            tilt=0.2,
            harmonics=30,
            noise=0.25,
            noise_band_hz=(800.0, 4000.0),
            jitter=0.03,
        )
        for _ in range(2)
    ]
    return _calls(rng, pitch, quacks, (0.08, 0.14))


def _cluck(rng: np.random.Generator, pitch: float) -> np.ndarray:
    clucks = [
        _Syllable(
            seconds=float(rng.uniform(0.05, 0.07)),
            f0_hz=((0.0, 430.0), (1.0, 340.0)),
            formants=((950.0, 350.0, 1.0), (2100.0, 500.0, 0.6)),
            envelope=((0.0, 1.0), (1.0, 0.0)),
            tilt=0.6,
            harmonics=20,
            noise=0.35,
            noise_band_hz=(600.0, 4000.0),
        )
        for _ in range(int(rng.integers(3, 5)))
    ]
    return _calls(rng, pitch, clucks, (0.1, 0.2))


def _crow_rooster(rng: np.random.Generator, pitch: float) -> np.ndarray:
    # cock - a - doodle - doooo
    shapes = (
        (0.12, ((0.0, 520.0), (1.0, 600.0))),
        (0.1, ((0.0, 600.0), (1.0, 640.0))),
        (0.22, ((0.0, 700.0), (0.5, 760.0), (1.0, 680.0))),
        (0.7, ((0.0, 720.0), (0.2, 760.0), (1.0, 480.0))),
    )
    syllables = [
        _Syllable(
            seconds=seconds,
            f0_hz=contour,
            formants=((1000.0, 400.0, 1.0), (1900.0, 500.0, 0.6), (3000.0, 800.0, 0.3)),
            envelope=((0.0, 0.8), (0.2, 1.0), (0.8, 0.8), (1.0, 0.0)),
            tilt=0.4,
            noise=0.35,
            noise_band_hz=(600.0, 5000.0),
            jitter=0.03,
        )
        for seconds, contour in shapes
    ]
    return _calls(rng, pitch, syllables, (0.03, 0.05))


def _roar(rng: np.random.Generator, pitch: float, seconds: float) -> np.ndarray:
    return _sing(
        _Syllable(
            seconds=seconds,
            f0_hz=((0.0, 115.0), (0.2, 145.0), (1.0, 85.0)),
            formants=((350.0, 250.0, 1.0), (800.0, 400.0, 0.8), (1800.0, 700.0, 0.4)),
            envelope=((0.0, 0.9), (0.1, 1.0), (0.7, 0.8), (1.0, 0.0)),
            tilt=0.8,
            harmonics=40,
            noise=1.2,
            noise_band_hz=(80.0, 1800.0),
            tremolo=(28.0, 0.35),
            jitter=0.08,
        ),
        rng,
        pitch,
    )


def _howl(rng: np.random.Generator, pitch: float, seconds: float) -> np.ndarray:
    return _sing(
        _Syllable(
            seconds=seconds,
            f0_hz=((0.0, 340.0), (0.15, 520.0), (0.65, 540.0), (1.0, 320.0)),
            formants=((600.0, 500.0, 1.0),),
            envelope=((0.0, 0.45), (0.12, 1.0), (0.8, 0.9), (1.0, 0.0)),
            tilt=1.6,
            harmonics=6,
            noise=0.05,
            noise_band_hz=(400.0, 2500.0),
            vibrato=(5.0, 0.015),
        ),
        rng,
        pitch,
    )


def _hiss(rng: np.random.Generator, pitch: float, seconds: float) -> np.ndarray:
    n = _samples(seconds)
    shape = _contour(n, ((0.0, 0.8), (0.05, 1.0), (0.85, 0.9), (1.0, 0.0))) * _fade_in(n)
    return _band(n, rng, 2800.0, 11000.0) * shape * (1 + 0.15 * _wander(n, 6.0, rng))


def _buzz(rng: np.random.Generator, pitch: float, seconds: float) -> np.ndarray:
    n = _samples(seconds)
    f0 = 225.0 * pitch * (1 + 0.04 * _wander(n, 3.0, rng))
    sawtooth = _voice(f0, (), rng, harmonics=40, tilt=1.0, floor=1.0)
    wingbeat = 1 + 0.35 * np.sin(2 * np.pi * 8.0 * _times(n)) * _wander(n, 2.0, rng)
    shape = _contour(n, ((0.0, 0.9), (0.05, 1.0), (0.9, 1.0), (1.0, 0.0))) * _fade_in(n)
    return _unit(sawtooth) * wingbeat * shape


def _croak(rng: np.random.Generator, pitch: float) -> np.ndarray:
    croaks = [
        _Syllable(
            seconds=float(rng.uniform(0.2, 0.26)),
            f0_hz=((0.0, 200.0), (1.0, 180.0)),
            formants=((500.0, 300.0, 1.0), (1400.0, 500.0, 0.5)),
            envelope=((0.0, 0.9), (0.3, 1.0), (1.0, 0.0)),
            tilt=0.5,
            noise=0.3,
            noise_band_hz=(300.0, 2500.0),
            tremolo=(45.0, 0.9),  # the ribbit's pulses
        )
        for _ in range(2)
    ]
    return _calls(rng, pitch, croaks, (0.12, 0.2))


def _trumpet_elephant(rng: np.random.Generator, pitch: float, seconds: float) -> np.ndarray:
    return _sing(
        _Syllable(
            seconds=seconds,
            f0_hz=((0.0, 430.0), (0.15, 620.0), (0.8, 560.0), (1.0, 420.0)),
            formants=((1000.0, 900.0, 1.0), (2300.0, 1200.0, 0.6)),
            envelope=((0.0, 0.8), (0.1, 1.0), (0.8, 0.9), (1.0, 0.0)),
            tilt=0.3,
            noise=0.5,
            noise_band_hz=(500.0, 5000.0),
            tremolo=(40.0, 0.3),
            jitter=0.03,
        ),
        rng,
        pitch,
    )


def _squeak(rng: np.random.Generator, pitch: float) -> np.ndarray:
    squeaks = []
    for _ in range(int(rng.integers(2, 4))):
        f = 4000.0 * float(rng.uniform(0.9, 1.1))
        squeaks.append(
            _Syllable(
                seconds=float(rng.uniform(0.04, 0.08)),
                f0_hz=((0.0, 0.95 * f), (0.5, 1.15 * f), (1.0, f)),
                formants=(),
                envelope=((0.0, 1.0), (0.6, 0.8), (1.0, 0.0)),
                tilt=2.0,
                harmonics=2,
            )
        )
    return _calls(rng, pitch, squeaks, (0.04, 0.09))


def _growl(rng: np.random.Generator, pitch: float, seconds: float) -> np.ndarray:
    return _sing(
        _Syllable(
            seconds=seconds,
            f0_hz=((0.0, 90.0), (0.5, 100.0), (1.0, 85.0)),
            formants=((420.0, 300.0, 1.0), (950.0, 400.0, 0.6), (2000.0, 700.0, 0.2)),
            envelope=((0.0, 0.75), (0.15, 1.0), (0.85, 0.9), (1.0, 0.0)),
            tilt=0.7,
            harmonics=40,
            noise=0.6,
            noise_band_hz=(80.0, 1200.0),
            tremolo=(30.0, 0.6),
            jitter=0.12,
        ),
        rng,
        pitch,
    )


def _whale_song(rng: np.random.Generator, pitch: float, seconds: float) -> np.ndarray:
    return _sing(
        _Syllable(
            seconds=seconds,
            f0_hz=((0.0, 180.0), (0.3, 380.0), (0.55, 260.0), (0.8, 420.0), (1.0, 150.0)),
            formants=(),
            envelope=((0.0, 0.5), (0.15, 1.0), (0.5, 0.7), (0.65, 1.0), (1.0, 0.0)),
            tilt=1.5,
            harmonics=4,
            noise=0.03,
            noise_band_hz=(100.0, 1000.0),
            vibrato=(3.0, 0.02),
        ),
        rng,
        pitch,
    )


def _monkey(rng: np.random.Generator, pitch: float) -> np.ndarray:
    ooh = ((380.0, 200.0, 1.0), (850.0, 250.0, 0.5), (2600.0, 600.0, 0.1))
    aah = ((950.0, 300.0, 1.0), (1500.0, 400.0, 0.7), (2800.0, 600.0, 0.3))
    shapes = (
        (0.18, ((0.0, 420.0), (1.0, 480.0)), ooh),
        (0.18, ((0.0, 450.0), (1.0, 520.0)), ooh),
        (0.35, ((0.0, 600.0), (0.4, 900.0), (1.0, 700.0)), aah),
    )
    syllables = [
        _Syllable(
            seconds=seconds,
            f0_hz=contour,
            formants=formants,
            envelope=((0.0, 0.8), (0.3, 1.0), (1.0, 0.0)),
            tilt=0.8,
            harmonics=16,
            noise=0.15,
        )
        for seconds, contour, formants in shapes
    ]
    return _calls(rng, pitch, syllables, (0.07, 0.1))


def _honk_goose(rng: np.random.Generator, pitch: float) -> np.ndarray:
    honks = [
        _Syllable(
            seconds=float(rng.uniform(0.2, 0.25)),
            f0_hz=((0.0, 380.0), (0.2, 430.0), (1.0, 330.0)),
            formants=((1000.0, 250.0, 1.0), (2500.0, 400.0, 0.7)),
            envelope=((0.0, 0.8), (0.2, 1.0), (0.75, 0.85), (1.0, 0.0)),
            tilt=0.25,
            harmonics=30,
            noise=0.25,
            noise_band_hz=(600.0, 4000.0),
            tremolo=(60.0, 0.3),
        )
        for _ in range(2)
    ]
    return _calls(rng, pitch, honks, (0.1, 0.15))


# --- Impacts, machines and crowds --------------------------------------------------------


def _footstep(rng: np.random.Generator, pitch: float) -> np.ndarray:
    n = _samples(0.09)
    t = _times(n)
    thud = _modes(n, [85.0 * pitch, 140.0 * pitch], [0.022, 0.012], [1.0, 0.5], rng)
    grit = _band(n, rng, 1200.0, 6000.0) * np.exp(-t / 0.015) * (1 + 0.5 * _wander(n, 200, rng))
    heel = _band(n, rng, 200.0, 3000.0) * np.exp(-t / 0.002)
    return (thud + 0.06 * grit + 0.15 * heel) * _fade_in(n)


def _hoof(rng: np.random.Generator, pitch: float) -> np.ndarray:
    n = _samples(0.15)
    t = _times(n)
    shell = _modes(
        n,
        [650.0 * pitch, 1050.0 * pitch, 1800.0 * pitch, 2600.0 * pitch],
        [0.03, 0.02, 0.012, 0.008],
        [1.0, 0.6, 0.4, 0.2],
        rng,
    )
    thump = _modes(n, [120.0 * pitch], [0.02], [0.5], rng)
    click = _band(n, rng, 500.0, 8000.0) * np.exp(-t / 0.0015)
    return (shell + thump + 0.25 * click) * _fade_in(n)


def _splash(rng: np.random.Generator, pitch: float) -> np.ndarray:
    n = _samples(1.1)
    t = _times(n)
    impact = _band(n, rng, 200.0, 8000.0) * np.exp(-t / 0.03)
    body = _band(n, rng, 300.0, 3500.0) * np.exp(-t / 0.25) * (1 + 0.5 * _wander(n, 20, rng))
    sound = (impact + 0.35 * body) * _fade_in(n)
    # Bubbles: short rising tones, mostly just after the entry.
    count = 30
    starts_s = np.minimum(0.02 + rng.exponential(0.2, count), 0.9)
    bubbles = _bubbles(
        rng.uniform(400, 1600, count) * pitch, rng.uniform(0.01, 0.04, count), rng
    ) * rng.uniform(0.1, 0.5, (count, 1))
    _scatter_add(sound, np.round(starts_s * SAMPLE_RATE).astype(int), bubbles)
    return _fade_out(sound, 0.2)


def _whoosh(rng: np.random.Generator, pitch: float, seconds: float) -> np.ndarray:
    n = _samples(seconds)
    centre = _contour(n, ((0.0, 1600.0), (0.5, 1100.0), (1.0, 600.0))) * pitch  # passing by
    air = _swept_filter(
        rng.standard_normal(n).astype(np.float32), low_hz=0.6 * centre, high_hz=1.6 * centre
    )
    swell = _contour(n, ((0.0, 0.4), (0.45, 1.0), (1.0, 0.0))) ** 1.3
    return _unit(air) * swell * _fade_in(n)


def _crash(rng: np.random.Generator, pitch: float) -> np.ndarray:
    n = _samples(1.6)
    t = _times(n)
    blast = _band(n, rng, 60.0, 5000.0) * np.exp(-t / 0.1)
    thump = _modes(n, [48.0 * pitch, 75.0 * pitch], [0.15, 0.09], [1.2, 0.6], rng)
    crunch = _band(n, rng, 400.0, 3500.0) * np.exp(-t / 0.35) * (0.6 + 0.4 * _wander(n, 25, rng))
    sound = (blast + thump + 0.3 * crunch) * _fade_in(n)
    # Metal rattles: panels and parts ringing as they are struck and settle.
    rattle_s = np.concatenate([[0.0], np.sort(rng.uniform(0.03, 0.9, 7))])
    base = rng.uniform(250, 900, (8, 1)) * pitch
    ring_s = rng.uniform(0.08, 0.3, (8, 1))
    rattles = _hits(
        base * [1.0, 2.32, 3.91, 5.3], ring_s / [1.0, 1.6, 2.2, 3.0], [1, 0.7, 0.5, 0.3], rng
    )
    rattles *= (0.6 * np.exp(-rattle_s / 0.5))[:, None].astype(np.float32)
    _scatter_add(sound, np.round(rattle_s * SAMPLE_RATE).astype(int), rattles)
    # Glass: many tiny, bright, short tinkles, most of them early.
    tinkle_s = np.minimum(0.02 + rng.exponential(0.25, 30), 1.3)
    f = rng.uniform(3000, 8000, (30, 1))
    ring_s = rng.uniform(0.015, 0.06, (30, 1))
    tinkles = _hits(f * [1.0, 1.52, 2.4], ring_s / [1.0, 2.0, 3.0], [1.0, 0.5, 0.3], rng)
    tinkles *= rng.uniform(0.05, 0.2, (30, 1)).astype(np.float32)
    _scatter_add(sound, np.round(tinkle_s * SAMPLE_RATE).astype(int), tinkles)
    return _fade_out(sound, 0.2)


def _screech(rng: np.random.Generator, pitch: float, seconds: float) -> np.ndarray:
    n = _samples(seconds)
    squeal_hz = 1900.0 * (1 + 0.05 * _wander(n, 5.0, rng)) * (1 + 0.01 * _wander(n, 60.0, rng))
    tone = _voice(squeal_hz, (), rng, harmonics=3, tilt=1.3, floor=1.0)
    white = rng.standard_normal(n).astype(np.float32)
    hiss = _swept_filter(white, low_hz=0.9 * squeal_hz, high_hz=1.1 * squeal_hz, order=4)
    shape = _contour(n, ((0.0, 0.7), (0.06, 1.0), (0.8, 0.85), (1.0, 0.0))) * _fade_in(n)
    return (_unit(tone) + 0.5 * _unit(hiss)) * shape * (1 + 0.25 * _wander(n, 15.0, rng))


def _horn(rng: np.random.Generator, pitch: float, seconds: float) -> np.ndarray:
    n = _samples(seconds)
    # Two diaphragm horns a major third apart, buzzy, through a bell resonance.
    bell = ((2500.0, 1500.0, 1.0),)
    low = _voice(
        np.full(n, 405.0 * pitch, np.float32), bell, rng, harmonics=24, tilt=0.7, floor=0.4
    )
    high = _voice(
        np.full(n, 510.0 * pitch, np.float32), bell, rng, harmonics=24, tilt=0.7, floor=0.4
    )
    shape = _contour(n, ((0.0, 1.0), (0.94, 1.0), (1.0, 0.0))) * _fade_in(n)
    return (_unit(low) + _unit(high)) * shape


def _siren(rng: np.random.Generator, pitch: float, seconds: float) -> np.ndarray:
    n = _samples(seconds)
    wail_hz = 650.0 + 650.0 * (0.5 - 0.5 * np.cos(2 * np.pi * _times(n) / 2.4))
    tone = _voice(wail_hz.astype(np.float32), (), rng, harmonics=6, tilt=1.2, floor=1.0)
    shape = _contour(n, ((0.0, 0.8), (0.1, 1.0), (0.95, 1.0), (1.0, 0.0))) * _fade_in(n)
    return _unit(tone) * shape


def _bell(rng: np.random.Generator, pitch: float) -> np.ndarray:
    # A church bell's partials: hum, prime, tierce, quint, nominal and upper partials.
    ratios = np.array([0.5, 1.0, 1.19, 1.5, 2.0, 2.51, 2.66, 3.01, 4.0])
    decays = np.array([2.2, 1.6, 1.2, 1.0, 0.9, 0.5, 0.45, 0.35, 0.25]) / pitch**0.5
    gains = np.array([0.6, 1.0, 0.7, 0.4, 0.8, 0.3, 0.25, 0.2, 0.15])
    n = _samples(3.0)
    t = _times(n)
    ring = _modes(n, 520.0 * pitch * ratios, decays, gains, rng)
    strike = _band(n, rng, 1000.0, 9000.0) * np.exp(-t / 0.002)
    return _fade_out((ring + 0.4 * strike) * _fade_in(n), 0.3)


def _thud(rng: np.random.Generator, pitch: float) -> np.ndarray:
    n = _samples(0.4)
    t = _times(n)
    body = _modes(
        n, [62.0 * pitch, 98.0 * pitch, 145.0 * pitch], [0.09, 0.05, 0.03], [1, 0.5, 0.25], rng
    )
    dull = _band(n, rng, None, 900.0) * np.exp(-t / 0.025)
    click = _band(n, rng, 200.0, 4000.0) * np.exp(-t / 0.001)
    return (body + 0.25 * dull + 0.15 * click) * _fade_in(n)


def _pop(rng: np.random.Generator, pitch: float) -> np.ndarray:
    n = _samples(0.08)
    t = _times(n)
    click = _band(n, rng, 500.0, 10000.0) * np.exp(-t / 0.0008)
    rise_hz = _curve(n, ((0.0, 900.0 * pitch), (0.02, 1500.0 * pitch)))
    tone = np.sin(_phase(rise_hz)) * np.exp(-t / 0.015)
    return (click + 0.6 * tone) * _fade_in(n)


def _explosion(rng: np.random.Generator, pitch: float) -> np.ndarray:
    n = _samples(3.0)
    t = _times(n)
    # The blast darkens as it spreads: its low-pass falls from 9 kHz to 250 Hz.
    cutoff_hz = _curve(n, ((0.0, 9000.0), (0.3, 2500.0), (1.5, 500.0), (3.0, 250.0))) * pitch
    blast = _unit(_swept_filter(rng.standard_normal(n).astype(np.float32), high_hz=cutoff_hz))
    blast *= 0.7 * np.exp(-t / 0.08) + 0.45 * np.exp(-t / 0.9)
    boom_hz = 30.0 * pitch + 40.0 * pitch * np.exp(-t / 0.25)
    boom = np.sin(_phase(boom_hz)) * np.exp(-t / 0.7)
    debris = np.zeros(n, np.float32)
    (times,) = np.nonzero(rng.random(n) < 40.0 / SAMPLE_RATE * np.exp(-t / 0.8))
    debris[times] = np.minimum(rng.pareto(2.0, times.size) + 1.0, 5.0).astype(np.float32)
    debris = _peak1(_shape(debris, low_hz=1500.0, high_hz=7000.0))
    sound = (blast + 1.3 * boom + 0.8 * debris) * _fade_in(n)
    return _fade_out(sound, 0.3)


def _thunder(rng: np.random.Generator, pitch: float) -> np.ndarray:
    n = _samples(4.0)
    t = _times(n)
    crack = _peak1(_band(n, rng, 1500.0, 10000.0) * np.exp(-t / 0.05))
    body = _peak1(_band(n, rng, 300.0, 4000.0) * np.exp(-t / 0.2))
    # Rumble: rolls at random times (echoes off clouds and hills) over a long decay.
    rolls = 0.6 * np.exp(-t / 1.5)
    for _ in range(int(rng.integers(3, 6))):
        centre_s, width_s = float(rng.uniform(0.2, 2.8)), float(rng.uniform(0.25, 0.8))
        rolls += float(rng.uniform(0.5, 1.0)) * np.exp(-(((t - centre_s) / width_s) ** 2))
    rolls *= 1 - np.exp(-t / 0.05)
    rumble = _peak1(_band(n, rng, 25.0, 220.0) * rolls)
    sound = (crack + 0.4 * body + 0.8 * rumble) * _fade_in(n)
    return _fade_out(sound, 0.4)


def _zap(rng: np.random.Generator, pitch: float) -> np.ndarray:
    n = _samples(0.35)
    t = _times(n)
    sweep_hz = 2800.0 * (180.0 / 2800.0) ** (t / 0.33)
    tone = _voice(sweep_hz.astype(np.float32), (), rng, harmonics=7, tilt=1.0, floor=1.0)
    tone *= 0.6 + 0.4 * np.cos(2 * np.pi * 60.0 * t)
    shape = _contour(n, ((0.0, 1.0), (0.8, 0.6), (1.0, 0.0))) * _fade_in(n)
    return _unit(tone) * shape


def _applause(rng: np.random.Generator, pitch: float, seconds: float) -> np.ndarray:
    n = _samples(seconds)
    out = np.zeros(n, np.float32)
    grain_n = _samples(0.025)
    decay = _decay(grain_n, 0.004) * _fade_in(grain_n)
    # Five groups of hands, each with its own colour; one clapper of each starts at once.
    for colour_hz in rng.uniform(900, 2600, 5):
        starts = []
        for clapper in range(8):
            period_s = float(rng.uniform(0.2, 0.38))
            first_s = 0.0 if clapper == 0 else float(rng.uniform(0.0, 0.15))
            claps_s = first_s + period_s * np.arange(int((seconds - first_s) / period_s) + 1)
            claps_s[1:] += rng.normal(0, 0.012, claps_s.size - 1)
            starts.append(np.round(claps_s * SAMPLE_RATE).astype(int))
        start = np.concatenate(starts)
        start = start[(start >= 0) & (start < n)]
        white = rng.standard_normal((start.size, grain_n)).astype(np.float32)
        claps = _shape(white, low_hz=0.5 * colour_hz, high_hz=1.8 * colour_hz) * decay
        claps *= rng.uniform(0.5, 1.0, (start.size, 1)).astype(np.float32)
        claps[start == 0] /= np.abs(claps[start == 0]).max(axis=1, keepdims=True)
        _scatter_add(out, start, claps)
    room_n = _samples(0.3)  # the hall's short reverberation fills between the claps
    room = rng.standard_normal(room_n).astype(np.float32) * _decay(room_n, 0.08) * 0.04
    out += _convolve(out, room)
    return out * _contour(n, ((0.0, 1.0), (0.75, 0.9), (1.0, 0.0)))


def _cheer(rng: np.random.Generator, pitch: float, seconds: float) -> np.ndarray:
    n = _samples(seconds)
    roar = _band(n, rng, 250.0, 3000.0) * (0.8 + 0.2 * _wander(n, 1.0, rng))
    voices = np.zeros(n, np.float32)
    vowels = (
        ((300.0, 200.0, 1.0), (2300.0, 400.0, 0.6)),  # "ee"
        ((800.0, 300.0, 1.0), (1300.0, 400.0, 0.6)),  # "ah"
        ((350.0, 200.0, 1.0), (800.0, 300.0, 0.5)),  # "oo"
    )
    for _ in range(5):
        f = float(rng.uniform(220, 420))
        voice = _Syllable(
            seconds=float(rng.uniform(0.6, 0.95)) * seconds,
            f0_hz=((0.0, f), (0.3, 1.25 * f), (1.0, 1.1 * f)),
            formants=vowels[int(rng.integers(len(vowels)))],
            envelope=((0.0, 0.5), (0.2, 1.0), (0.8, 0.8), (1.0, 0.0)),
            tilt=0.8,
            harmonics=8,
            vibrato=(6.0, 0.02),
        )
        _add_at(voices, _sing(voice, rng, 1.0), round(rng.uniform(0, 0.05) * n))
    whistle_hz = float(rng.uniform(2200, 3000))
    whistle = _sing(
        _Syllable(
            seconds=min(0.6, seconds),
            f0_hz=((0.0, 0.9 * whistle_hz), (0.3, 1.1 * whistle_hz), (1.0, whistle_hz)),
            formants=(),
            envelope=((0.0, 0.5), (0.2, 1.0), (1.0, 0.0)),
            tilt=3.0,
            harmonics=2,
        ),
        rng,
        1.0,
    )
    _add_at(voices, 0.6 * whistle, round(rng.uniform(0.1, 0.5) * n))
    shape = _contour(n, ((0.0, 0.5), (0.15, 1.0), (0.8, 0.9), (1.0, 0.0))) * _fade_in(n)
    return (0.6 * roar + 0.5 * _unit(voices)) * shape


def _chime(rng: np.random.Generator, pitch: float) -> np.ndarray:
    n = _samples(1.6)
    out = np.zeros(n, np.float32)
    intervals = [0, 4, 7] if rng.random() < 0.5 else [7, 4, 0]
    for i, semitones in enumerate(intervals):
        f = _midi_hz(84 + semitones) * pitch
        bar = _hit([f, 2.76 * f, 5.40 * f], [1.0, 0.4, 0.15], [1.0, 0.35, 0.15], rng)
        _add_at(out, bar, round(0.13 * i * SAMPLE_RATE))
    return _fade_out(out, 0.3)


def _door(rng: np.random.Generator, pitch: float) -> np.ndarray:
    n = _samples(0.7)
    t = _times(n)
    slam = _modes(
        n, [80.0 * pitch, 165.0 * pitch, 250.0 * pitch], [0.1, 0.06, 0.035], [1, 0.6, 0.3], rng
    )
    slam += 0.3 * _band(n, rng, 100.0, 2500.0) * np.exp(-t / 0.02)
    sound = slam * _fade_in(n)
    latch = _hit([2400.0, 3700.0, 5200.0], [0.012, 0.008, 0.005], [0.5, 0.3, 0.2], rng)
    _add_at(sound, latch, round(0.015 * SAMPLE_RATE))
    for rattle_s in (0.06, 0.11):
        rattle = _hit([1800.0, 2900.0], [0.02, 0.01], [0.2, 0.1], rng)
        _add_at(sound, rattle, round(rattle_s * SAMPLE_RATE))
    return _fade_out(sound, 0.1)


def _bounce(rng: np.random.Generator, pitch: float) -> np.ndarray:
    n = _samples(0.6)
    t = _times(n)
    # A spring's "boing": a rising tone whose pitch wobbles and settles.
    wobble = 1 + 0.35 * np.exp(-t / 0.12) * np.sin(2 * np.pi * 11.0 * t)
    boing_hz = 260.0 * pitch * wobble * (1 + 0.25 * t / 0.6)
    tone = _voice(boing_hz.astype(np.float32), (), rng, harmonics=3, tilt=1.2, floor=1.0)
    thump = _modes(n, [110.0 * pitch], [0.03], [0.6], rng)
    return (_peak1(tone) * np.exp(-t / 0.18) + thump) * _fade_in(n)


# --- Engines -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Combustion:
    """A piston engine behind a gearbox: rpm rises through each gear and drops at a shift."""

    idle_rpm: float
    shift_rpm: float  # rpm at the top of each gear
    gear_span_m_s: float  # speed range covered by one gear
    gears: int
    firings_per_rev: float  # cylinders / 2 for a four-stroke, cylinders for a two-stroke
    tilt: float  # the firing frequency's harmonic k has amplitude k ** -tilt
    half_orders: float  # level of the half-order partials (uneven firing, imbalance)
    orders: int  # how many half-orders to synthesise
    rasp: float  # random roughness of each firing
    road: float  # tyre or hull noise at 30 m/s, relative to the engine
    exhaust: float  # exhaust noise, relative to the engine


_COMBUSTION = {
    "car": _Combustion(  # four cylinders, five gears
        idle_rpm=850.0,
        shift_rpm=4200.0,
        gear_span_m_s=7.5,
        gears=5,
        firings_per_rev=2.0,
        tilt=0.9,
        half_orders=0.2,
        orders=16,
        rasp=0.15,
        road=0.35,
        exhaust=0.25,
    ),
    "truck": _Combustion(  # a six-cylinder diesel, eight gears
        idle_rpm=600.0,
        shift_rpm=2000.0,
        gear_span_m_s=4.0,
        gears=8,
        firings_per_rev=3.0,
        tilt=0.5,
        half_orders=0.3,
        orders=24,
        rasp=0.3,
        road=0.45,
        exhaust=0.35,
    ),
    "motorcycle": _Combustion(  # a twin, revving high
        idle_rpm=1300.0,
        shift_rpm=9000.0,
        gear_span_m_s=9.0,
        gears=6,
        firings_per_rev=1.0,
        tilt=0.45,
        half_orders=0.5,
        orders=24,
        rasp=0.45,
        road=0.2,
        exhaust=0.35,
    ),
    "boat": _Combustion(  # a two-stroke outboard, no gearbox
        idle_rpm=900.0,
        shift_rpm=5500.0,
        gear_span_m_s=15.0,
        gears=1,
        firings_per_rev=1.0,
        tilt=0.5,
        half_orders=0.2,
        orders=20,
        rasp=0.4,
        road=0.0,
        exhaust=0.3,
    ),
}


def _combustion_source(speed: np.ndarray, rng: np.random.Generator, e: _Combustion) -> np.ndarray:
    n = speed.size
    gears = speed / np.float32(e.gear_span_m_s)
    gear = np.minimum(np.floor(gears), e.gears - 1)
    through_gear = np.minimum(gears - gear, 1.4)  # the top gear revs on past the shift point
    rpm = _smooth(e.idle_rpm + (e.shift_rpm - e.idle_rpm) * through_gear, 0.08)
    firing_hz = rpm / 60.0 * e.firings_per_rev
    engine = _unit(_engine_partials(firing_hz, e.orders, e.tilt, e.half_orders, rng))
    engine *= 1 + e.rasp * _wander(n, 50.0, rng)
    load = 0.35 + 0.65 * rpm / np.float32(e.shift_rpm)
    sound = engine * load + e.exhaust * load * _band(n, rng, 60.0, 900.0)
    if e.road:
        tyres = (np.minimum(speed, 60) / np.float32(30.0)) ** 1.5
        sound += e.road * tyres * _band(n, rng, 300.0, 2500.0)
    return 0.15 * sound


def _engine_partials(
    firing_hz: np.ndarray, orders: int, tilt: float, half_orders: float, rng: np.random.Generator
) -> np.ndarray:
    """Sum of the half-orders 0.5, 1, 1.5 … of the firing frequency (per sample), with a
    random spread of levels: each engine has its own character."""
    base = _phase(firing_hz / 2)  # half the firing frequency: even multiples are firings
    top_hz = float(firing_hz.max())
    out = np.zeros(firing_hz.size, np.float32)
    for m in range(1, orders + 1):
        order = m / 2
        level = order**-tilt * float(rng.uniform(0.6, 1.4))
        if m % 2:
            level *= half_orders
        wave = level * np.sin(m * base + float(rng.uniform(0, 2 * np.pi)))
        if order * top_hz >= _TOP_HZ:  # would alias at the highest revs: only below them
            wave *= order * firing_hz < _TOP_HZ
        out += wave
    return out


def _car(speed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return _combustion_source(speed, rng, _COMBUSTION["car"])


def _truck(speed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return _combustion_source(speed, rng, _COMBUSTION["truck"])


def _motorcycle(speed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return _combustion_source(speed, rng, _COMBUSTION["motorcycle"])


def _boat(speed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = speed.size
    motor = _combustion_source(speed, rng, _COMBUSTION["boat"])
    wake = np.minimum(speed / 10.0, 1.0).astype(np.float32)
    wash = _band(n, rng, 50.0, 900.0) * (0.3 + 0.7 * wake) * (0.7 + 0.3 * _wander(n, 0.7, rng))
    slap = _band(n, rng, 200.0, 1500.0) * np.maximum(_wander(n, 3.0, rng), 0) ** 2
    return 0.7 * motor + 0.1 * (0.8 * wash + 0.6 * slap * wake)


# Wheelsets of a short train (m from the front): each clacks over every rail joint.
_WHEELSETS_M = (0.0, 2.5, 15.0, 17.5, 20.0, 22.5, 35.0, 37.5)
_RAIL_M = 25.0


def _train(speed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = speed.size
    pace = np.minimum(speed / 25.0, 1.5).astype(np.float32)
    firing_hz = (600.0 + 300.0 * np.minimum(speed / 30.0, 1.0)) / 60.0 * 8  # a V16 diesel
    engine = _unit(_engine_partials(firing_hz, 16, 0.7, 0.4, rng))
    rumble = _band(n, rng, 30.0, 350.0) * pace
    hum = _band(n, rng, 800.0, 2500.0) * pace
    travelled_m = np.cumsum(speed, dtype=np.float64) / SAMPLE_RATE
    joints = np.zeros(n, np.float32)
    for offset_m in _WHEELSETS_M:
        crossed = np.diff(np.floor((travelled_m - offset_m) / _RAIL_M), prepend=np.nan) > 0
        joints[crossed] += 1.0
    clack = _hit([950.0, 1500.0, 2300.0], [0.03, 0.02, 0.01], [1.0, 0.6, 0.3], rng)
    clack += 0.8 * _modes(clack.size, [70.0], [0.03], [1.0], rng)
    clacks = _convolve(joints, clack) * np.minimum(pace, 1.0)
    return 0.15 * (0.5 * engine + 0.6 * rumble + 0.1 * hum + 0.6 * clacks)


def _airplane(speed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = speed.size
    # A propeller: three blades at about 2400 rpm pass 120 times a second.
    blade_hz = (2400.0 + 300.0 * np.minimum(speed / 60.0, 1.0)) / 60.0 * 3
    propeller = _unit(_engine_partials(blade_hz, 20, 0.6, 0.0, rng))
    roar = _band(n, rng, 80.0, 2500.0)
    return 0.13 * (propeller + 0.6 * roar)


def _jet(speed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = speed.size
    thrust = (0.6 + 0.4 * np.minimum(speed / 80.0, 1.0)).astype(np.float32)
    roar = _band(n, rng, 40.0, 6000.0, order=1) + 0.6 * _band(n, rng, 20.0, 200.0)
    whine_hz = 3600.0 * (1 + 0.05 * np.minimum(speed / 100.0, 1.0))
    whine = np.sin(_phase(whine_hz)) + 0.5 * np.sin(_phase(1.5 * whine_hz))
    return 0.15 * thrust * (_unit(roar) + 0.15 * whine)


def _helicopter(speed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = speed.size
    # The main rotor's blades pass about 21 times a second: each pass is a low slap.
    blade_hz = 21.0 + 0.5 * np.minimum(speed / 60.0, 1.0)
    since_s = _phase(blade_hz) / (2 * np.pi * blade_hz)  # seconds since the last pass
    slap = np.exp(-since_s / 0.014) * (
        0.7 * np.sin(2 * np.pi * 65.0 * since_s) + 0.6 * _band(n, rng, 40.0, 1000.0)
    )
    tail = _unit(_engine_partials(np.full(n, 105.0), 10, 0.8, 0.0, rng))
    whine = 0.05 * np.sin(_phase(np.full(n, 1250.0))) + 0.05 * _band(n, rng, 2000.0, 6000.0)
    return 0.08 * (_unit(slap) + 0.25 * tail + whine + 0.3 * _band(n, rng, 50.0, 600.0))


_ENGINES: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "car": _car,
    "truck": _truck,
    "motorcycle": _motorcycle,
    "train": _train,
    "airplane": _airplane,
    "jet": _jet,
    "helicopter": _helicopter,
    "boat": _boat,
}


# --- Instruments -------------------------------------------------------------------------

NoteSynth = Callable[[np.random.Generator, float, float], np.ndarray]  # (rng, midi, seconds)


def _piano(rng: np.random.Generator, pitch: float, duration_s: float) -> np.ndarray:
    f0 = _midi_hz(pitch)
    ring_s = float(np.clip(1.8 * (262.0 / f0) ** 0.6, 0.3, 5.0))  # the fundamental's decay
    held_s = min(duration_s, 5 * ring_s)
    n = _samples(held_s + 0.4)
    t = _times(n)
    # Stiff strings: partial k sits at k·f0·sqrt(1 + B·k²), and higher partials die sooner.
    k = np.arange(1, max(1, min(14, int(9000 // f0))) + 1)
    freqs = k * f0 * np.sqrt(1 + 0.0004 * k**2)
    decays = ring_s / (1 + 0.5 * (k - 1))
    gains = k**-1.0 * (np.abs(np.sin(np.pi * k / 7.3)) + 0.05)  # struck at 1/7 of the string
    strings = _peak1(_modes(n, freqs, decays, gains, rng))
    hammer = _band(n, rng, 200.0, 4000.0) * np.exp(-t / 0.004)
    damper = np.exp(-np.maximum(t - held_s, 0) / 0.07)
    return (strings + 0.1 * hammer) * damper * _fade_in(n)


def _guitar(rng: np.random.Generator, pitch: float, duration_s: float) -> np.ndarray:
    f0 = _midi_hz(pitch)
    held_s = min(duration_s, 4.0)
    n = _samples(held_s + 0.25)
    t60_s = float(np.clip(2.5 * (220.0 / f0) ** 0.5, 0.8, 4.0))
    string = _karplus_strong(f0, n, rng, t60_s=t60_s)
    return string * np.exp(-np.maximum(_times(n) - held_s, 0) / 0.05)


def _karplus_strong(f0_hz: float, n: int, rng: np.random.Generator, *, t60_s: float) -> np.ndarray:
    """(n,) plucked string: a period of noise circulating in a delay line whose average of
    neighbouring samples takes a little treble away on every round trip.

    The loop is exactly SAMPLE_RATE / f0 samples long: `period` whole samples, half a
    sample from the two-point average, and the rest from a linear interpolation, folded
    into one three-tap filter. Each sample depends only on samples at least one period
    back, so the loop runs a period at a time, vectorised within it.
    """
    delay = SAMPLE_RATE / f0_hz
    period = int(delay - 0.5)
    frac = delay - 0.5 - period
    loss = 10 ** (-3 / (t60_s * f0_hz))  # per round trip, for -60 dB after t60_s
    # [0.5, 0.5] (the average) convolved with [1 - frac, frac] (the interpolation)
    a, b, c = loss * 0.5 * (1 - frac), loss * 0.5, loss * 0.5 * frac
    pad = 2  # zeros before the string starts, read by the first period's taps
    y = np.zeros(n + pad)
    burst = rng.uniform(-1, 1, period)
    burst = 0.5 * (burst + np.roll(burst, 1))  # a softer pluck than raw white noise
    burst -= burst.mean()
    y[pad : pad + min(period, n)] = burst[:n]
    for start in range(pad + period, n + pad, period):
        stop = min(start + period, n + pad)
        back = start - period
        y[start:stop] = (
            a * y[back : stop - period]
            + b * y[back - 1 : stop - period - 1]
            + c * y[back - 2 : stop - period - 2]
        )
    return y[pad:].astype(np.float32)


def _violin(rng: np.random.Generator, pitch: float, duration_s: float) -> np.ndarray:
    f0 = _midi_hz(pitch)
    n = _samples(duration_s + 0.15)
    t = _times(n)
    vibrato = 0.004 * np.sin(2 * np.pi * 5.5 * t) * np.clip((t - 0.15) / 0.25, 0, 1)
    body = ((300.0, 200.0, 1.0), (470.0, 250.0, 0.8), (1100.0, 600.0, 0.5), (2800.0, 1500.0, 0.7))
    count = max(1, min(20, int(9000 // f0)))
    string = _unit(_voice(f0 * (1 + vibrato), body, rng, harmonics=count, tilt=0.9, floor=0.3))
    bow = _band(n, rng, 2000.0, 7000.0)
    shape = _curve(
        n, ((0.0, 0.25), (0.03, 0.8), (0.08, 1.0), (duration_s, 0.9), (duration_s + 0.12, 0.0))
    )
    return (string + 0.04 * bow) * shape * _fade_in(n)


def _flute(rng: np.random.Generator, pitch: float, duration_s: float) -> np.ndarray:
    f0 = _midi_hz(pitch)
    n = _samples(duration_s + 0.12)
    t = _times(n)
    f0_hz = f0 * (1 + 0.005 * np.sin(2 * np.pi * 5.0 * t))
    tone = _unit(_voice(f0_hz.astype(np.float32), (), rng, harmonics=4, tilt=1.8, floor=1.0))
    breath = _band(n, rng, 0.8 * f0, 3 * f0)
    chiff = _band(n, rng, 1000.0, 6000.0) * np.exp(-t / 0.02)
    shape = _curve(n, ((0.0, 0.2), (0.04, 1.0), (duration_s, 0.9), (duration_s + 0.1, 0.0)))
    return (tone * (1 + 0.05 * np.sin(2 * np.pi * 5.0 * t)) + 0.08 * breath + 0.3 * chiff) * (
        shape * _fade_in(n)
    )


def _trumpet(rng: np.random.Generator, pitch: float, duration_s: float) -> np.ndarray:
    f0 = _midi_hz(pitch)
    n = _samples(duration_s + 0.1)
    t = _times(n)
    shape = _curve(
        n, ((0.0, 0.3), (0.02, 1.0), (0.1, 0.85), (duration_s, 0.8), (duration_s + 0.08, 0.0))
    )
    base = _phase(f0 * (1 - 0.02 * np.exp(-t / 0.03)))  # lips scoop up to the note
    # Brass brightens as it gets louder: harmonic k follows the envelope to the power
    # 1 + 0.3·(k - 1), so the upper harmonics bloom last.
    bloom = np.maximum(shape, 1e-6) ** 0.3
    level = shape.copy()
    out = np.zeros(n, np.float32)
    for k in range(1, max(1, min(20, int(9000 // f0))) + 1):
        bell = 1 + 1.0 / (1 + ((k * f0 - 1200.0) / 500.0) ** 2)  # the bell's resonance
        out += k**-0.7 * bell * level * np.sin(k * base + float(rng.uniform(0, 2 * np.pi)))
        level *= bloom
    return out * _fade_in(n)


def _harp(rng: np.random.Generator, pitch: float, duration_s: float) -> np.ndarray:
    f0 = _midi_hz(pitch)
    ring_s = float(np.clip(2.5 * (262.0 / f0) ** 0.5, 0.5, 4.0))
    n = _samples(min(5 * ring_s, duration_s + 1.5, 6.0))  # a harp string rings on
    t = _times(n)
    k = np.arange(1, max(1, min(10, int(9000 // f0))) + 1)
    gains = k**-1.5 * (np.abs(np.sin(np.pi * k * 0.28)) + 0.02)
    string = _peak1(
        _modes(n, k * f0 * (1 + 0.0001 * k**2), ring_s / (1 + 0.4 * (k - 1)), gains, rng)
    )
    pluck = _band(n, rng, 500.0, 6000.0) * np.exp(-t / 0.002)
    return _fade_out((string + 0.1 * pluck) * _fade_in(n), 0.1)


def _xylophone(rng: np.random.Generator, pitch: float, duration_s: float) -> np.ndarray:
    f0 = _midi_hz(pitch)
    ring_s = 0.25 * (523.0 / f0) ** 0.4
    n = _samples(min(5 * ring_s, 1.5))  # a struck bar rings out whatever the written length
    t = _times(n)
    bar = _peak1(
        _modes(n, [f0, 3.0 * f0, 6.6 * f0], [ring_s, ring_s / 3, ring_s / 8], [1, 0.4, 0.15], rng)
    )
    mallet = _band(n, rng, 1000.0, 8000.0) * np.exp(-t / 0.001)
    return _fade_out((bar + 0.2 * mallet) * _fade_in(n), 0.05)


def _bell_note(rng: np.random.Generator, pitch: float, duration_s: float) -> np.ndarray:
    f0 = _midi_hz(pitch)
    ring_s = 1.2 * (880.0 / f0) ** 0.3
    n = _samples(min(5 * ring_s, 3.0))
    ratios = np.array([1.0, 2.76, 5.40, 8.93])
    decays = ring_s * np.array([1.0, 0.42, 0.2, 0.1])
    bar = _peak1(_modes(n, f0 * ratios, decays, [1.0, 0.5, 0.3, 0.15], rng))
    strike = _band(n, rng, 2000.0, 10000.0) * _decay(n, 0.001)
    return _fade_out((bar + 0.15 * strike) * _fade_in(n), 0.2)


def _drums(rng: np.random.Generator, pitch: float, duration_s: float) -> np.ndarray:
    return _DRUMS[round(pitch)](rng)


def _kick(rng: np.random.Generator) -> np.ndarray:
    n = _samples(0.5)
    t = _times(n)
    body = np.sin(_phase(50.0 + 110.0 * np.exp(-t / 0.03))) * np.exp(-t / 0.25)
    click = _band(n, rng, 2000.0, 9000.0) * np.exp(-t / 0.002)
    return (body + 0.3 * click) * _fade_in(n)


def _snare(rng: np.random.Generator) -> np.ndarray:
    n = _samples(0.35)
    t = _times(n)
    shell = _modes(n, [185.0, 330.0], [0.08, 0.05], [1.0, 0.6], rng)
    wires = _band(n, rng, 1500.0, 9000.0) * np.exp(-t / 0.12)
    return (shell + 0.5 * wires) * _fade_in(n)


def _clap(rng: np.random.Generator) -> np.ndarray:
    n = _samples(0.25)
    t = _times(n)
    noise = _band(n, rng, 1000.0, 2500.0)
    bursts = sum(np.exp(-np.maximum(t - s, 0) / 0.004) * (t >= s) for s in (0.0, 0.01, 0.02))
    return noise * (bursts + 0.3 * np.exp(-t / 0.1)) * _fade_in(n)


def _hat(rng: np.random.Generator, ring_s: float) -> np.ndarray:
    n = _samples(min(5 * ring_s, 1.5))
    t = _times(n)
    # Six detuned square waves (the 808's metal) through a high-pass, plus noise.
    squares_hz = np.array([205.3, 304.4, 369.6, 522.7, 540.0, 800.0], np.float32)[:, None]
    phases = rng.uniform(0, 2 * np.pi, (6, 1)).astype(np.float32)
    metal = np.sign(np.sin(2 * np.pi * squares_hz * t + phases)).sum(axis=0)  # (n,)
    sizzle = _shape(metal, low_hz=7000.0) + 0.3 * _band(n, rng, 6000.0)
    return sizzle * np.exp(-t / ring_s) * _fade_in(n)


def _cymbal(rng: np.random.Generator, ring_s: float, bell: float) -> np.ndarray:
    n = _samples(min(4 * ring_s, 3.0))
    t = _times(n)
    wash = _band(n, rng, 3000.0, 12000.0) * np.exp(-t / ring_s)
    ping = _modes(n, [1200.0, 2900.0, 4700.0], [0.4, 0.3, 0.2], [1.0, 0.6, 0.4], rng)
    return (wash + bell * ping) * _fade_in(n)


def _tom(rng: np.random.Generator, f_hz: float) -> np.ndarray:
    n = _samples(0.5)
    t = _times(n)
    head = np.sin(_phase(f_hz * (1 + 0.3 * np.exp(-t / 0.05)))) * np.exp(-t / 0.25)
    stick = _band(n, rng, 500.0, 5000.0) * np.exp(-t / 0.004)
    return (head + 0.3 * stick) * _fade_in(n)


def _rim(rng: np.random.Generator) -> np.ndarray:
    return _hit([1700.0, 2900.0], [0.015, 0.01], [1.0, 0.5], rng)


_DRUMS: dict[int, Callable[[np.random.Generator], np.ndarray]] = {
    35: _kick,
    36: _kick,
    37: _rim,
    38: _snare,
    40: _snare,
    39: _clap,
    42: lambda rng: _hat(rng, 0.03),
    44: lambda rng: _hat(rng, 0.03),
    46: lambda rng: _hat(rng, 0.3),
    41: lambda rng: _tom(rng, 80.0),
    43: lambda rng: _tom(rng, 95.0),
    45: lambda rng: _tom(rng, 110.0),
    47: lambda rng: _tom(rng, 130.0),
    48: lambda rng: _tom(rng, 150.0),
    50: lambda rng: _tom(rng, 175.0),
    49: lambda rng: _cymbal(rng, 0.8, 0.1),
    57: lambda rng: _cymbal(rng, 0.8, 0.1),
    51: lambda rng: _cymbal(rng, 0.6, 0.6),
    59: lambda rng: _cymbal(rng, 0.6, 0.6),
}

_NOTE_SYNTHS: dict[str, NoteSynth] = {
    "piano": _piano,
    "guitar": _guitar,
    "violin": _violin,
    "flute": _flute,
    "trumpet": _trumpet,
    "drums": _drums,
    "harp": _harp,
    "xylophone": _xylophone,
    "bell": _bell_note,
}


def _midi_hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)


def _scale_semitones(degree: int) -> int:
    """Semitones from the tonic of a degree of the major pentatonic (negative: below)."""
    octave, step = divmod(degree, len(MAJOR_PENTATONIC))
    return 12 * octave + MAJOR_PENTATONIC[step]


# --- Beds --------------------------------------------------------------------------------


def _bed_rain_heavy(n: int, rng: np.random.Generator) -> np.ndarray:
    hiss = _band(n, rng, 600.0, 9000.0)
    rumble = _band(n, rng, None, 400.0)
    drops = np.zeros(n, np.float32)
    (times,) = np.nonzero(rng.random(n) < 600.0 / SAMPLE_RATE)
    drops[times] = rng.uniform(0, 1, times.size).astype(np.float32) ** 2
    patter = _peak1(_shape(drops, low_hz=1500.0, high_hz=9000.0))
    return 0.025 * hiss + 0.015 * rumble + 0.06 * patter


def _bed_thunderstorm(n: int, rng: np.random.Generator) -> np.ndarray:
    bed = 0.5 * _bed_rain_heavy(n, rng)
    for _ in range(int(rng.integers(1, 3))):
        thunder = event_sound("thunder", rng=rng, intensity=float(rng.uniform(0.7, 1.0)))
        _add_at(bed, thunder, round(rng.uniform(0.05, 0.6) * n))
    return bed


def _bed_blizzard(n: int, rng: np.random.Generator) -> np.ndarray:
    gusts = (0.6 + 0.4 * _wander(n, 0.3, rng)) ** 2
    wind = _band(n, rng, 150.0, 1200.0) * gusts
    howl_hz = 800.0 + 300.0 * _wander(n, 0.2, rng)
    howl = _unit(
        _swept_filter(
            rng.standard_normal(n).astype(np.float32),
            low_hz=0.92 * howl_hz,
            high_hz=1.08 * howl_hz,
            order=4,
        )
    )
    snow = _band(n, rng, 4000.0, 12000.0)
    return 0.06 * wind + 0.04 * howl * gusts + 0.01 * snow


def _bed_fire_crackle(n: int, rng: np.random.Generator) -> np.ndarray:
    roar = _band(n, rng, 40.0, 400.0) * (1 + 0.3 * _wander(n, 2.0, rng))
    crackles = np.zeros(n, np.float32)
    (times,) = np.nonzero(rng.random(n) < 15.0 / SAMPLE_RATE)
    crackles[times] = np.minimum(rng.pareto(2.5, times.size) + 1.0, 8.0).astype(np.float32)
    crackles = _peak1(_shape(crackles, low_hz=1500.0, high_hz=9000.0))
    pops = np.zeros(n, np.float32)
    count = rng.poisson(1.5 * n / SAMPLE_RATE)
    f = rng.uniform(300, 800, (count, 1))
    if count:
        knots = _hits(f * [1.0, 2.3], [0.01, 0.006], [1.0, 0.4], rng)
        _scatter_add(pops, rng.integers(0, n, count), knots)
    return 0.03 * roar + 0.2 * crackles + 0.1 * pops + 0.005 * _band(n, rng, 3000.0, 8000.0)


def _bed_stream(n: int, rng: np.random.Generator) -> np.ndarray:
    babble = _band(n, rng, 300.0, 2500.0) * (0.6 + 0.4 * _wander(n, 8.0, rng))
    bed = 0.025 * babble
    count = rng.poisson(25 * n / SAMPLE_RATE)
    bubbles = _bubbles(rng.uniform(500, 1600, count), rng.uniform(0.01, 0.03, count), rng)
    _scatter_add(bed, rng.integers(0, n, count), bubbles * rng.uniform(0.005, 0.03, (count, 1)))
    return bed


def _bed_waterfall(n: int, rng: np.random.Generator) -> np.ndarray:
    return 0.07 * _band(n, rng, 80.0, 5000.0, order=1) + 0.04 * _band(n, rng, None, 150.0)


def _bed_underwater(n: int, rng: np.random.Generator) -> np.ndarray:
    murk = _band(n, rng, None, 350.0) * (1 + 0.3 * _wander(n, 0.5, rng))
    bed = 0.04 * murk + 0.004 * np.sin(_phase(np.full(n, 55.0)))
    count = rng.poisson(3 * n / SAMPLE_RATE)
    bubbles = _bubbles(rng.uniform(150, 500, count), rng.uniform(0.04, 0.12, count), rng)
    _scatter_add(bed, rng.integers(0, n, count), bubbles * rng.uniform(0.01, 0.03, (count, 1)))
    return bed


def _bed_space(n: int, rng: np.random.Generator) -> np.ndarray:
    drone = np.zeros(n, np.float32)
    for f in (41.0, 55.3, 82.7):
        drone += np.sin(_phase(np.full(n, f))) * (1 + 0.5 * _wander(n, 0.1, rng))
    return 0.003 * drone + 0.003 * _band(n, rng, None, 180.0)


def _bed_city_night(n: int, rng: np.random.Generator) -> np.ndarray:
    t = _times(n)
    rumble = _band(n, rng, None, 200.0) * (1 + 0.5 * _wander(n, 0.1, rng))
    # Distant cars passing: a band of tyre noise swelling and fading every few seconds.
    passing = np.zeros(n, np.float32)
    for centre_s in rng.uniform(0, n / SAMPLE_RATE, rng.poisson(0.25 * n / SAMPLE_RATE) + 1):
        passing += np.exp(-(((t - centre_s) / rng.uniform(0.8, 1.5)) ** 2)).astype(np.float32)
    tyres = _band(n, rng, 200.0, 1500.0) * passing
    hum = np.sin(_phase(np.full(n, 60.0))) + 0.5 * np.sin(_phase(np.full(n, 120.0)))
    return 0.025 * rumble + 0.02 * tyres + 0.002 * hum


def _bed_farm(n: int, rng: np.random.Generator) -> np.ndarray:
    bed = 0.012 * _band(n, rng, 300.0, 3000.0) * (1 + 0.5 * _wander(n, 0.3, rng))
    _scatter_events(bed, rng, ("chirp", "tweet"), every_s=(1.5, 4.0), intensity=(0.04, 0.08))
    _scatter_events(
        bed, rng, ("moo", "cluck", "baa", "oink"), every_s=(3.0, 6.0), intensity=(0.06, 0.1)
    )
    return bed


def _bed_stadium_crowd(n: int, rng: np.random.Generator) -> np.ndarray:
    t = _times(n)
    murmur = _murmur(n, rng, groups=4)
    swells = np.ones(n, np.float32)
    for centre_s in rng.uniform(0, n / SAMPLE_RATE, rng.poisson(n / SAMPLE_RATE / 6) + 1):
        swells += np.exp(-(((t - centre_s) / 0.8) ** 2)).astype(np.float32)
    roar = _band(n, rng, 200.0, 2500.0) * (1 + 0.3 * _wander(n, 0.2, rng)) * swells
    return 0.03 * murmur + 0.03 * roar


def _bed_concert_hall(n: int, rng: np.random.Generator) -> np.ndarray:
    tone = 0.006 * _band(n, rng, None, 120.0) + 0.0015 * _band(n, rng, 200.0, 2000.0)
    coughs = np.zeros(n, np.float32)
    cough_n = _samples(0.3)
    for start_s in np.cumsum(rng.uniform(3.0, 7.0, int(n / SAMPLE_RATE / 3) + 1)) - 2.0:
        if 0 <= start_s < n / SAMPLE_RATE:
            hack = _curve(cough_n, ((0.0, 0.0), (0.005, 1.0), (0.06, 0.3), (0.12, 0.0)))
            hack += 0.6 * _curve(cough_n, ((0.17, 0.0), (0.175, 1.0), (0.23, 0.2), (0.3, 0.0)))
            cough = _band(cough_n, rng, 300.0, 3000.0) * hack * float(rng.uniform(0.02, 0.05))
            _add_at(coughs, cough, round(start_s * SAMPLE_RATE))
    # The hall's reverberation: a second and a half of decaying noise.
    tail_n = _samples(1.5)
    reverb = rng.standard_normal(tail_n).astype(np.float32) * _decay(tail_n, 0.35) * 0.02
    return tone + coughs + 0.5 * _convolve(coughs, reverb)


def _bed_office(n: int, rng: np.random.Generator) -> np.ndarray:
    hum = np.sin(_phase(np.full(n, 60.0))) + 0.5 * np.sin(_phase(np.full(n, 120.0)))
    hvac = _band(n, rng, None, 300.0)
    # Typing: bursts of key presses about 7 a second, with pauses between.
    keys = np.zeros(n, np.float32)
    time_s, end_s = float(rng.uniform(0, 1)), n / SAMPLE_RATE
    while time_s < end_s:
        burst_s = float(rng.uniform(1.5, 4.0))
        presses_s = time_s + np.cumsum(rng.uniform(0.08, 0.22, int(burst_s * 7)))
        presses = np.round(presses_s[presses_s < end_s] * SAMPLE_RATE).astype(int)
        keys[presses] += rng.uniform(0.5, 1.0, presses.size).astype(np.float32)
        time_s = (presses_s[-1] if presses_s.size else time_s) + float(rng.uniform(1.0, 4.0))
    click = _hit([2900.0, 4300.0], [0.004, 0.003], [1.0, 0.6], rng)
    click[: _samples(0.001)] += _band(_samples(0.001), rng, 1000.0, 8000.0) * 0.5
    return 0.002 * hum + 0.008 * hvac + 0.03 * _convolve(keys, click)


def _bed_classroom(n: int, rng: np.random.Generator) -> np.ndarray:
    bed = 0.012 * _murmur(n, rng, groups=4) + 0.006 * _band(n, rng, None, 250.0)
    for start_s in rng.uniform(0, n / SAMPLE_RATE, rng.poisson(n / SAMPLE_RATE / 5)):
        scrape_n = _samples(float(rng.uniform(0.2, 0.4)))
        swell = np.sin(np.pi * np.arange(scrape_n) / scrape_n).astype(np.float32)
        scrape = _band(scrape_n, rng, 500.0, 2500.0) * swell * 0.02
        _add_at(bed, scrape, round(start_s * SAMPLE_RATE))
    return bed


def _bed_forest(n: int, rng: np.random.Generator) -> np.ndarray:
    leaves = _band(n, rng, 1500.0, 7000.0) * (0.5 + 0.5 * _wander(n, 0.3, rng)) ** 2
    bed = 0.012 * leaves + 0.01 * _band(n, rng, None, 300.0)
    _scatter_events(bed, rng, ("tweet", "chirp"), every_s=(1.0, 3.0), intensity=(0.03, 0.08))
    return bed


_BEDS: dict[str, Callable[[int, np.random.Generator], np.ndarray]] = {
    "rain_heavy": _bed_rain_heavy,
    "thunderstorm": _bed_thunderstorm,
    "blizzard": _bed_blizzard,
    "fire_crackle": _bed_fire_crackle,
    "stream": _bed_stream,
    "waterfall": _bed_waterfall,
    "underwater": _bed_underwater,
    "space": _bed_space,
    "city_night": _bed_city_night,
    "farm": _bed_farm,
    "stadium_crowd": _bed_stadium_crowd,
    "concert_hall": _bed_concert_hall,
    "office": _bed_office,
    "classroom": _bed_classroom,
    "forest": _bed_forest,
}


def _murmur(n: int, rng: np.random.Generator, *, groups: int) -> np.ndarray:
    """Unintelligible voices: formant bands of noise, each opening and closing at a
    syllable rate."""
    out = np.zeros(n, np.float32)
    for g in range(groups):
        formant = 300.0 + 250.0 * g + float(rng.uniform(-50, 50))
        syllables = np.maximum(_wander(n, float(rng.uniform(4, 6)), rng), 0) ** 1.5
        out += _band(n, rng, formant, 2.2 * formant) * syllables
    return _unit(out)


def _scatter_events(
    bed: np.ndarray,
    rng: np.random.Generator,
    classes: Sequence[str],
    *,
    every_s: tuple[float, float],
    intensity: tuple[float, float],
) -> None:
    """Add distant calls of `classes` into `bed`, one every `every_s` seconds or so."""
    end_s = bed.size / SAMPLE_RATE
    time_s = float(rng.uniform(0, every_s[1]))
    while time_s < end_s:
        sound_class = classes[int(rng.integers(len(classes)))]
        call = event_sound(sound_class, rng=rng, intensity=float(rng.uniform(*intensity)))
        _add_at(bed, _shape(call, high_hz=3000.0), round(time_s * SAMPLE_RATE))  # far off
        time_s += float(rng.uniform(*every_s))


# --- Building blocks ---------------------------------------------------------------------


def _samples(seconds: float) -> int:
    return max(1, round(seconds * SAMPLE_RATE))


def _times(n: int) -> np.ndarray:
    """(n,) float32 sample times in seconds."""
    return np.arange(n, dtype=np.float32) / np.float32(SAMPLE_RATE)


def _curve(n: int, points: Sequence[tuple[float, float]]) -> np.ndarray:
    """(n,) piecewise-linear curve through (time_s, value) points, flat after the last."""
    times = np.maximum.accumulate(np.array([p[0] for p in points], np.float64))
    values = np.array([p[1] for p in points], np.float64)
    return np.interp(_times(n), times, values).astype(np.float32)


def _contour(n: int, points: Sequence[tuple[float, float]]) -> np.ndarray:
    """Like `_curve`, with times given as fractions of the n samples."""
    seconds = n / SAMPLE_RATE
    return _curve(n, [(fraction * seconds, value) for fraction, value in points])


def _fade_in(n: int, seconds: float = 0.0015) -> np.ndarray:
    """A ramp over the first 1.5 ms, so no sound starts with a step."""
    return np.minimum(1.0, np.arange(n, dtype=np.float32) / (seconds * SAMPLE_RATE))


def _fade_out(x: np.ndarray, seconds: float) -> np.ndarray:
    length = min(x.size, _samples(seconds))
    x[x.size - length :] *= np.linspace(1.0, 0.0, length, dtype=np.float32)
    return x


def _decay(n: int, tau_s: float) -> np.ndarray:
    return np.exp(-_times(n) / np.float32(tau_s))


def _phase(freq_hz: np.ndarray) -> np.ndarray:
    """(n,) float32 running phase in radians, wrapped to [0, 2π), of a tone whose
    frequency (Hz) varies per sample; it is 0 at sample 0."""
    steps = np.asarray(freq_hz, np.float64) / SAMPLE_RATE  # cycles per sample
    cycles = np.cumsum(steps)
    cycles -= steps
    cycles -= np.floor(cycles)  # cheaper than np.mod, which costs 10x a sine here
    return (cycles * (2 * np.pi)).astype(np.float32)


def _wander(n: int, rate_hz: float, rng: np.random.Generator) -> np.ndarray:
    """(n,) float32 smooth random curve in [-1, 1], with about `rate_hz` turns a second."""
    points = int(n / SAMPLE_RATE * rate_hz) + 2
    control = rng.uniform(-1, 1, points).astype(np.float32)
    position = np.linspace(0, points - 1, n, dtype=np.float32)
    left = np.minimum(position.astype(np.int32), points - 2)
    within = position - left.astype(np.float32)
    ease = 0.5 - 0.5 * np.cos(np.float32(np.pi) * within)  # a cosine ease: no corners
    return control[left] * (1 - ease) + control[left + 1] * ease


def _smooth(x: np.ndarray, seconds: float) -> np.ndarray:
    """Moving average over `seconds` (a trailing box, so nothing leads the input)."""
    width = max(1, _samples(seconds))
    running = np.cumsum(np.concatenate([np.full(width, x[0]), x]), dtype=np.float64)
    return ((running[width:] - running[:-width]) / width).astype(np.float32)


def _unit(x: np.ndarray) -> np.ndarray:
    """`x` scaled to unit RMS (silence stays silence)."""
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0
    return (x / rms if rms > 0 else x).astype(np.float32)


def _peak1(x: np.ndarray) -> np.ndarray:
    peak = float(np.abs(x).max()) if x.size else 0.0
    return (x / peak if peak > 0 else x).astype(np.float32)


def _normalise(x: np.ndarray, peak: float) -> np.ndarray:
    return (_peak1(x) * np.float32(peak)).astype(np.float32)


def _band(
    n: int,
    rng: np.random.Generator,
    low_hz: float | None = None,
    high_hz: float | None = None,
    *,
    order: int = 2,
) -> np.ndarray:
    """(n,) float32 noise in a band, at unit RMS: white noise drawn directly as its
    spectrum (independent complex Gaussian bins), weighted by the Butterworth magnitudes
    of `audio.shape_noise`, and one inverse FFT. Half the work of filtering time-domain
    noise, which matters for the engines' ten-second beds.
    """
    size = _fast_length(n)  # noise is stationary: keep n samples of a fast FFT length
    freqs = np.fft.rfftfreq(size, 1.0 / SAMPLE_RATE).astype(np.float32)
    gain = np.ones_like(freqs)
    if high_hz is not None:
        gain /= np.sqrt(1.0 + _power(freqs / np.float32(min(high_hz, _TOP_HZ)), 2 * order))
    if low_hz is not None:
        gain /= np.sqrt(1.0 + _power(np.float32(low_hz) / np.maximum(freqs, 1e-3), 2 * order))
    # Two Gaussians per bin, viewed as one complex64 number: (bins,)
    spectrum = rng.standard_normal(2 * freqs.size, dtype=np.float32).view(np.complex64)
    return _unit(np.fft.irfft(spectrum * gain, size)[:n])


def _power(x: np.ndarray, exponent: int) -> np.ndarray:
    """x ** exponent by repeated multiplication, several times faster than `**`."""
    out = x.copy()
    for _ in range(exponent - 1):
        out *= x
    return out


def _shape(
    x: np.ndarray, *, low_hz: float | None = None, high_hz: float | None = None
) -> np.ndarray:
    """`shape_noise` along the last axis, zero-padded to a fast FFT length."""
    n = x.shape[-1]
    padded = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, _fast_length(n) - n)])
    return shape_noise(padded, low_hz=low_hz, high_hz=high_hz)[..., :n]


def _fast_length(n: int) -> int:
    """The smallest 2^a·3^b·5^c >= n: a length the FFT handles quickly."""
    best = 1 << max(0, (n - 1).bit_length())
    power5 = 1
    while power5 < best:
        power35 = power5
        while power35 < best:
            length = power35
            while length < n:
                length *= 2
            best = min(best, length)
            power35 *= 3
        power5 *= 5
    return best


def _swept_filter(
    x: np.ndarray,
    *,
    low_hz: np.ndarray | None = None,
    high_hz: np.ndarray | None = None,
    order: int = 2,
) -> np.ndarray:
    """`shape_noise` with cutoffs (per sample, Hz) that move: the same Butterworth
    magnitudes, applied to 1024-sample Hann frames at a hop of 256 and overlap-added.
    For noise only, like `shape_noise`: the frames' phase is not preserved.
    """
    size, hop = 1024, 256
    n = x.size
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(x, (size, size)), size)[::hop]
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(size) / size)).astype(np.float32)
    centres = np.clip(np.arange(frames.shape[0]) * hop + size // 2 - size, 0, n - 1)
    freqs = np.fft.rfftfreq(size, 1.0 / SAMPLE_RATE)[None, :]  # (1, bins)
    gain = np.ones((frames.shape[0], freqs.size))  # (frames, bins)
    if high_hz is not None:
        gain /= np.sqrt(1.0 + (freqs / high_hz[centres][:, None]) ** (2 * order))
    if low_hz is not None:
        gain /= np.sqrt(1.0 + (low_hz[centres][:, None] / np.maximum(freqs, 1e-3)) ** (2 * order))
    filtered = np.fft.irfft(np.fft.rfft(frames * window, axis=1) * gain, size, axis=1)
    out = np.zeros((frames.shape[0] + 3) * hop)
    for quarter in range(size // hop):  # each frame's quarters land a hop apart
        part = filtered[:, quarter * hop : (quarter + 1) * hop].reshape(-1)  # (frames·hop,)
        out[quarter * hop : quarter * hop + part.size] += part
    return (out[size : size + n] / 2).astype(np.float32)  # Hann frames at hop/4 sum to 2


def _voice(
    f0_hz: np.ndarray,
    formants: Sequence[tuple[float | np.ndarray, float, float]],
    rng: np.random.Generator,
    *,
    harmonics: int = 24,
    tilt: float = 1.0,
    floor: float = 0.05,
) -> np.ndarray:
    """(n,) float32 harmonics of a per-sample pitch `f0_hz`. Harmonic k's amplitude is
    k ** -tilt × (floor + Σ formant resonances at k·f0), evaluated every 32 samples, so a
    glide keeps its vowel; formant centres may be per-sample arrays (a moving vowel)."""
    n = f0_hz.size
    hop = 32
    k = np.arange(1, harmonics + 1, dtype=np.float32)[:, None]  # (K, 1)
    freqs = k * f0_hz[None, ::hop]  # (K, frames) Hz
    weight = np.full(freqs.shape, floor, np.float32)
    for centre, width, gain in formants:
        at = centre[::hop] if isinstance(centre, np.ndarray) else centre
        weight += gain / (1.0 + ((freqs - at) / (0.5 * width)) ** 2)
    weight *= k**-tilt * (freqs < _TOP_HZ)
    weight = np.repeat(weight, hop, axis=1)[:, :n]  # (K, n), held for each 32 samples
    base = _phase(f0_hz)
    out = np.zeros(n, np.float32)
    # One harmonic at a time: (K, n) temporaries fall out of cache and cost 5x more.
    for i, phase in enumerate(rng.uniform(0, 2 * np.pi, harmonics).astype(np.float32)):
        out += weight[i] * np.sin((i + 1) * base + phase)
    return out


def _modes(
    n: int,
    freqs_hz: Sequence[float] | np.ndarray,
    decays_s: Sequence[float] | np.ndarray,
    gains: Sequence[float] | np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """(n,) float32 damped sinusoids from sample 0: a struck object's modes."""
    return _rings(n, np.array([freqs_hz]), np.array([decays_s]), np.array([gains]), rng)[0]


def _hit(
    freqs_hz: Sequence[float],
    decays_s: Sequence[float],
    gains: Sequence[float],
    rng: np.random.Generator,
) -> np.ndarray:
    """(L,) a small struck thing: its modes, ringing until 40 dB down, and a click."""
    return _hits(np.array([freqs_hz]), np.array([decays_s]), np.array([gains]), rng)[0]


def _hits(
    freqs_hz: np.ndarray,
    decays_s: np.ndarray | Sequence[float],
    gains: np.ndarray | Sequence[float],
    rng: np.random.Generator,
) -> np.ndarray:
    """(G, L) many small struck things at once, one per row of the (G, M) mode
    frequencies (decays and gains broadcast to them): their modes ringing until the
    longest is 40 dB down, each with a 1 ms click."""
    decays_s = np.broadcast_to(decays_s, freqs_hz.shape)
    length = _samples(4.6 * float(np.max(decays_s)))
    out = _rings(length, freqs_hz, decays_s, np.broadcast_to(gains, freqs_hz.shape), rng)
    click_n = min(length, _samples(0.001))
    clicks = rng.standard_normal((out.shape[0], click_n)).astype(np.float32)
    out[:, :click_n] += 0.5 * _shape(clicks, low_hz=1000.0) * _decay(click_n, 0.0003)
    return out * _fade_in(length, 0.0005)


def _rings(
    n: int, freqs_hz: np.ndarray, decays_s: np.ndarray, gains: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """(G, n) float32: row g sums the damped sinusoids that row g of the (G, M) tables
    describes, with random phases, all from sample 0."""
    t = np.arange(n) / SAMPLE_RATE  # float64: a high mode keeps its phase over seconds
    out = np.zeros((freqs_hz.shape[0], n), np.float32)
    phases = rng.uniform(0, 1, freqs_hz.shape)  # in cycles
    minus_t = -t.astype(np.float32)
    for m in range(freqs_hz.shape[1]):  # a few modes; vectorised over rows and time
        f = np.asarray(freqs_hz[:, m : m + 1], np.float64)  # (G, 1)
        cycles = f * t + phases[:, m : m + 1]
        cycles -= np.floor(cycles)
        level = (gains[:, m : m + 1] * (f < _TOP_HZ)).astype(np.float32)
        decay = np.asarray(decays_s[:, m : m + 1], np.float32)
        ring = np.exp(minus_t / decay) * np.sin(np.float32(2 * np.pi) * cycles.astype(np.float32))
        out += level * ring
    return out


def _bubbles(freqs_hz: np.ndarray, seconds: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(G, L) grains: each a bubble's tone, rising by half over its life, sharp at the
    start and dying away."""
    length = _samples(float(seconds.max()) if seconds.size else 0.001)
    t = _times(length)[None, :].astype(np.float64)  # (1, L)
    life = seconds[:, None]  # (G, 1)
    phase = 2 * np.pi * freqs_hz[:, None] * (t + 0.25 * t**2 / life)
    phase += rng.uniform(0, 2 * np.pi, (freqs_hz.size, 1))
    shape = np.exp(-3 * t / life) * (t < life) * np.minimum(1.0, t / 0.0005)
    return (np.sin(phase) * shape).astype(np.float32)


def _scatter_add(out: np.ndarray, starts: np.ndarray, grains: np.ndarray) -> None:
    """Add each grain (G, L) into `out` from its start sample, cut at the end."""
    for start, grain in zip(starts, grains, strict=True):
        _add_at(out, grain, int(start))


def _add_at(out: np.ndarray, sound: np.ndarray, start: int) -> None:
    end = min(out.size, start + sound.size)
    if end > start:
        out[start:end] += sound[: end - start]


def _sequence(parts: Sequence[tuple[float, np.ndarray]]) -> np.ndarray:
    """(start_s, sound) parts on one track just long enough to hold them all."""
    n = max(round(start_s * SAMPLE_RATE) + sound.size for start_s, sound in parts)
    out = np.zeros(n, np.float32)
    for start_s, sound in parts:
        _add_at(out, sound, round(start_s * SAMPLE_RATE))
    return out


def _convolve(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """(x.size,) float32 causal convolution, by FFT."""
    size = _fast_length(x.size + kernel.size - 1)
    spectrum = np.fft.rfft(x, size) * np.fft.rfft(kernel, size)
    return np.fft.irfft(spectrum, size)[: x.size].astype(np.float32)


def _read_at(source: np.ndarray, position: np.ndarray) -> np.ndarray:
    """`source` read at fractional sample positions, by linear interpolation."""
    position = np.clip(position, 0, source.size - 1)
    left = np.minimum(position.astype(int), source.size - 2)
    frac = (position - left).astype(np.float32)
    return source[left] * (1 - frac) + source[left + 1] * frac


_RECIPES: dict[str, _Fixed | _Sustained] = {
    # Typical sizes (m) match the asset library's (assets/traits.py): a thing of that size
    # sounds at the designed pitch. Calls repeat to fill a longer duration.
    "bark": _Fixed(_bark, typical_size_m=0.9, repeats=True),
    "meow": _Fixed(_meow, typical_size_m=0.6, repeats=True),
    "chirp": _Fixed(_chirp, typical_size_m=0.3, repeats=True),
    "tweet": _Fixed(_tweet, typical_size_m=0.3, repeats=True),
    "caw": _Fixed(_caw, typical_size_m=0.5, repeats=True),
    "moo": _Sustained(_moo, natural_s=1.3, typical_size_m=2.4),
    "neigh": _Sustained(_neigh, natural_s=1.4, typical_size_m=2.4),
    "oink": _Fixed(_oink, typical_size_m=1.4, repeats=True),
    "baa": _Sustained(_baa, natural_s=0.9, typical_size_m=1.3),
    "quack": _Fixed(_quack, typical_size_m=0.5, repeats=True),
    "cluck": _Fixed(_cluck, typical_size_m=0.5, repeats=True),
    "crow_rooster": _Fixed(_crow_rooster, typical_size_m=0.6, repeats=True),
    "roar": _Sustained(_roar, natural_s=1.6, typical_size_m=2.2),
    "howl": _Sustained(_howl, natural_s=2.8, typical_size_m=1.3),
    "hiss": _Sustained(_hiss, natural_s=1.0, typical_size_m=None),
    "buzz": _Sustained(_buzz, natural_s=1.2, typical_size_m=0.02),
    "croak": _Fixed(_croak, typical_size_m=0.12, repeats=True),
    "trumpet": _Sustained(_trumpet_elephant, natural_s=1.2, typical_size_m=5.5),
    "squeak": _Fixed(_squeak, typical_size_m=0.1, repeats=True),
    "growl": _Sustained(_growl, natural_s=1.3, typical_size_m=1.0),
    "whale_song": _Sustained(_whale_song, natural_s=3.5, typical_size_m=15.0),
    "monkey": _Fixed(_monkey, typical_size_m=0.7, repeats=True),
    "honk_goose": _Fixed(_honk_goose, typical_size_m=0.9, repeats=True),
    # Struck and single sounds ring out into silence when asked to last longer.
    "footstep": _Fixed(_footstep, typical_size_m=1.7, repeats=False),
    "hoof": _Fixed(_hoof, typical_size_m=2.4, repeats=False),
    "splash": _Fixed(_splash, typical_size_m=1.0, repeats=False),
    "whoosh": _Sustained(_whoosh, natural_s=0.4, typical_size_m=0.5),
    "crash": _Fixed(_crash, typical_size_m=4.5, repeats=False),
    "screech": _Sustained(_screech, natural_s=0.8, typical_size_m=None),
    "horn": _Sustained(_horn, natural_s=0.5, typical_size_m=4.5),
    "siren": _Sustained(_siren, natural_s=3.0, typical_size_m=None),
    "bell": _Fixed(_bell, typical_size_m=0.3, repeats=False),
    "thud": _Fixed(_thud, typical_size_m=0.5, repeats=False),
    "pop": _Fixed(_pop, typical_size_m=0.3, repeats=False),
    "explosion": _Fixed(_explosion, typical_size_m=2.0, repeats=False),
    "thunder": _Fixed(_thunder, typical_size_m=None, repeats=False),
    "zap": _Fixed(_zap, typical_size_m=None, repeats=False),
    "applause": _Sustained(_applause, natural_s=3.0, typical_size_m=None),
    "cheer": _Sustained(_cheer, natural_s=2.5, typical_size_m=None),
    "chime": _Fixed(_chime, typical_size_m=0.3, repeats=False),
    "door": _Fixed(_door, typical_size_m=2.0, repeats=False),
    "bounce": _Fixed(_bounce, typical_size_m=0.3, repeats=False),
}
