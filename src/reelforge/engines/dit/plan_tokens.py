"""The plan as a dozen tokens (issue 23 part 3): what the dit reads besides the caption.

The plan holds exactly what the judge checks (each object group's kind, colour and count,
the characters, the lines and when they start, the setting), so a learned engine is handed
it directly instead of through a caption cut at 48 tokens. Only the plan: nothing the sim
computes after it (sampled positions, trajectories, contact times, its renderer, its speech)
enters here, so every engine could be given the same tokens.

One token per: setting, lighting, camera, sound, object group (up to MAX_OBJECTS),
character (up to MAX_CHARACTERS) and spoken line (up to MAX_LINES). A token is a kind
(`TOKEN_KINDS`), up to `SLOTS` categorical values from one shared vocabulary (each a
"field=value" word, so one table serves every kind) and `CONTINUOUS` numbers (colours
as 0..1 RGB, sizes). A line's token also carries its start time, for a model that places it
on its rotary time axis; every other token is timeless (time NaN).

`encode_plan` is plain Python (cheap, for data workers); `PlanEmbedding` is the module that
turns a batch of encoded plans into model-width vectors, dropping tokens at random while
training so that guidance has an unconditional (and a partly conditioned) branch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, get_args

import numpy as np
import torch
from torch import nn

from reelforge.types import (
    Ambience,
    Behaviour,
    CameraMotion,
    CharacterKind,
    FloorKind,
    HairStyle,
    Material,
    Motion,
    ObjectKind,
    ScenePlan,
    SettingKind,
    SizeClass,
    TimeOfDay,
    Weather,
)

__all__ = [
    "CONTINUOUS",
    "MAX_TOKENS",
    "SLOTS",
    "TOKEN_KINDS",
    "VOCABULARY",
    "EncodedPlan",
    "PlanEmbedding",
    "encode_plan",
    "stack_plans",
]

MAX_OBJECTS, MAX_CHARACTERS, MAX_LINES = 6, 2, 4
TOKEN_KINDS = ("setting", "lighting", "camera", "sound", "object", "character", "line")
MAX_TOKENS = 4 + MAX_OBJECTS + MAX_CHARACTERS + MAX_LINES
SLOTS = 6  # categorical values per token
CONTINUOUS = 13  # four RGB colours and one scalar


def _words(field: str, values: Iterable[Any]) -> list[str]:
    return [f"{field}={value}" for value in values]


# Index 0 is padding (an empty slot). The order is fixed by the plan's types: a new value
# appended to a Literal shifts later words, so a trained table is kept with its vocabulary
# size (PlanEmbedding checks it).
VOCABULARY: tuple[str, ...] = (
    "<pad>",
    *_words("setting", get_args(SettingKind)),
    *_words("floor", get_args(FloorKind)),
    *_words("indoor", (False, True)),
    *_words("weather", get_args(Weather)),
    *_words("ramp", (False, True)),
    *_words("time", get_args(TimeOfDay)),
    *_words("key", ("left", "right", "top")),
    *_words("camera", get_args(CameraMotion)),
    *_words("ambience", get_args(Ambience)),
    *_words("effects", range(4)),
    *_words("kind", get_args(ObjectKind)),
    *_words("size", get_args(SizeClass)),
    *_words("material", get_args(Material)),
    *_words("motion", get_args(Motion)),
    *_words("count", range(1, 13)),
    *_words("character", get_args(CharacterKind)),
    *_words("position", ("left", "right")),
    *_words("hair", get_args(HairStyle)),
    *_words("action", get_args(Behaviour)),
    *_words("glasses", (False, True)),
    *_words("speaker", range(MAX_CHARACTERS)),
)
_INDEX = {word: i for i, word in enumerate(VOCABULARY)}


@dataclass
class EncodedPlan:
    """One plan's tokens: (MAX_TOKENS,) kinds, (MAX_TOKENS, SLOTS) words,
    (MAX_TOKENS, CONTINUOUS) numbers, (MAX_TOKENS,) times (NaN: timeless) and the mask of
    tokens present."""

    kinds: np.ndarray
    words: np.ndarray
    numbers: np.ndarray
    times: np.ndarray
    mask: np.ndarray


def _rgb(*colours: tuple[int, int, int] | None) -> list[float]:
    values: list[float] = []
    for colour in colours:
        values.extend([c / 255.0 for c in colour] if colour is not None else [0.0, 0.0, 0.0])
    return values


def encode_plan(plan: ScenePlan) -> EncodedPlan:
    """The plan's tokens, in a fixed order (scene tokens, objects, characters, lines);
    groups past the limits are left out."""
    rows: list[tuple[str, list[str], list[float], float]] = []
    setting, lighting = plan.setting, plan.lighting
    rows.append(
        (
            "setting",
            [
                f"setting={setting.kind}",
                f"floor={setting.floor}",
                f"indoor={setting.indoor}",
                f"weather={setting.weather}",
                f"ramp={setting.ramp}",
            ],
            [],
            np.nan,
        )
    )
    rows.append(
        ("lighting", [f"time={lighting.time_of_day}", f"key={lighting.key_from}"], [], np.nan)
    )
    rows.append(("camera", [f"camera={plan.camera.motion}"], [], np.nan))
    effects = min(len(plan.sound.effects), 3)
    rows.append(("sound", [f"ambience={plan.sound.ambience}", f"effects={effects}"], [], np.nan))
    for group in plan.objects[:MAX_OBJECTS]:
        words = [
            f"kind={group.kind}",
            f"size={group.size}",
            f"material={group.material}",
            f"motion={group.motion}",
            f"count={group.count}",
        ]
        rows.append(("object", words, _rgb(group.rgb), np.nan))
    speakers = {c.name: i for i, c in enumerate(plan.characters[:MAX_CHARACTERS])}
    for character in plan.characters[:MAX_CHARACTERS]:
        look = character.appearance
        words = [
            f"character={character.kind}",
            f"position={character.position}",
            f"hair={look.hair_style}",
            f"action={character.action}",
            f"glasses={look.glasses}",
        ]
        numbers = [*_rgb(look.skin_rgb, look.hair_rgb, look.shirt_rgb, look.pants_rgb)]
        rows.append(("character", words, [*numbers, look.height_m / 2.0], np.nan))
    lines = sorted(
        ((line.start_s, speakers[c.name]) for c in plan.characters if c.name in speakers
         for line in c.lines),
    )  # fmt: skip
    for start_s, speaker in lines[:MAX_LINES]:
        rows.append(("line", [f"speaker={speaker}"], [], float(start_s)))

    kinds = np.zeros(MAX_TOKENS, np.int64)
    words_out = np.zeros((MAX_TOKENS, SLOTS), np.int64)
    numbers_out = np.zeros((MAX_TOKENS, CONTINUOUS), np.float32)
    times = np.full(MAX_TOKENS, np.nan, np.float32)
    mask = np.zeros(MAX_TOKENS, bool)
    for i, (kind, words, numbers, time_s) in enumerate(rows):
        kinds[i] = TOKEN_KINDS.index(kind)
        words_out[i, : len(words)] = [_INDEX[w] for w in words]
        numbers_out[i, : len(numbers)] = numbers
        times[i] = time_s
        mask[i] = True
    return EncodedPlan(kinds, words_out, numbers_out, times, mask)


def stack_plans(plans: list[EncodedPlan]) -> dict[str, torch.Tensor]:
    """A batch of encoded plans as tensors with a leading batch axis."""
    return {
        name: torch.from_numpy(np.stack([getattr(p, name) for p in plans]))
        for name in ("kinds", "words", "numbers", "times", "mask")
    }


class PlanEmbedding(nn.Module):
    """Encoded plans → (B, MAX_TOKENS, width) token vectors and their (B, MAX_TOKENS) mask.

    A token's vector is its kind's embedding plus the sum of its words' embeddings plus a
    linear map of its numbers. While training, `drop_plan` removes every token of a sample
    (guidance's unconditional branch) and `drop_token` each token on its own."""

    def __init__(self, width: int, vocabulary_size: int = len(VOCABULARY)):
        super().__init__()
        self.kind = nn.Embedding(len(TOKEN_KINDS), width)
        self.words = nn.Embedding(vocabulary_size, width, padding_idx=0)
        self.numbers = nn.Linear(CONTINUOUS, width)
        self.norm = nn.LayerNorm(width)

    def forward(
        self,
        batch: dict[str, torch.Tensor],
        *,
        drop_plan: torch.Tensor | None = None,
        drop_token: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        kinds, words, numbers = batch["kinds"], batch["words"], batch["numbers"]
        mask = batch["mask"].clone()
        if words.max() >= self.words.num_embeddings:
            raise ValueError("a plan word is outside this embedding's vocabulary")
        tokens = self.kind(kinds) + self.words(words).sum(dim=2) + self.numbers(numbers)
        if drop_token > 0:
            coins = torch.rand(mask.shape, generator=generator, device=mask.device)
            mask &= coins >= drop_token
        if drop_plan is not None:
            mask &= ~drop_plan[:, None]
        return self.norm(tokens), mask
