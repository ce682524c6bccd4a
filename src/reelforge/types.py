"""The data that flows through reelforge: Request → ScenePlan → Clip → Result.

Depends on nothing of ours except the error family. Units are in names or comments:
seconds (`_s`), pixels (`_px`), samples, frames.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
from pydantic import BaseModel, Field

from reelforge.errors import InvalidRequest

# ---------------------------------------------------------------------------------------
# Limits of a request. The API (OpenAI's Videos API) accepts these sizes; the CLI also
# accepts the smaller training sizes that the engines render natively.

MAX_CREATOR_CHARS = 80
MAX_PROMPT_CHARS = 32_000
MIN_SECONDS, MAX_SECONDS = 1.0, 20.0
API_SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")
TRAINING_SIZES = ("256x448", "448x256", "360x640", "640x360")
SUPPORTED_SIZES = API_SIZES + TRAINING_SIZES
SUPPORTED_FPS = (12, 15, 24, 25, 30)
DEFAULT_SIZE = "720x1280"
DEFAULT_FPS = 24
DEFAULT_SECONDS = 4.0
AUDIO_SAMPLE_RATE = 48_000
MAX_SEED = 2**32 - 1

# Progress callbacks receive a short stage label and the overall fraction done (0..1).
Progress = Callable[[str, float], None]


def no_progress(stage: str, fraction: float) -> None:
    """A progress callback that ignores everything."""


class Size(str):
    """A supported size, checked and parsed once: the string the API and the sidecar show
    ("720x1280", so it compares, hashes and serialises as one) with its `width` and
    `height`. Raises InvalidRequest naming `size` for anything not in SUPPORTED_SIZES."""

    width: int
    height: int

    def __new__(cls, size: object) -> Size:
        if isinstance(size, Size):
            return size
        if not isinstance(size, str) or size not in SUPPORTED_SIZES:
            raise InvalidRequest(
                f"size must be one of {', '.join(SUPPORTED_SIZES)}, got {size!r}", param="size"
            )
        parsed = super().__new__(cls, size)
        width, height = (int(part) for part in size.split("x"))
        parsed.width, parsed.height = width, height
        return parsed


def parse_size(size: str) -> tuple[int, int]:
    """'720x1280' → (720, 1280) as (width, height); raises InvalidRequest naming `size`."""
    parsed = Size(size)
    return parsed.width, parsed.height


@dataclass(frozen=True)
class Request:
    """What a user asked for. Validated on construction, so a Request is always sane."""

    prompt: str
    seconds: float = DEFAULT_SECONDS
    size: str = DEFAULT_SIZE  # a Size once constructed
    fps: int = DEFAULT_FPS
    seed: int | None = None
    engine: str = "sim"
    # An image the clip starts from (image-to-video): its file, fitted to `size`.
    input_reference: Path | None = None
    # Who asks: shown in the visible watermark ("@name") and kept in the provenance record.
    creator: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise InvalidRequest("prompt must not be empty", param="prompt")
        if len(self.prompt) > MAX_PROMPT_CHARS:
            raise InvalidRequest(
                f"prompt must be at most {MAX_PROMPT_CHARS} characters, got {len(self.prompt)}",
                param="prompt",
            )
        seconds = self.seconds
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not math.isfinite(seconds)
            or not MIN_SECONDS <= seconds <= MAX_SECONDS
        ):
            raise InvalidRequest(
                f"seconds must be between {MIN_SECONDS:g} and {MAX_SECONDS:g}, got {seconds!r}",
                param="seconds",
            )
        object.__setattr__(self, "size", Size(self.size))  # frozen: parsed once, here
        if self.fps not in SUPPORTED_FPS:
            raise InvalidRequest(
                f"fps must be one of {', '.join(map(str, SUPPORTED_FPS))}, got {self.fps!r}",
                param="fps",
            )
        if self.seed is not None and (
            isinstance(self.seed, bool)
            or not isinstance(self.seed, int)
            or not 0 <= self.seed <= MAX_SEED
        ):
            raise InvalidRequest(
                f"seed must be an integer in 0..{MAX_SEED}, got {self.seed!r}", param="seed"
            )
        if not self.engine or not isinstance(self.engine, str):
            raise InvalidRequest("engine must be a non-empty name", param="engine")
        if self.creator is not None and (
            not isinstance(self.creator, str)
            or not 0 < len(self.creator.strip()) <= MAX_CREATOR_CHARS
            or not self.creator.isprintable()
        ):
            raise InvalidRequest(
                f"creator must be 1..{MAX_CREATOR_CHARS} printable characters, "
                f"got {self.creator!r}",
                param="creator",
            )
        if self.input_reference is not None and not Path(self.input_reference).is_file():
            raise InvalidRequest(
                f"input_reference {str(self.input_reference)!r} is not a file",
                param="input_reference",
            )

    @property
    def width(self) -> int:
        return Size(self.size).width

    @property
    def height(self) -> int:
        return Size(self.size).height

    @property
    def frame_count(self) -> int:
        """Frames in the clip: seconds × fps, rounded to the nearest frame (≥ 1)."""
        return max(1, round(self.seconds * self.fps))


# ---------------------------------------------------------------------------------------
# ScenePlan: the structured scene that recaptioning produces and engines render.

ObjectKind = Literal["ball", "box", "triangle", "capsule", "plank"]
Material = Literal["rubber", "wood", "metal", "glass", "plastic", "stone", "ice"]
Motion = Literal["fall", "bounce", "roll", "slide", "collide", "throw", "rest"]
SizeClass = Literal["small", "medium", "large"]
SettingKind = Literal[
    "room", "kitchen", "gym", "studio", "warehouse", "street", "park", "beach", "forest",
    "desert", "stage", "classroom", "office", "snow", "mountains", "city", "space",
    "underwater", "farm", "stadium", "ocean", "sky",
]  # fmt: skip
FloorKind = Literal[
    "wood", "tile", "concrete", "carpet", "grass", "sand", "asphalt", "dirt", "snow", "water",
    "rock",
]  # fmt: skip
Weather = Literal["clear", "rain", "wind", "snow"]
TimeOfDay = Literal["day", "sunset", "night"]
CameraMotion = Literal["static", "pan_left", "pan_right", "zoom_in", "zoom_out"]
Ambience = Literal[
    "room_tone", "wind", "rain", "crowd", "birds", "traffic", "waves",
    # beds of sfx.weather_bed
    "space", "underwater", "farm", "stadium_crowd", "concert_hall", "office", "classroom",
    "city_night", "blizzard", "forest", "thunderstorm",
]  # fmt: skip
# "medium": a bob that ends at the jaw (a cameo's hair of medium length).
HairStyle = Literal["short", "medium", "long", "curly", "bun", "bald", "ponytail"]
FaceShape = Literal["round", "oval", "long"]
CharacterKind = Literal["man", "woman", "boy", "girl", "person", "robot"]
RGB = tuple[int, int, int]
# What a drawn thing does (engines/sim/behaviours.py says how each looks and sounds).
Behaviour = Literal[
    "idle", "walk", "run", "jump", "hop", "fly", "glide", "launch", "drive", "crash", "swim",
    "throw", "catch", "chase", "follow", "flip", "spin", "fall", "bounce", "roll", "slide",
    "sway", "float", "sit", "play", "gesture",
]  # fmt: skip
BEHAVIOURS: tuple[str, ...] = get_args(Behaviour)


class ObjectSpec(BaseModel):
    """One group of identical objects (count ≥ 1)."""

    kind: ObjectKind
    color: str = Field(description="colour name as written or chosen, e.g. 'red'")
    rgb: RGB
    size: SizeClass = "medium"
    material: Material = "rubber"
    count: int = Field(default=1, ge=1, le=12)
    motion: Motion = "fall"
    noun: str = Field(default="", description="the prompt's own word, e.g. 'basketball'")
    # The drawing that stands for the noun ("basketball" is drawn as the 🏀 asset, on the
    # same physics body); None draws the plain shape in its colour.
    asset: str | None = Field(default=None, description="asset id, e.g. 'basketball'")
    label: str = ""
    emoji: str = ""
    tinted: bool = False  # a stated colour recolours the drawing ("a blue basketball")


class ThingSpec(BaseModel):
    """One group of identical things drawn from the asset library (reelforge.assets)."""

    asset: str = Field(description="asset id, e.g. 'flying-disc'")
    noun: str = Field(description="the prompt's own word, e.g. 'frisbee'")
    label: str = Field(default="", description="the asset's name, e.g. 'flying disc'")
    emoji: str = ""
    count: int = Field(default=1, ge=1, le=6)
    color: str | None = None  # a stated colour tints the drawing
    rgb: RGB | None = None
    size: SizeClass | None = None  # "a big dog"; None: the asset's real size
    behaviour: Behaviour = "idle"
    # Who or what the behaviour is aimed at: the noun of another thing, or a character's
    # name ("the dog catches the frisbee": the dog's target is "frisbee").
    target: str | None = None
    matched_by: Literal["common", "name", "meaning", "translation"] = "name"
    similarity: float = 1.0


class Appearance(BaseModel):
    skin_rgb: RGB
    hair_rgb: RGB
    hair_style: HairStyle
    shirt_color: str
    shirt_rgb: RGB
    pants_rgb: RGB
    height_m: float = Field(ge=1.0, le=2.1)
    eye_rgb: RGB = (60, 40, 30)
    # A cameo's likeness sets these; plans made before they existed draw as they did.
    glasses: bool = False
    face_shape: FaceShape = "round"  # the head's height over its width: 1, 1.1, 1.2


class Voice(BaseModel):
    espeak_voice: str = Field(description="espeak-ng voice name with variant, e.g. 'en-us+f3'")
    pitch: int = Field(default=50, ge=0, le=99)
    rate_wpm: int = Field(default=165, ge=80, le=350)


class Line(BaseModel):
    text: str
    start_s: float = Field(ge=0.0)


class CharacterSpec(BaseModel):
    name: str
    kind: CharacterKind = "person"
    appearance: Appearance
    voice: Voice
    lines: list[Line] = Field(default_factory=list)
    position: Literal["left", "right"] = "left"
    # What the character does besides talking: "play" (hands on the instrument they play),
    # "gesture", "jump", "walk"; the thing acted on is the ThingSpec whose target names them.
    action: Behaviour = "idle"


class SettingSpec(BaseModel):
    kind: SettingKind = "room"
    description: str = ""
    floor: FloorKind = "wood"
    indoor: bool = True
    weather: Weather = "clear"
    ramp: bool = False


class LightingSpec(BaseModel):
    time_of_day: TimeOfDay = "day"
    key_from: Literal["left", "right", "top"] = "left"


class CameraSpec(BaseModel):
    motion: CameraMotion = "static"


class SoundSpec(BaseModel):
    ambience: Ambience = "room_tone"
    effects: list[str] = Field(default_factory=list)


class TimelineEntry(BaseModel):
    t_s: float = Field(ge=0.0)
    event: str


class ScenePlan(BaseModel):
    """The structured scene. Everything an engine needs, nothing it must guess."""

    prompt: str
    setting: SettingSpec = Field(default_factory=SettingSpec)
    lighting: LightingSpec = Field(default_factory=LightingSpec)
    camera: CameraSpec = Field(default_factory=CameraSpec)
    objects: list[ObjectSpec] = Field(default_factory=list)
    things: list[ThingSpec] = Field(default_factory=list, max_length=8)
    characters: list[CharacterSpec] = Field(default_factory=list, max_length=2)
    sound: SoundSpec = Field(default_factory=SoundSpec)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    notes: list[str] = Field(
        default_factory=list, description="where the plan departs from the prompt, and why"
    )
    left_out: list[str] = Field(
        default_factory=list, description="nouns of the prompt that nothing stands for"
    )
    source: str = "rules"
    description: str | None = Field(
        default=None,
        description="the scene in free text, for engines that read it (ltx2): the prompt "
        "and the recaption endpoint's paragraph, or, for a remix, the scene it started "
        "from and each change asked; None when the prompt alone says it",
    )


# ---------------------------------------------------------------------------------------
# Clip: what an engine returns.


@dataclass(frozen=True)
class ContactEvent:
    """A contact that makes a sound, from the simulation's own log."""

    time_s: float
    object_a: str
    object_b: str
    impulse: float  # N·s, total normal impulse of the first contact step
    speed: float  # m/s, normal closing speed
    x_px: float
    y_px: float


@dataclass(frozen=True)
class SoundEvent:
    """A sound that starts at `time_s`: a footstep, a bark, a crash, a note, an engine
    starting. `sound` is its class ("bark", "crash", "note:piano:64", "engine:car")."""

    time_s: float
    sound: str
    source: str  # the thing that makes it, e.g. "dog_0_0"
    x_px: float
    y_px: float


@dataclass(frozen=True)
class SpeechSegment:
    character: str
    text: str
    start_s: float
    end_s: float
    phonemes: tuple[tuple[float, str], ...] = ()  # (start_s, espeak mnemonic)


# Draws frame i of a clip into `out`, uint8 (H, W, 3) RGB.
FrameRender = Callable[[int, np.ndarray], None]
# Changes frame i, uint8 (H, W, 3) RGB, in place as it is produced (the visible mark).
FrameTransform = Callable[[int, np.ndarray], None]


class FrameSource:
    """uint8 (T, H, W, 3) RGB frames drawn when they are asked for instead of held: 10 s of
    720x1280 is 663 MB as an array and 2.8 MB a frame.

    `render(i, out)` must depend on i alone (the sim draws each frame from its background
    up), so frames can be drawn in any order and more than once.

    - `stream()` yields the frames in order, one at a time, and keeps none: what the
      encoder pulls (`encode_mp4`), so a generated clip is never held whole.
    - `frame(i)` and `source[i]` draw one frame; `source[a:b]` or `source[[i, j]]` draw
      just those, into a new array.
    - What needs the whole array (`np.asarray`, iteration, `copy()`, `astype()`) draws
      every frame once and keeps it: from then on the source is that array, so edits made in place
      while iterating stick as they would on an ndarray. Code that treats a clip as an
      array (the dit data pipeline, tests) keeps working, at an array's memory cost.
    - `add_transform(t)` runs `t(i, frame)` on every frame produced from then on (the
      visible mark); on a kept array it runs at once, as drawing in place would.

    `render_s` and `transform_s` add up the seconds spent drawing and transforming, so a
    caller streaming frames into an encoder can tell rendering time from encoding time;
    `frames_drawn` counts the frames drawn.
    """

    dtype = np.dtype(np.uint8)
    ndim = 4

    def __init__(self, count: int, height: int, width: int, render: FrameRender):
        if count < 1 or height < 1 or width < 1:
            raise ValueError(
                f"a frame source needs at least one frame of at least 1x1 pixels, "
                f"got {count} frames of {width}x{height}"
            )
        self.shape = (count, height, width, 3)
        self.render_s = 0.0
        self.transform_s = 0.0
        self.frames_drawn = 0
        self._render = render
        self._transforms: list[FrameTransform] = []
        self._array: np.ndarray | None = None

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        count, height, width, _ = self.shape
        state = "kept as an array" if self._array is not None else "drawn on demand"
        return f"FrameSource({count} frames of {width}x{height}, {state})"

    @property
    def held(self) -> bool:
        """Whether the whole array has been drawn and is kept."""
        return self._array is not None

    def add_transform(self, transform: FrameTransform) -> None:
        if self._array is None:
            self._transforms.append(transform)
            return
        started = time.perf_counter()
        for index, frame in enumerate(self._array):
            transform(index, frame)
        self.transform_s += time.perf_counter() - started

    def frame(self, index: int, out: np.ndarray | None = None) -> np.ndarray:
        """Frame `index` (negative counts from the end), into `out` if given."""
        count = self.shape[0]
        if not -count <= index < count:
            raise IndexError(f"frame {index} is out of range for a clip of {count} frames")
        index %= count
        if self._array is not None:
            if out is None:
                return self._array[index]
            out[...] = self._array[index]
            return out
        if out is None:
            out = np.empty(self.shape[1:], np.uint8)
        started = time.perf_counter()
        self._render(index, out)
        drawn = time.perf_counter()
        for transform in self._transforms:
            transform(index, out)
        self.render_s += drawn - started
        self.transform_s += time.perf_counter() - drawn
        self.frames_drawn += 1
        return out

    def stream(self) -> Iterator[np.ndarray]:
        """The frames in order, each a new array that the source does not keep."""
        for index in range(len(self)):
            yield self.frame(index)

    def __getitem__(self, key: Any) -> np.ndarray:
        if self._array is not None:
            return self._array[key]
        first, rest = (key[0], key[1:]) if isinstance(key, tuple) and key else (key, ())
        if isinstance(first, (int, np.integer)):
            frame = self.frame(int(first))
            return frame[rest] if rest else frame
        if first is Ellipsis or first is None:
            return self._hold()[key]
        indices = np.arange(len(self))[first]  # numpy's rules (and errors) for the time axis
        frames = np.empty(indices.shape + self.shape[1:], np.uint8)
        for out, index in zip(frames.reshape(-1, *self.shape[1:]), indices.ravel(), strict=True):
            self.frame(int(index), out)
        return frames[(slice(None),) * indices.ndim + rest] if rest else frames

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self._hold())

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        array = self._hold()
        if dtype is not None and np.dtype(dtype) != array.dtype:
            return array.astype(dtype)
        return array.copy() if copy else array

    def copy(self) -> np.ndarray:
        return self._hold().copy()

    def astype(self, dtype: Any) -> np.ndarray:
        return self._hold().astype(dtype)

    def _hold(self) -> np.ndarray:
        if self._array is None:
            array = np.empty(self.shape, np.uint8)
            for index in range(len(self)):
                self.frame(index, array[index])
            self._array = array
        return self._array


@dataclass
class Clip:
    """Frames and sound of one clip, plus what the engine knows about them.

    frames: uint8 (T, H, W, 3) RGB, an array or a FrameSource that draws them on demand
    (the sim engine's). audio: float32 (C, S) in [-1, 1] at `sample_rate`.
    `contacts`, `speech`, `mouth_apertures` and `tracks` are ground truth that only a
    simulator knows; learned engines leave them empty.
    """

    frames: np.ndarray | FrameSource
    audio: np.ndarray
    fps: int
    sample_rate: int = AUDIO_SAMPLE_RATE
    contacts: list[ContactEvent] = field(default_factory=list)
    sounds: list[SoundEvent] = field(default_factory=list)  # things' sounds (engines/sim/things.py)
    speech: list[SpeechSegment] = field(default_factory=list)
    mouth_apertures: dict[str, np.ndarray] = field(default_factory=dict)  # name → (T,) 0..1
    mouth_boxes_px: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)
    tracks: dict[str, np.ndarray] = field(default_factory=dict)  # name → (T, 3) x_px, y_px, rad
    timings_s: dict[str, float] = field(default_factory=dict)

    @property
    def frame_count(self) -> int:
        return int(self.frames.shape[0])

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps

    @property
    def height(self) -> int:
        return int(self.frames.shape[1])

    @property
    def width(self) -> int:
        return int(self.frames.shape[2])


@dataclass
class Result:
    """What `pipeline.generate` produced and where it put it."""

    request: Request
    seed: int
    plan: ScenePlan
    caption: str
    clip: Clip
    video_path: Path
    sidecar_path: Path
    timings_s: dict[str, float]
    thumbnail_path: Path | None = None  # with generate(stills=True)
    spritesheet_path: Path | None = None
