"""engines/dit/plan_tokens.py: a plan becomes its fixed-order tokens (scene, objects,
characters, lines at their start times), limits hold, and the embedding drops what it is
told to drop."""

from __future__ import annotations

import math

import numpy as np
import torch

from reelforge.engines.dit.plan_tokens import (
    MAX_OBJECTS,
    MAX_TOKENS,
    TOKEN_KINDS,
    VOCABULARY,
    PlanEmbedding,
    encode_plan,
    stack_plans,
)
from reelforge.types import Appearance, CharacterSpec, Line, ObjectSpec, ScenePlan, Voice


def _character(name: str, lines: list[Line]) -> CharacterSpec:
    look = Appearance(
        skin_rgb=(200, 150, 120), hair_rgb=(40, 30, 20), hair_style="short",
        shirt_color="red", shirt_rgb=(214, 40, 40), pants_rgb=(20, 20, 60), height_m=1.7,
    )  # fmt: skip
    return CharacterSpec(name=name, kind="woman", appearance=look,
                         voice=Voice(espeak_voice="en-us+f3"), lines=lines)  # fmt: skip


def _plan(objects: int = 2) -> ScenePlan:
    groups = [
        ObjectSpec(kind="ball", color="red", rgb=(214, 40, 40), count=3),
        ObjectSpec(kind="box", color="blue", rgb=(35, 90, 220), size="large"),
    ]
    return ScenePlan(
        prompt="test",
        objects=(groups * 4)[:objects],
        characters=[
            _character("Ana", [Line(text="Look!", start_s=1.5), Line(text="Hi.", start_s=0.2)]),
        ],
    )


def test_tokens_are_in_a_fixed_order_with_their_values() -> None:
    encoded = encode_plan(_plan())
    assert encoded.mask.sum() == 4 + 2 + 1 + 2
    kinds = [TOKEN_KINDS[k] for k in encoded.kinds[encoded.mask]]
    assert kinds == ["setting", "lighting", "camera", "sound", "object", "object",
                     "character", "line", "line"]  # fmt: skip
    ball = [VOCABULARY[w] for w in encoded.words[4] if w]
    assert ball == ["kind=ball", "size=medium", "material=rubber", "motion=fall", "count=3"]
    np.testing.assert_allclose(encoded.numbers[5, :3], np.array([35, 90, 220]) / 255, rtol=1e-6)
    # Lines by start time, each on its speaker; every other token is timeless.
    assert encoded.times[7] == np.float32(0.2) and encoded.times[8] == np.float32(1.5)
    assert all(math.isnan(t) for t in encoded.times[:7])
    assert encoded.words[9:].sum() == 0 and not encoded.mask[9:].any()


def test_groups_past_the_limit_are_left_out() -> None:
    encoded = encode_plan(_plan(objects=MAX_OBJECTS + 2))
    assert (encoded.kinds[encoded.mask] == TOKEN_KINDS.index("object")).sum() == MAX_OBJECTS
    assert encoded.mask.sum() <= MAX_TOKENS


def test_vocabulary_words_are_unique_and_padding_is_zero() -> None:
    assert VOCABULARY[0] == "<pad>" and len(set(VOCABULARY)) == len(VOCABULARY)


def test_embedding_tells_colours_apart_and_drops_on_request() -> None:
    torch.manual_seed(0)
    embed = PlanEmbedding(32)
    red, blue = _plan(1), _plan(1)
    blue.objects[0] = blue.objects[0].model_copy(update={"rgb": (35, 90, 220)})
    batch = stack_plans([encode_plan(red), encode_plan(blue)])
    tokens, mask = embed(batch)
    assert tokens.shape == (2, MAX_TOKENS, 32)
    assert not torch.allclose(tokens[0, 4], tokens[1, 4])  # the object token differs
    assert torch.allclose(tokens[0, :4], tokens[1, :4])  # the scene tokens do not
    _, dropped = embed(batch, drop_plan=torch.tensor([True, False]))
    assert not dropped[0].any() and torch.equal(dropped[1], mask[1])
    _, none = embed(batch, drop_token=1.0)
    assert not none.any()
