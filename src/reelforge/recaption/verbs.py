"""Verbs → behaviours of the sim world, with every inflection a prompt may use."""

from __future__ import annotations

from reelforge.types import Behaviour

VERB_BEHAVIOURS: dict[str, Behaviour] = {
    "walk": "walk", "stroll": "walk", "wander": "walk", "march": "walk", "stride": "walk",
    "trot": "walk", "waddle": "walk", "crawl": "walk", "strut": "walk", "step": "walk",
    "patrol": "walk", "roam": "walk", "graze": "walk", "prowl": "walk", "pace": "walk",
    "run": "run", "race": "run", "sprint": "run", "dash": "run", "gallop": "run",
    "rush": "run", "jog": "run", "charge": "run", "scurry": "run", "flee": "run",
    "jump": "jump", "leap": "jump", "pounce": "jump", "vault": "jump", "spring": "jump",
    "hop": "hop", "skip": "hop", "bound": "hop",
    "fly": "fly", "soar": "fly", "flutter": "fly", "flap": "fly", "hover": "fly",
    "swoop": "fly", "circle": "fly", "buzz": "fly", "zip": "fly", "streak": "fly",
    "glide": "glide", "coast": "glide",
    "launch": "launch", "blast": "launch", "lift": "launch", "ascend": "launch",
    "rise": "launch", "climb": "launch", "take": "launch", "shoot": "launch",
    "drive": "drive", "speed": "drive", "cruise": "drive", "ride": "drive", "pass": "drive",
    "honk": "drive", "zoom": "drive", "accelerate": "drive", "pedal": "drive", "skate": "drive",
    "crash": "crash", "collide": "crash", "smash": "crash", "hit": "crash", "bump": "crash",
    "ram": "crash", "slam": "crash", "break": "crash",
    "swim": "swim", "dive": "swim", "paddle": "swim", "splash": "swim", "surface": "swim",
    "throw": "throw", "toss": "throw", "hurl": "throw", "pitch": "throw", "fling": "throw",
    "kick": "throw", "serve": "throw", "lob": "throw", "pass_ball": "throw",
    "catch": "catch", "grab": "catch", "snatch": "catch", "fetch": "catch", "receive": "catch",
    "chase": "chase", "pursue": "chase", "hunt": "chase", "stalk": "chase",
    "follow": "follow", "trail": "follow", "accompany": "follow",
    "flip": "flip", "somersault": "flip",
    "spin": "spin", "twirl": "spin", "rotate": "spin", "whirl": "spin", "pirouette": "spin",
    "stir": "spin", "turn": "spin", "twist": "spin",
    "fall": "fall", "drop": "fall", "tumble": "fall", "plunge": "fall", "topple": "fall",
    "sink": "fall", "strike": "fall", "tip": "fall", "descend": "fall",
    "bounce": "bounce",
    "explode": "launch", "erupt": "launch", "burst": "launch", "pop": "launch",
    "stop": "drive", "halt": "drive", "park": "sit",
    "roll": "roll",
    "slide": "slide", "skid": "slide", "sweep": "slide", "push": "slide", "shove": "slide",
    "slip": "slide", "sled": "slide", "ski": "slide",
    "sway": "sway", "rustle": "sway", "blow": "sway", "wobble": "sway", "shake": "sway",
    "swing": "sway", "rock": "sway",
    "float": "float", "drift": "float", "bob": "float", "sail": "float",
    "sit": "sit", "rest": "sit", "sleep": "sit", "lie": "sit", "perch": "sit", "nap": "sit",
    "wait": "sit", "stand": "sit", "lay": "sit",
    "play": "play", "strum": "play", "pluck": "play", "practise": "play", "practice": "play",
    "perform": "play", "drum": "play",
    "gesture": "gesture", "wave": "gesture", "point": "gesture", "clap": "gesture",
    "dance": "gesture", "cheer": "gesture", "shrug": "gesture", "celebrate": "gesture",
}  # fmt: skip

# The verbs whose grammatical object is what the behaviour acts on.
TRANSITIVE = frozenset(
    ("throw", "catch", "chase", "follow", "flip", "play", "crash", "kick", "hit", "drive")
)

IRREGULAR: dict[str, str] = {
    "ran": "run", "flew": "fly", "flown": "fly", "flies": "fly", "threw": "throw",
    "thrown": "throw", "caught": "catch", "fell": "fall", "fallen": "fall", "sat": "sit",
    "swam": "swim", "swum": "swim", "drove": "drive", "driven": "drive", "rode": "ride",
    "ridden": "ride", "leapt": "leap", "leaped": "leap", "slid": "slide", "spun": "spin",
    "sprang": "spring", "sprung": "spring", "rose": "rise", "risen": "rise", "blew": "blow",
    "blown": "blow", "broke": "break", "broken": "break", "shot": "shoot", "took": "take",
    "lay": "lie", "lies": "lie", "lying": "lie", "dove": "dive", "stood": "stand",
    "hid": "hide", "hits": "hit", "hitting": "hit", "sped": "speed", "swung": "swing",
    "sank": "sink", "sunk": "sink", "struck": "strike",
    "stirs": "stir", "stirred": "stir", "stirring": "stir", "tips": "tip", "tipped": "tip",
    "tipping": "tip", "stops": "stop", "stopped": "stop", "stopping": "stop",
}  # fmt: skip


def _inflections(base: str) -> list[str]:
    forms = [base]
    if base.endswith("e"):
        forms += [base + "s", base + "d", base[:-1] + "ing"]
    elif base.endswith(("s", "sh", "ch", "x", "z")):
        forms += [base + "es", base + "ed", base + "ing"]
    elif base.endswith("y") and base[-2] not in "aeiou":
        forms += [base[:-1] + "ies", base[:-1] + "ied", base + "ing"]
    else:
        forms += [base + "s", base + "ed", base + "ing"]
        if len(base) <= 4 and base[-1] not in "aeiouwxy" and base[-2] in "aeiou":
            forms += [base + base[-1] + "ed", base + base[-1] + "ing"]  # hop → hopped
    return forms


VERB_FORMS: dict[str, str] = {  # any inflected form → its base
    **{form: base for base in VERB_BEHAVIOURS for form in _inflections(base)},
    **IRREGULAR,
}


def verb_base(word: str) -> str | None:
    """The base verb of `word` if it is a form of a verb the sim acts out ("flips" → "flip")."""
    base = VERB_FORMS.get(word.lower())
    return base if base in VERB_BEHAVIOURS else None


def behaviour_of(word: str) -> Behaviour | None:
    base = verb_base(word)
    return VERB_BEHAVIOURS[base] if base else None
