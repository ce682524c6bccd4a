"""The detailed caption: the ScenePlan written out as one paragraph (Sora's recaptioning).

Training data for the diffusion model pairs clips with these captions, so every attribute
the plan fixes is stated, in a stable order.
"""

from __future__ import annotations

from reelforge.types import ScenePlan

_COUNT_WORDS = (
    "no",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
)
_MOTION = {
    "fall": "fall from above onto the floor",
    "bounce": "drop and bounce on the floor",
    "roll": "roll across the floor",
    "slide": "slide across the floor",
    "collide": "fly toward each other and collide",
    "throw": "are tossed into the air",
    "rest": "rest on the floor",
}
_CAMERA = {
    "static": "A static camera",
    "pan_left": "A camera panning slowly to the left",
    "pan_right": "A camera panning slowly to the right",
    "zoom_in": "A camera slowly zooming in",
    "zoom_out": "A camera slowly zooming out",
}


def _count(n: int) -> str:
    return _COUNT_WORDS[n] if 0 <= n < len(_COUNT_WORDS) else str(n)


def detailed_caption(plan: ScenePlan) -> str:
    setting = plan.setting
    light = {
        "day": "in bright daylight",
        "sunset": "in warm sunset light",
        "night": "at night under cool light",
    }[plan.lighting.time_of_day]
    parts = [
        f"{_CAMERA[plan.camera.motion]} frames a {setting.description or setting.kind} "
        f"with a {setting.floor} floor, {light}."
    ]
    if setting.weather != "clear":
        parts.append(f"It is {'raining' if setting.weather == 'rain' else setting.weather + 'y'}.")
    if setting.ramp:
        parts.append("A ramp slopes down to the floor.")
    for obj in plan.objects:
        plural = "s" if obj.count > 1 else ""
        verb = _MOTION[obj.motion]
        if obj.count == 1:
            verb = verb.replace("are tossed", "is tossed").replace(
                "fly toward each other and", "flies across and"
            )
            verb = {
                "fall": "falls",
                "drop": "drops",
                "roll": "rolls",
                "slide": "slides",
                "rest": "rests",
            }.get(verb.split()[0], verb.split()[0]) + verb[len(verb.split()[0]) :]
        parts.append(
            f"{_count(obj.count).capitalize()} {obj.size} {obj.color} {obj.material} "
            f"{obj.kind}{'es' if plural and obj.kind == 'box' else plural} {verb}."
        )
    for character in plan.characters:
        look = character.appearance
        hair = "no hair" if look.hair_style == "bald" else f"{look.hair_style} hair"
        if look.glasses:  # a cameo's (cameos/draw.py); plans without them read as before
            hair += " and glasses"
        parts.append(
            f"{character.name}, a {character.kind} with {hair} in a {look.shirt_color} "
            f"shirt, stands on the {character.position}."
        )
        for line in character.lines:
            parts.append(f'At {line.start_s:.1f} s {character.name} says: "{line.text}"')
    sound = plan.sound
    heard = [sound.ambience.replace("_", " "), *sound.effects]
    parts.append("Sound: " + ", ".join(heard) + ".")
    return " ".join(parts)
