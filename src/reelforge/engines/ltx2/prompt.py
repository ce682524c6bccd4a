"""The text LTX-2 is conditioned on.

The user's own words come first: the sim's detailed caption describes what the sim can
draw (a vocabulary of shapes, assets and settings) and would throw away what a real model
can draw. Where the plan holds a free-text description, that stands for them: the user's
words followed by the recaption endpoint's paragraph when one is configured, or, for a
remix, the scene it started from and the change asked. After them, what the plan adds that
a joint audio-video model can act on: the lines its characters say, quoted, and the sound
it describes. A line already quoted is not repeated.
"""

from __future__ import annotations

from reelforge.types import ScenePlan


def model_prompt(plan: ScenePlan) -> str:
    scene = (plan.description or plan.prompt).strip()
    parts = [scene]
    for character in plan.characters:
        for line in character.lines:
            if line.text.strip() and line.text.strip() not in scene:
                parts.append(f'{character.name} says: "{line.text.strip()}"')
    sounds = [plan.sound.ambience.replace("_", " ")] + [
        effect.replace("_", " ") for effect in plan.sound.effects
    ]
    parts.append("Sound: " + ", ".join(dict.fromkeys(sounds)) + ".")
    return "\n".join(parts)
