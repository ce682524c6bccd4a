"""Prompt → ScenePlan + detailed caption.

Rules and sentence embeddings by default; an OpenAI-compatible chat endpoint when
`Settings.recaption_llm_url` is set (falling back to the rules, with a note, if it fails).
"""

from __future__ import annotations

import logging
from typing import Literal

from reelforge.assets.install import default_assets_dir
from reelforge.recaption.assets import asset_matcher
from reelforge.recaption.caption import detailed_caption
from reelforge.recaption.concepts import Match, concept_index
from reelforge.recaption.llm import RecaptionFailed, recaption_with_llm
from reelforge.recaption.rules import (
    PLACE_WORDS,
    RulePlanner,
    color_name,
    fit_plan_dialogue,
    stated_aspects,
)
from reelforge.recaption.things import ThingReader
from reelforge.recaption.vocabulary import (
    CHARACTER_NOUNS,
    CLOTHING_WORDS,
    COLORS,
    FLOOR_WORDS,
    HAIR_WORDS,
    NUMBER_WORDS,
    RAMP_WORDS,
    SETTING_NOUNS,
    SIZE_WORDS,
    SPEECH_VERBS,
    TIME_WORDS,
    WEATHER_WORDS,
)
from reelforge.settings import Settings
from reelforge.types import ScenePlan

log = logging.getLogger(__name__)

__all__ = ["detailed_caption", "recaption", "remix_plan"]


def recaption(
    prompt: str, seed: int, settings: Settings, seconds: float | None = None
) -> tuple[ScenePlan, str]:
    """Expand `prompt` into a ScenePlan and its detailed caption (deterministic per seed).
    With `seconds`, the plan's dialogue is cut to what a clip that long can hold, with a
    note (rules.fit_dialogue)."""
    if settings.recaption_llm_url:
        try:
            plan, caption = recaption_with_llm(
                prompt,
                seed,
                url=settings.recaption_llm_url,
                model=settings.recaption_llm_model,
                api_key=settings.recaption_llm_api_key,
                timeout_s=settings.recaption_llm_timeout_s,
            )
            if seconds is not None:
                fitted = fit_plan_dialogue(plan, seconds)
                caption = caption if fitted is plan else detailed_caption(fitted)
                plan = fitted
            # The endpoint's paragraph (kept unless the plan's dialogue was cut) is what a
            # model that reads free text is conditioned on, after the user's own words.
            description = f"{prompt.strip()}\n{caption.strip()}" if caption.strip() else None
            plan = plan.model_copy(update={"description": description})
            return plan, caption or detailed_caption(plan)
        except RecaptionFailed as exc:
            log.warning("LLM recaption failed, using rules: %s", exc)
            note = f"the recaption endpoint failed ({exc}); the rules planned this scene"
        else:  # pragma: no cover - returned above
            note = ""
    else:
        note = ""

    def nearest(noun: str, among: Literal["object", "setting"]) -> Match:
        return concept_index(settings.embedding_model_dir).nearest(noun, among)

    planner = RulePlanner(nearest, settings.concept_min_similarity, _thing_reader(settings))
    plan = planner.plan(prompt, seed, seconds)
    if note:
        plan.notes.insert(0, note)
    return plan, detailed_caption(plan)


def _thing_reader(settings: Settings) -> ThingReader:
    matcher = asset_matcher(
        settings.assets_dir or default_assets_dir(),
        settings.embedding_model_dir,
        settings.asset_min_similarity,
    )
    reserved = (
        frozenset(
            word
            for table in (
                SETTING_NOUNS,
                FLOOR_WORDS,
                TIME_WORDS,
                WEATHER_WORDS,
                CLOTHING_WORDS,
                HAIR_WORDS,
                CHARACTER_NOUNS,
                SPEECH_VERBS,
            )
            for phrase in table
            for word in phrase.split()
        )
        | PLACE_WORDS
        | {word for word in RAMP_WORDS if " " not in word}  # "a hill" is the ramp
        | {"sky", "air", "ground", "floor", "scene", "shot", "video", "clip", "camera"}
    )
    adjuncts = PLACE_WORDS | frozenset(
        w for table in (SETTING_NOUNS, FLOOR_WORDS) for p in table for w in p.split()
    )
    return ThingReader(
        matcher, dict(COLORS), color_name, dict(NUMBER_WORDS), dict(SIZE_WORDS), reserved, adjuncts
    )


def remix_plan(
    base: ScenePlan, prompt: str, seed: int, settings: Settings, seconds: float | None = None
) -> ScenePlan:
    """`base` changed by what `prompt` states, and only that: a new setting, light,
    weather or camera move, new objects, new characters or lines. Everything the prompt
    does not mention (and the seed, so the same motion) stays as it was."""
    change, _ = recaption(prompt, seed, settings, seconds)
    stated = stated_aspects(prompt, change)
    plan = base.model_copy(deep=True)
    plan.prompt = prompt
    if "setting" in stated:
        weather = plan.setting.weather
        plan.setting = change.setting.model_copy()
        plan.setting.weather = weather
        plan.sound.ambience = change.sound.ambience
    if "weather" in stated:
        plan.setting.weather = change.setting.weather
        plan.sound.ambience = change.sound.ambience
    if "lighting" in stated:
        plan.lighting.time_of_day = change.lighting.time_of_day
    if "camera" in stated:
        plan.camera = change.camera.model_copy()
    if "objects" in stated:
        plan.objects = [o.model_copy() for o in change.objects]
    if "characters" in stated:
        plan.characters = [c.model_copy(deep=True) for c in change.characters]
    plan.timeline = RulePlanner.timeline(plan)
    plan.notes = [
        *change.notes,
        f"remix of an earlier plan; changed: "
        f"{', '.join(sorted(stated)) or 'nothing the sim can change'}",
    ]
    plan.source = f"remix ({change.source})"
    # A model that reads free text sees the scene it started from, then the change.
    plan.description = f"{base.description or base.prompt.strip()}\nChanged: {prompt.strip()}"
    return plan
