"""Recaptioning by an OpenAI-compatible chat endpoint (optional; rules are the default).

The model is asked for a JSON object {"plan": <ScenePlan>, "caption": <str>} and the answer
is validated against the ScenePlan schema; colour names it uses are mapped to the sim's
palette. Any failure raises RecaptionFailed, and the caller falls back to the rules.
"""

from __future__ import annotations

import json

from reelforge.recaption.vocabulary import COLOR_ALIASES, COLORS
from reelforge.types import ScenePlan

SYSTEM_PROMPT = """You expand a short video prompt into a complete scene plan for a 2-D \
physics simulator. Answer with one JSON object: {"plan": PLAN, "caption": CAPTION}. PLAN \
follows this JSON schema exactly; fill every field the prompt leaves open with sensible \
choices, keep everything the prompt says, put quoted dialogue into characters' lines with \
start times in seconds, and use at most 2 characters and 12 objects. CAPTION is one \
detailed paragraph describing the whole clip, sound included.
Schema: """


class RecaptionFailed(Exception):
    pass


def recaption_with_llm(
    prompt: str, seed: int, *, url: str, model: str, api_key: str | None, timeout_s: float
) -> tuple[ScenePlan, str]:
    schema = json.dumps(ScenePlan.model_json_schema())
    body = {
        "model": model,
        "temperature": 0,
        "seed": seed,
        "response_format": {"type": "json_object"},
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT + schema},
            {"role": "user", "content": prompt},
        ],
    }
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    import httpx  # here: only a configured endpoint needs it (0.1 s to import)

    try:
        response = httpx.post(
            url.rstrip("/") + "/chat/completions", json=body, headers=headers, timeout=timeout_s
        )
        response.raise_for_status()
        content = response.json()["choices"][0]["message"]["content"]
        answer = json.loads(content)
        raw_plan = answer["plan"]
        caption = str(answer.get("caption") or "")
    except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as exc:
        raise RecaptionFailed(f"{type(exc).__name__}: {exc}"[:300]) from exc
    try:
        raw_plan["prompt"] = prompt
        for obj in raw_plan.get("objects", []):
            name = COLOR_ALIASES.get(
                str(obj.get("color", "")).lower(), str(obj.get("color", "")).lower()
            )
            if name in COLORS:
                obj["color"], obj["rgb"] = name, COLORS[name]
        plan = ScenePlan.model_validate(raw_plan)
    except (ValueError, TypeError, AttributeError) as exc:
        raise RecaptionFailed(f"the endpoint's plan is invalid: {exc}"[:300]) from exc
    plan.source = f"llm:{model}"
    return plan, caption
