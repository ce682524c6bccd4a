"""Training data for the dit engine: clips with sound, a caption and (for sim) the plan.

- `SimClipDataset` renders clips on the fly from random prompts through the rules
  recaptioner and the sim engine; sample i of seed s is always the same clip, so any
  worker process can render any index and a resumed run sees exactly the data it would
  have seen.
- `VideoFolderDataset` reads a folder of MP4 files described by a captions JSONL file
  (`{"file": "a.mp4", "caption": "..."}` per line), so users can train on their footage.
- `VideoWindows` / `AudioSegments` cut what a training step needs (random spatial crops
  of a window of 1 + 4k frames; mono 16 kHz segments) inside the data workers.
- `StepBatches` hands each process its share of each global batch from a given step on.
- `cache_latents` / `LatentCache` store codec latents on disk for diffusion training.

Every sample is a `Sample`: frames uint8 (T, H, W, 3), audio float32 (S,) mono at 16 kHz.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from scipy import signal
from torch.utils.data import Dataset, Sampler

from reelforge.engines.dit.conditioning import (
    CODEC_SAMPLE_RATE,
    REFERENCE_IMAGE_PX,
    REFERENCE_VOICE_S,
    text_conditioning,
)
from reelforge.errors import ConfigError, InvalidRequest
from reelforge.settings import Settings, load_settings
from reelforge.types import Clip, ScenePlan

NATIVE_SIZES = ("256x448", "448x256")  # 9:16 and its landscape twin


@dataclass
class Sample:
    frames: np.ndarray  # uint8 (T, H, W, 3)
    audio: np.ndarray  # float32 (S,), mono, CODEC_SAMPLE_RATE
    caption: str
    plan: ScenePlan | None  # None for footage: only a simulator knows its plan


def to_codec_audio(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """(C, S) or (S,) at `sample_rate` → float32 (S',) mono at 16 kHz (polyphase)."""
    mono = audio.mean(axis=0) if audio.ndim == 2 else audio
    if mono.size == 0:
        return np.zeros(0, np.float32)
    g = math.gcd(CODEC_SAMPLE_RATE, sample_rate)
    out = signal.resample_poly(mono.astype(np.float64), CODEC_SAMPLE_RATE // g, sample_rate // g)
    return out.astype(np.float32)


# ---------------------------------------------------------------------------------------
# Random scenes for the simulator.

_LINES = (
    "Look out below!",
    "Nice catch.",
    "Did you hear that?",
    "The quick brown fox jumps over the lazy dog.",
    "Watch the red ball bounce.",
    "I think it is going to rain today.",
    "Could you pass me the heavy box, please?",
    "Wow, that was loud!",
    "Seven silver spoons sat on the shelf.",
    "Where did the marble go?",
    "Hold on, let me check the clock.",
    "Everything is fine, just a little crash.",
    "Jump higher, you can do it!",
    "She sells sea shells by the sea shore.",
    "Thanks for coming to the show tonight.",
    "How many bottles fell off the table?",
    "Careful, the floor is very slippery.",
    "My favourite colour is bright purple.",
)
_MOTIONS = ("falls", "bounces", "rolls", "slides", "collides", "tumbles", "rests", "drops")
_SPEAKERS = ("man", "woman", "boy", "girl", "robot", "chef", "teacher")
_EXTRAS = ("", "", "at sunset", "at night", "in the rain", "on a windy day", "in the snow")
_CAMERA = ("", "", "", "The camera pans left.", "The camera zooms in.", "The camera pans right.")
_SOUNDS = ("", "", "", "A crowd cheers.", "Birds sing.", "Waves crash nearby.", "Traffic hums.")
# The places training prompts name: the recaptioner's setting nouns when v1-v3 were
# trained, frozen here so that new places do not reshuffle every later pick of the stream.
_PLACES = (
    "room", "living room", "bedroom", "office", "classroom", "kitchen", "bathroom",
    "restaurant", "cafe", "gym", "gymnasium", "court", "stadium", "studio", "stage",
    "warehouse", "garage", "factory", "street", "road", "city", "parking lot", "market",
    "park", "garden", "meadow", "field", "playground", "beach", "shore", "ocean", "forest",
    "woods", "jungle", "desert", "canyon", "mountain",
)  # fmt: skip


def random_prompt(rng: np.random.Generator) -> str:
    """A prompt in the words the rules recaptioner knows: objects, a place, maybe speech."""
    from reelforge.recaption.vocabulary import COLORS, MATERIALS, OBJECT_NOUNS

    def pick(options: tuple[str, ...] | list[str]) -> str:
        return str(options[int(rng.integers(len(options)))])

    parts = []
    for _ in range(int(rng.integers(1, 4))):
        count = int(rng.integers(1, 5))
        noun = pick(list(OBJECT_NOUNS))
        noun = noun if count == 1 else noun + "s"
        words = [str(count), pick(list(COLORS)), pick(MATERIALS), noun, pick(_MOTIONS)]
        parts.append(" ".join(words))
    prompt = f"{' and '.join(parts)} in the {pick(_PLACES)} {pick(_EXTRAS)}".strip()
    prompt = prompt[0].upper() + prompt[1:] + ". "
    for _ in range(int(rng.choice([0, 1, 1, 2]))):
        prompt += f'A {pick(_SPEAKERS)} says "{pick(_LINES)}" '
    return (prompt + pick(_CAMERA) + " " + pick(_SOUNDS)).strip()


def random_scene(rng: np.random.Generator, settings: Any) -> tuple[str, ScenePlan, str]:
    """A random prompt, and its plan and detailed caption from the recaptioner (`settings`
    a Settings): what a sim training sample draws first from its generator."""
    from reelforge.recaption import recaption

    prompt = random_prompt(rng)
    plan, caption = recaption(prompt, int(rng.integers(2**31)), settings)
    # The learned engines draw the plain shapes they were trained on: a "basketball" is an
    # orange ball here, not the asset the sim draws for it now.
    plain = {"asset": None, "label": "", "emoji": "", "tinted": False}
    plan.objects = [o.model_copy(update=plain) for o in plan.objects]
    return prompt, plan, caption


class SimClipDataset(Dataset[Sample]):
    """Sim clips of `seconds` at `fps`, sizes alternating over `sizes`; sample i of `seed`
    is always the same clip. `settings`: the sim's (default: the environment's, read once);
    either way the recaption endpoint is off, so the plans always come from the rules
    planner, whatever a deployment configures."""

    def __init__(
        self,
        *,
        seconds: float,
        fps: int = 24,
        sizes: tuple[str, ...] = NATIVE_SIZES,
        seed: int = 0,
        length: int = 10**9,
        settings: Settings | None = None,
    ):
        from reelforge.types import SUPPORTED_FPS, SUPPORTED_SIZES

        bad = [s for s in sizes if s not in SUPPORTED_SIZES]
        if bad or not sizes:
            raise InvalidRequest(
                f"sizes must be among {', '.join(SUPPORTED_SIZES)}, got {sizes!r}", param="sizes"
            )
        if fps not in SUPPORTED_FPS:
            raise InvalidRequest(f"fps must be one of {SUPPORTED_FPS}, got {fps}", param="fps")
        if not 0 < seconds <= 20:
            raise InvalidRequest(f"seconds must be in (0, 20], got {seconds}", param="seconds")
        self.seconds, self.fps, self.sizes, self.seed, self.length = (
            seconds,
            fps,
            sizes,
            seed,
            length,
        )
        base = settings if settings is not None else load_settings()
        self.settings = base.model_copy(update={"recaption_llm_url": None})

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Sample:
        clip, caption, plan = self.render(index)
        return Sample(
            np.asarray(clip.frames), to_codec_audio(clip.audio, clip.sample_rate), caption, plan
        )

    def render(self, index: int) -> tuple[Clip, str, ScenePlan]:
        """Sample i as the engine returns it, with its ground truth (speech, contacts)."""
        from reelforge.engines.sim import SimEngine

        rng = np.random.default_rng([self.seed, index])
        _, plan, caption = random_scene(rng, self.settings)
        clip = SimEngine(self.settings).generate(
            plan,
            seconds=self.seconds,
            size=self.sizes[index % len(self.sizes)],
            fps=self.fps,
            seed=int(rng.integers(2**31)),
        )
        return clip, caption, plan


# ---------------------------------------------------------------------------------------
# A folder of MP4 files with captions.


class VideoFolderDataset(Dataset[Sample]):
    """Clips from `folder`/*.mp4 listed in `captions` (JSONL: {"file", "caption"}).

    Each item is the file's first `seconds`, resampled to `fps` (nearest frame), scaled
    and centre-cropped to `size` (WxH), with audio as mono 16 kHz. Files shorter than
    `seconds` are padded by repeating their last frame and with silence.
    """

    def __init__(
        self,
        folder: Path,
        *,
        seconds: float,
        fps: int = 24,
        size: str = "256x448",
        captions: Path | None = None,
    ):
        folder = Path(folder)
        if not folder.is_dir():
            raise InvalidRequest(f"data {str(folder)!r} is not a directory", param="data")
        captions = captions or folder / "captions.jsonl"
        if not captions.is_file():
            raise InvalidRequest(
                f"captions {str(captions)!r} does not exist (one JSON object per line: "
                '{"file": "clip.mp4", "caption": "..."})',
                param="captions",
            )
        self.items: list[tuple[Path, str]] = []
        for number, line in enumerate(captions.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                path, caption = folder / entry["file"], str(entry["caption"])
            except (json.JSONDecodeError, KeyError, TypeError) as error:
                raise InvalidRequest(
                    f"captions line {number} must be a JSON object with file and caption ({error})",
                    param="captions",
                ) from None
            if not path.is_file():
                raise InvalidRequest(
                    f"captions line {number}: file {str(path)!r} does not exist", param="captions"
                )
            self.items.append((path, caption))
        if not self.items:
            raise InvalidRequest(f"captions {str(captions)!r} lists no files", param="captions")
        width, height = (int(v) for v in size.split("x"))
        self.width, self.height, self.seconds, self.fps = width, height, seconds, fps

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Sample:
        from reelforge.media import decode_mp4
        from reelforge.media.images import cover_fit

        path, caption = self.items[index]
        count = max(1, round(self.seconds * self.fps))
        decoded = decode_mp4(path)
        # 1. Frame k of the result is the source frame showing at time k / fps.
        source = np.minimum(
            (np.arange(count) * decoded.fps / self.fps).round().astype(int),
            len(decoded.frames) - 1,
        )
        frames = np.stack([cover_fit(decoded.frames[i], self.width, self.height) for i in source])
        # 2. Audio: mono 16 kHz, cut or padded to the clip's length.
        samples = round(count / self.fps * CODEC_SAMPLE_RATE)
        audio = np.zeros(samples, np.float32)
        if decoded.audio.size:
            mono = to_codec_audio(decoded.audio, decoded.sample_rate)[:samples]
            audio[: mono.size] = mono
        return Sample(frames, audio, caption, None)


# ---------------------------------------------------------------------------------------
# What a training step consumes.


class ReusedClips:
    """Sample i of a global batch of `batch` → the clip it is cut from, each clip serving
    `reuse` consecutive steps (physics and rendering cost more than a training step on
    the CPU), with the last few clips kept in this worker's memory. Slots renew at
    staggered steps, so every step renders about batch / reuse new clips."""

    def __init__(self, clips: Dataset[Sample], *, batch: int, reuse: int):
        self.clips, self.batch, self.reuse = clips, batch, reuse
        self.cache: dict[int, Sample] = {}

    def __len__(self) -> int:
        return len(self.clips)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> Sample:
        step, slot = divmod(index, self.batch)
        offset = slot * self.reuse // self.batch
        clip = ((step + offset) // self.reuse) * self.batch + slot
        if clip not in self.cache:
            if len(self.cache) >= 2 * self.batch:
                self.cache.pop(next(iter(self.cache)))
            self.cache[clip] = self.clips[clip % len(self)]
        return self.cache[clip]


class VideoWindows(Dataset[torch.Tensor]):
    """uint8 (frames, crop, crop, 3): a random window and square crop of sample i.

    The window and crop come from (seed, i), so they are the same in any worker.
    crop_px = 0 keeps the whole frame.
    """

    def __init__(self, clips: ReusedClips, *, frames: int, crop_px: int, seed: int):
        self.clips, self.frames, self.crop_px, self.seed = clips, frames, crop_px, seed

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, index, 1])
        video = self.clips[index].frames  # (T, H, W, 3)
        if len(video) < self.frames:
            raise InvalidRequest(
                f"clip_frames must be at most the clip's {len(video)} frames, got {self.frames}",
                param="clip_frames",
            )
        start = int(rng.integers(len(video) - self.frames + 1))
        window = video[start : start + self.frames]
        if self.crop_px:
            top = int(rng.integers(window.shape[1] - self.crop_px + 1))
            left = int(rng.integers(window.shape[2] - self.crop_px + 1))
            window = window[:, top : top + self.crop_px, left : left + self.crop_px]
        return torch.from_numpy(np.ascontiguousarray(window))


class AudioSegments(Dataset[torch.Tensor]):
    """float32 (samples,): a random segment of sample i's audio (zero-padded if short)."""

    def __init__(self, clips: ReusedClips, *, samples: int, seed: int):
        self.clips, self.samples, self.seed = clips, samples, seed

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, index, 2])
        audio = self.clips[index].audio
        start = int(rng.integers(max(1, audio.size - self.samples + 1)))
        segment = audio[start : start + self.samples]
        out = np.zeros(self.samples, np.float32)
        out[: segment.size] = segment
        return torch.from_numpy(out)


class StepBatches(Sampler[list[int]]):
    """Indices of this process's share of each global batch, from `start_step` on, forever.

    Global batch s is indices [s·B, (s+1)·B); process r of W takes its r-th slice, so
    W processes together see exactly what one process with batch B sees.
    """

    def __init__(self, global_batch: int, rank: int, world: int, start_step: int, modulo: int):
        if global_batch % world:
            raise InvalidRequest(
                f"batch_size must be a multiple of the {world} processes, got {global_batch}",
                param="batch_size",
            )
        self.global_batch, self.rank, self.world = global_batch, rank, world
        self.start_step, self.modulo = start_step, modulo

    def __iter__(self) -> Iterator[list[int]]:
        share = self.global_batch // self.world
        step = self.start_step
        while True:
            first = step * self.global_batch + self.rank * share
            yield [(first + i) % self.modulo for i in range(share)]
            step += 1


# ---------------------------------------------------------------------------------------
# Latent caching for diffusion training.


def cache_latents(
    clips: Dataset[Sample],
    indices: range,
    out_dir: Path,
    encode_video: Any,
    encode_audio: Any,
) -> list[Path]:
    """Encode samples once and store them: out_dir/{index:08d}.safetensors with tensors
    `video` (z, N, h, w) and `audio` (z', M), caption and plan in the metadata.

    `encode_video` takes uint8 frames (T, H, W, 3) and `encode_audio` float32 samples (S,);
    each returns the latent tensor (see `codecs.CodecPair`).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for index in indices:
        path = out_dir / f"{index:08d}.safetensors"
        if path.is_file():  # an interrupted run continues where it stopped
            written.append(path)
            continue
        sample = clips[index]
        metadata = {
            "caption": sample.caption,
            "plan": sample.plan.model_dump_json() if sample.plan is not None else "",
        }
        tensors = {
            "video": encode_video(sample.frames).contiguous(),
            "audio": encode_audio(sample.audio).contiguous(),
        }
        partial = path.with_suffix(".partial")
        save_file(tensors, str(partial), metadata=metadata)
        partial.replace(path)
        written.append(path)
    return written


class LatentCache(Dataset[dict[str, Any]]):
    """Reads what `cache_latents` wrote: {"video", "audio", "caption", "plan"}."""

    def __init__(self, directory: Path):
        if not Path(directory).is_dir():
            raise ConfigError(f"latents {str(directory)!r} is not a directory", param="latents")
        self.paths = sorted(Path(directory).glob("*.safetensors"))
        if not self.paths:
            raise ConfigError(f"latents {str(directory)!r} holds no .safetensors", param="latents")

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict[str, Any]:
        tensors, metadata = self.read(index)
        return {
            "video": tensors["video"],
            "audio": tensors["audio"],
            "caption": metadata.get("caption", ""),
            "plan": _parse_plan(metadata),
        }

    def read(self, index: int) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
        """Clip `index`'s tensors and metadata (caption, plan JSON), in one open."""
        from safetensors import safe_open

        with safe_open(str(self.paths[index]), "pt") as handle:
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118 (a safe_open, not a dict)
            return tensors, handle.metadata() or {}

    def plan(self, index: int) -> ScenePlan | None:
        """Clip `index`'s plan, without reading its tensors."""
        from safetensors import safe_open

        with safe_open(str(self.paths[index]), "pt") as handle:
            return _parse_plan(handle.metadata() or {})


def _parse_plan(metadata: dict[str, str]) -> ScenePlan | None:
    plan = metadata.get("plan", "")
    return ScenePlan.model_validate_json(plan) if plan else None


# Captions whose token states a LatentWindows keeps (74 KB each: 600 MB per data worker).
TEXT_MEMO_CAPTIONS = 8192


class LatentWindows(Dataset[dict[str, Any]]):
    """What a diffusion training step consumes, from a latent cache: the clip's first
    `video_latents` latent frames and the audio latents of the same seconds, the caption's
    MiniLM token states, and the cameo references where `references_dir` holds them
    (`cache_references`); clips without get zeros and has_refs False."""

    def __init__(
        self,
        cache: LatentCache,
        *,
        video_latents: int,
        audio_latents: int,
        max_text_tokens: int,
        references_dir: Path | None = None,
        voice_latents: int = round(REFERENCE_VOICE_S * 50),
    ):
        self.voice_latents = voice_latents
        self.cache, self.video_latents, self.audio_latents = cache, video_latents, audio_latents
        self.max_text_tokens, self.references_dir = max_text_tokens, references_dir
        self._encoder: Any = None
        # caption → token states: each worker encodes a caption once (~20 ms), not per epoch
        self._text: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def __len__(self) -> int:
        return len(self.cache)

    def text_states(self, caption: str) -> tuple[torch.Tensor, torch.Tensor]:
        if self._encoder is None:
            from reelforge.recaption.embedding import shared_encoder

            self._encoder = shared_encoder()
        if caption in self._text:
            return self._text[caption]
        states = text_conditioning(self._encoder, caption, self.max_text_tokens)
        if len(self._text) < TEXT_MEMO_CAPTIONS:
            self._text[caption] = states
        return states

    def __getitem__(self, index: int) -> dict[str, Any]:
        tensors, metadata = self.cache.read(index)  # the plan stays unparsed: not needed
        video, audio = tensors["video"], tensors["audio"]
        if video.shape[1] < self.video_latents or audio.shape[1] < self.audio_latents:
            raise ConfigError(
                f"cached clip {self.cache.paths[index].name} is shorter than the training "
                f"window ({video.shape[1]} < {self.video_latents} latent frames)",
                param="latents",
            )
        text, text_mask = self.text_states(metadata.get("caption", ""))
        sample = {
            "video": video[:, : self.video_latents].float(),
            "audio": audio[:, : self.audio_latents].float(),
            "text": text,
            "text_mask": text_mask,
            "ref_image": torch.zeros(
                video.shape[0], 1, REFERENCE_IMAGE_PX // 8, REFERENCE_IMAGE_PX // 8
            ),
            "ref_voice": torch.zeros(audio.shape[0], self.voice_latents),
            "has_refs": torch.tensor(False),
        }
        path = self.references_dir / self.cache.paths[index].name if self.references_dir else None
        if path is not None and path.is_file():
            refs = load_file(str(path))
            sample.update(
                ref_image=refs["image"], ref_voice=refs["voice"], has_refs=torch.tensor(True)
            )
        return sample


def cache_references(
    cache: LatentCache,
    out_dir: Path,
    encode_video: Any,
    encode_audio: Any,
    indices: Sequence[int] | None = None,
) -> int:
    """For every cached clip (of `indices`, default all) whose plan has a character, the
    first character's cameo reference (appearance image, voice sample; see references.py)
    through the codecs, stored as out_dir/<same name>.safetensors with `image`
    (z, 1, 16, 16) and `voice` (z', 100). Returns how many clips have references."""
    from reelforge.engines.dit.references import character_reference

    out_dir.mkdir(parents=True, exist_ok=True)
    count = 0
    for index in range(len(cache)) if indices is None else indices:
        path = cache.paths[index]
        target = out_dir / path.name
        if target.is_file():
            count += 1
            continue
        plan = cache.plan(index)
        if plan is None or not plan.characters:
            continue
        reference = character_reference(
            plan.characters[0], size=REFERENCE_IMAGE_PX, seconds=REFERENCE_VOICE_S
        )
        tensors = {
            "image": encode_video(reference.image[None]).contiguous(),
            "voice": encode_audio(reference.voice).contiguous(),
        }
        partial = target.with_suffix(".partial")
        save_file(tensors, str(partial))
        partial.replace(target)
        count += 1
    return count
