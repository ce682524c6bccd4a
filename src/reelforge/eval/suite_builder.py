"""The core suite's generator: sentence templates and word lists, drawn from a fixed
`random.Random(CORE_SEED)` into `suites/core.jsonl` (the rules every prompt follows are in
`suite.py`'s docstring; tests/eval/test_suite.py checks the file is what this builds).

    .venv/bin/python -m reelforge.eval.suite_builder    # after changing the templates
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from reelforge.eval.suite import (
    CORE_SEED,
    CORE_SETTING_KINDS,
    KINDS,
    MAX_CHARACTERS,
    MOTIONS,
    TAGS,
    ExpectedObject,
    SuitePrompt,
    default_suite_path,
    write_suite,
)
from reelforge.recaption.vocabulary import MATERIALS, OBJECT_NOUNS

CHROMATIC = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "cyan")
# Clothing colours never say "orange": the rules read "an orange shirt" as the fruit.
SHIRT_COLORS = ("red", "yellow", "green", "blue", "purple", "pink", "cyan")
GARMENTS = ("shirt", "jacket", "hoodie", "sweater", "t-shirt")
NUMBER_NAMES = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}
PLURALS = {
    "ball": "balls",
    "box": "boxes",
    "block": "blocks",
    "triangle": "triangles",
    "capsule": "capsules",
    "plank": "planks",
}
MATERIAL_ADJECTIVES: dict[str, tuple[str, ...]] = {
    "rubber": ("rubber",),
    "wood": ("wooden",),
    "metal": ("metal", "steel"),
    "glass": ("glass",),
    "plastic": ("plastic",),
    "stone": ("stone",),
    "ice": ("ice",),
}
SIZES = ("small", "big", "large", "tiny", "huge")
# (singular, plural) verb phrases per motion; collisions are built from two groups.
MOTION_PHRASES: dict[str, tuple[tuple[str, str], ...]] = {
    "fall": (
        ("falls onto the floor", "fall onto the floor"),
        ("drops from above", "drop from above"),
        ("falls to the ground", "fall to the ground"),
        ("tumbles down", "tumble down"),
    ),
    "bounce": (
        ("bounces on the floor", "bounce on the floor"),
        ("bounces across the floor", "bounce across the floor"),
        ("bounces high", "bounce high"),
    ),
    "roll": (
        ("rolls across the floor", "roll across the floor"),
        ("rolls slowly across the floor", "roll slowly across the floor"),
        ("rolls along the ground", "roll along the ground"),
    ),
    "slide": (
        ("slides across the floor", "slide across the floor"),
        ("glides across the floor", "glide across the floor"),
        ("skids along the ground", "skid along the ground"),
    ),
    "throw": (
        ("is thrown into the air", "are thrown into the air"),
        ("is tossed into the air", "are tossed into the air"),
        ("flies through the air", "fly through the air"),
    ),
    "rest": (
        ("rests on the floor", "rest on the floor"),
        ("sits still on the table", "sit still on the table"),
        ("lies on the ground", "lie on the ground"),
    ),
}
COLLISION_VERBS = ("crashes into", "smashes into", "bumps into", "hits")
# Where, per setting kind: canonical phrases first, then synonyms the rules map onto it.
PLACES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "room": (
        ("in a room", "in an empty room"),
        ("in a living room", "in a hallway", "in an office"),
    ),
    "kitchen": (("in a kitchen", "in the kitchen"), ("in a cafe",)),
    "gym": (("in a gym", "in the gym"), ("in a gymnasium", "on the court")),
    "studio": (("in a studio", "in the studio"), ("on a stage",)),
    "warehouse": (("in a warehouse", "in the warehouse"), ("in a garage", "in a factory")),
    "street": (("on a street", "on the street"), ("on a city street", "on the road")),
    "park": (("in a park", "in the park"), ("in a meadow", "in a garden")),
    "beach": (("on a beach", "on the beach"), ("on the shore",)),
    "forest": (("in a forest", "in the forest"), ("in the woods",)),
    "desert": (("in a desert", "in the desert"), ("in a canyon",)),
}
OUTDOOR = ("street", "park", "beach", "forest", "desert")
LIGHTING = (
    "at night",
    "at sunset",
    "at dawn",
    "at dusk",
    "in the morning",
    "in the evening",
    "at midnight",
    "on a sunny afternoon",
    "in bright daylight",
    "at noon",
)
WEATHER = (
    "in the rain",
    "on a rainy day",
    "in the snow",
    "while it is snowing",
    "on a windy day",
    "in a storm",
    "in light drizzle",
    "on a snowy day",
)
CAMERA = (
    "The camera pans left.",
    "The camera pans right.",
    "The camera slowly zooms in.",
    "The camera zooms out.",
    "The camera pulls back.",
    "The camera is static.",
    "The camera slowly pans left.",
)
STATEMENTS = (
    "I think it will fall",
    "That one is mine",
    "We should clean this up",
    "The blue one is faster",
    "It is getting late",
    "Dinner is almost ready",
    "I found it by the door",
    "Let me try that again",
    "This is my favorite spot",
    "We need a bigger table",
    "The light is perfect today",
    "I will race you home",
    "Be careful with that",
    "I saw it first",
    "Hold on a second",
    "The show starts soon",
    "My turn now",
    "Nice shot",
    "That sounded loud",
    "I love this place",
    "Let us stack them up",
    "It is colder than yesterday",
    "You left the door open",
    "We are almost done here",
    "Keep your eyes on it",
)
QUESTIONS = (
    "Did you see that?",
    "Where did it go?",
    "Is it heavy?",
    "Can you catch it?",
    "What was that noise?",
    "Are you ready?",
    "Should we go now?",
    "Who built this?",
    "How far did it roll?",
    "Do you want to play?",
    "Is that yours?",
    "Why is it so quiet?",
)
EXCLAMATIONS = (
    "Look out!",
    "Watch this!",
    "Catch it!",
    "That was amazing!",
    "Over here!",
    "Wow, it bounced so high!",
    "Hurry up!",
    "We did it!",
    "Not again!",
    "Great throw!",
    "Stop right there!",
    "This is so much fun!",
)


@dataclass(frozen=True)
class _Group:
    """An object group as the prompt words it."""

    obj: ExpectedObject
    noun: str = ""  # surface noun (singular); "" means the kind's own name
    color_word: bool = True  # say the colour (False: the noun implies it)
    material_word: str | None = None
    size: str | None = None


@dataclass
class _Line:
    text: str  # without end punctuation
    end: str  # ".", "?" or "!"

    def quoted_before(self) -> str:
        """As quoted after its speaker: 'says, "It is late."'."""
        return self.text + self.end

    def quoted_first(self) -> str:
        """As quoted before its speaker: '"It is late," says'; the comma is not spoken."""
        return self.text + ("," if self.end == "." else self.end)

    def spoken(self, first: bool) -> str:
        return self.text if first and self.end == "." else self.text + self.end


class _Builder:
    """Draws words from a seeded generator and collects the prompts."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.prompts: list[SuitePrompt] = []
        self._numbers: dict[str, int] = {}
        self._lines = {
            ".": list(STATEMENTS),
            "?": list(QUESTIONS),
            "!": list(EXCLAMATIONS),
        }
        self._line_pos = dict.fromkeys(self._lines, 0)
        for pool in self._lines.values():
            self.rng.shuffle(pool)

    # Words ------------------------------------------------------------------------------
    def colors(self, n: int, exclude: Iterable[str] = ()) -> list[str]:
        taken = set(exclude)
        return self.rng.sample([c for c in CHROMATIC if c not in taken], n)

    def counts(self, groups: int) -> list[int]:
        """Counts for `groups` groups, at most 6 objects in all."""
        while True:
            counts = [self.rng.choice((1, 1, 2, 2, 3, 4)) for _ in range(groups)]
            if sum(counts) <= 6:
                return counts

    def group(
        self,
        kind: str,
        color: str,
        count: int,
        *,
        material: str | None = None,
        motion: str | None = None,
        size: bool = False,
    ) -> _Group:
        noun = ""
        if material in ("stone", "ice", "wood") and kind == "box" and self.rng.random() < 0.6:
            noun = "block"
        return _Group(
            obj=ExpectedObject(kind, color, count, material, motion),
            noun=noun,
            material_word=self.rng.choice(MATERIAL_ADJECTIVES[material]) if material else None,
            size=self.rng.choice(SIZES) if size else None,
        )

    def np(self, g: _Group, *, initial: bool = False) -> str:
        """The noun phrase of a group: 'two small red rubber balls'."""
        count = g.obj.count
        noun = g.noun or g.obj.kind
        if count == 1:
            det = self.rng.choice(("a", "a", "a", "one", "a single"))
        else:
            noun = PLURALS.get(noun, noun + "s")
            r = self.rng.random()
            if count == 2 and r < 0.15:
                det = "a pair of"
            elif not initial and r < 0.4:
                det = str(count)
            else:
                det = NUMBER_NAMES[count]
        words = [det]
        if g.size:
            words.append(g.size)
        if g.color_word:
            words.append(g.obj.color)
        if g.material_word:
            words.append(g.material_word)
        words.append(noun)
        return _fix_articles(" ".join(words), initial)

    def verb(self, motion: str, plural: bool, setting: str | None = None) -> str:
        singular_form, plural_form = self.rng.choice(MOTION_PHRASES[motion])
        phrase = plural_form if plural else singular_form
        if setting in OUTDOOR:  # no floors or tables outside
            phrase = phrase.replace("the floor", "the ground").replace("the table", "the ground")
        elif setting is not None:
            phrase = phrase.replace("the ground", "the floor")
        return phrase

    def place(self, kind: str, synonym: bool = False) -> str:
        canonical, synonyms = PLACES[kind]
        return self.rng.choice(synonyms if synonym else canonical)

    def person(self, kind: str, shirt: str | None, article: str = "a") -> str:
        if shirt is None:
            return f"{article} {kind}"
        garments = GARMENTS + (("dress",) if kind in ("woman", "girl") else ())
        return _fix_articles(f"{article} {kind} in a {shirt} {self.rng.choice(garments)}")

    def line(self, end: str | None = None) -> _Line:
        if end is None:
            end = self.rng.choice((".", ".", "?", "!"))
        pool = self._lines[end]
        pos = self._line_pos[end]
        self._line_pos[end] = pos + 1
        if pos and pos % len(pool) == 0:
            self.rng.shuffle(pool)
        text = pool[pos % len(pool)]
        return _Line(text.rstrip(".?!"), end)

    def speech_verb(self, line: _Line, reply: bool = False) -> str:
        if line.end == "?":
            return "asks"
        if line.end == "!":
            return self.rng.choice(("shouts", "yells", "exclaims"))
        return self.rng.choice(("replies", "answers") if reply else ("says", "says", "whispers"))

    # Prompts ----------------------------------------------------------------------------
    def add(
        self,
        family: str,
        sentences: Sequence[str],
        groups: Sequence[_Group] = (),
        *,
        characters: int = 0,
        dialogue: Sequence[str] = (),
        setting: str | None = None,
        extra_tags: Iterable[str] = (),
    ) -> None:
        number = self._numbers.get(family, 0) + 1
        self._numbers[family] = number
        objects = tuple(g.obj for g in groups)
        tags = set(extra_tags)
        if objects:
            tags.add("objects")
        if any(g.color_word for g in groups):
            tags.add("colors")
        if any(o.count > 1 for o in objects):
            tags.add("counts")
        if any(g.material_word for g in groups):
            tags.add("materials")
        if any(o.motion for o in objects):
            tags.add("motions")
        if setting:
            tags.add("settings")
        if characters:
            tags.add("characters")
        if dialogue:
            tags.add("dialogue")
        _check_rules(objects, characters)
        self.prompts.append(
            SuitePrompt(
                id=f"{family}-{number:03d}",
                prompt=" ".join(sentences),
                tags=tuple(t for t in TAGS if t in tags),
                objects=objects,
                characters=characters,
                dialogue=tuple(dialogue),
                setting=setting,
            )
        )


def _fix_articles(phrase: str, initial: bool = False) -> str:
    words = phrase.split(" ")
    for i, word in enumerate(words[:-1]):
        if word in ("a", "an"):
            words[i] = "an" if words[i + 1][0] in "aeiou" else "a"
    out = " ".join(words)
    return out[0].upper() + out[1:] if initial else out


def _there(first_count: int) -> str:
    return "there is" if first_count == 1 else "there are"


def _sentence(*parts: str) -> str:
    text = " ".join(p for p in parts if p)
    return text[0].upper() + text[1:] + ("" if text.endswith((".", "!", "?", '"')) else ".")


def _check_rules(objects: Sequence[ExpectedObject], characters: int) -> None:
    colors = [o.color for o in objects]
    if len(objects) > 3 or len(set(colors)) != len(colors) or sum(o.count for o in objects) > 6:
        raise AssertionError(f"suite rules broken by {objects}")
    if characters > MAX_CHARACTERS:
        raise AssertionError(f"{characters} characters")


def _join(items: Sequence[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def _single_objects(b: _Builder) -> None:
    """One object, every kind: the simplest thing to get right."""
    colors = [c for _ in range(3) for c in b.rng.sample(CHROMATIC, len(CHROMATIC))]
    for i in range(20):
        kind = KINDS[i % len(KINDS)]
        motion = b.rng.choice((*MOTION_PHRASES, None))
        g = b.group(kind, colors[i], 1, motion=motion, size=b.rng.random() < 0.3)
        setting = b.rng.choice(CORE_SETTING_KINDS) if i % 3 == 0 else None
        where = b.place(setting) if setting else ""
        if motion is None:
            surface = "on the ground" if setting in OUTDOOR else "on the table"
            text = _sentence("there is", b.np(g), surface, where)
        else:
            text = _sentence(b.np(g, initial=True), b.verb(motion, False, setting), where)
        b.add("single", [text], [g], setting=setting)


def _object_groups(b: _Builder) -> None:
    """Counts 2..6 and two or three groups, with number words and digits."""
    for i in range(40):
        n_groups = 1 if i < 12 else (2 if i < 28 else 3)
        counts = [2 + i % 5] if n_groups == 1 else b.counts(n_groups)
        colors = b.colors(n_groups)
        kinds = [b.rng.choice(KINDS) for _ in range(n_groups)]
        style = b.rng.choice(("shared", "clauses", "sentences"))
        if n_groups == 1 or style == "shared":
            motion = b.rng.choice((*MOTION_PHRASES, None))
            groups = [
                b.group(k, c, n, motion=motion)
                for k, c, n in zip(kinds, colors, counts, strict=True)
            ]
            nps = [b.np(g, initial=j == 0) for j, g in enumerate(groups)]
            if motion is None:
                text = _sentence(
                    _there(counts[0]), _join([b.np(g) for g in groups]), "on the floor"
                )
            else:
                plural = len(groups) > 1 or counts[0] > 1
                text = _sentence(_join(nps), b.verb(motion, plural))
            b.add("counts", [text], groups)
            continue
        motions = b.rng.sample(list(MOTION_PHRASES), n_groups)
        groups = [
            b.group(k, c, n, motion=m)
            for k, c, n, m in zip(kinds, colors, counts, motions, strict=True)
        ]
        clauses = [
            f"{b.np(g, initial=j == 0 or style == 'sentences')} "
            f"{b.verb(g.obj.motion or 'fall', g.obj.count > 1)}"
            for j, g in enumerate(groups)
        ]
        if style == "sentences":
            sentences = [_sentence(c) for c in clauses]
        elif n_groups == 2:
            sentences = [_sentence(f"{clauses[0]} while {clauses[1]}")]
        else:
            sentences = [_sentence(f"{clauses[0]}, {clauses[1]} and {clauses[2]}")]
        b.add("counts", sentences, groups)


def _materials(b: _Builder) -> None:
    """Every material, alone and in pairs of groups."""
    for i in range(30):
        n_groups = 1 if i < 16 else 2
        materials = [MATERIALS[i % len(MATERIALS)]] if n_groups == 1 else b.rng.sample(MATERIALS, 2)
        colors = b.colors(n_groups)
        counts = [b.rng.randint(1, 4)] if n_groups == 1 else b.counts(2)
        motion = b.rng.choice((*MOTION_PHRASES, None))
        groups = [
            b.group(b.rng.choice(KINDS), c, n, material=m, motion=motion)
            for c, n, m in zip(colors, counts, materials, strict=True)
        ]
        setting = b.rng.choice(CORE_SETTING_KINDS) if i % 4 == 1 else None
        where = b.place(setting) if setting else ""
        if motion is None:
            surface = "on the ground" if setting in OUTDOOR else "on the floor"
            text = _sentence(_there(counts[0]), _join([b.np(g) for g in groups]), surface, where)
        else:
            plural = n_groups > 1 or counts[0] > 1
            nps = [b.np(g, initial=j == 0) for j, g in enumerate(groups)]
            text = _sentence(_join(nps), b.verb(motion, plural, setting), where)
        b.add("materials", [text], groups, setting=setting)


def _motions(b: _Builder) -> None:
    """Five prompts per motion; collisions need two groups."""
    for i in range(35):
        motion = MOTIONS[i % len(MOTIONS)]
        if motion == "collide":
            colors = b.colors(2)
            counts = [1, b.rng.choice((1, 1, 2))]
            kinds = [b.rng.choice(KINDS) for _ in range(2)]
            groups = [
                b.group(k, c, n, motion="collide")
                for k, c, n in zip(kinds, colors, counts, strict=True)
            ]
            if b.rng.random() < 0.4:
                verb = "collide" + b.rng.choice(("", " in midair", " and stop"))
                text = _sentence(f"{b.np(groups[0], initial=True)} and {b.np(groups[1])} {verb}")
            else:
                text = _sentence(
                    b.np(groups[0], initial=True), b.rng.choice(COLLISION_VERBS), b.np(groups[1])
                )
            b.add("motions", [text], groups)
            continue
        n_groups = b.rng.choice((1, 1, 2))
        counts = b.counts(n_groups)
        colors = b.colors(n_groups)
        groups = [
            b.group(b.rng.choice(KINDS), c, n, motion=motion)
            for c, n in zip(colors, counts, strict=True)
        ]
        nps = [b.np(g, initial=j == 0) for j, g in enumerate(groups)]
        plural = n_groups > 1 or counts[0] > 1
        b.add("motions", [_sentence(_join(nps), b.verb(motion, plural))], groups)


def _settings(b: _Builder) -> None:
    """Every setting kind by its own name and by synonyms."""
    plan = [(k, False) for k in CORE_SETTING_KINDS for _ in range(2)]
    plan += [(k, True) for k in CORE_SETTING_KINDS]
    plan += [("room", True), ("warehouse", True), ("park", True), ("gym", True), ("street", True)]
    for kind, synonym in plan:
        n_groups = b.rng.choice((1, 2))
        counts = b.counts(n_groups)
        colors = b.colors(n_groups)
        motion = b.rng.choice(("fall", "bounce", "roll", "slide", "rest"))
        groups = [
            b.group(b.rng.choice(KINDS), c, n, motion=motion)
            for c, n in zip(colors, counts, strict=True)
        ]
        where = b.place(kind, synonym)
        plural = n_groups > 1 or counts[0] > 1
        verb = b.verb(motion, plural, kind)
        if b.rng.random() < 0.5:
            text = _sentence(
                _join([b.np(g, initial=j == 0) for j, g in enumerate(groups)]), verb, where
            )
        else:
            text = _sentence(f"{where}, {_join([b.np(g) for g in groups])} {verb}")
        b.add("settings", [text], groups, setting=kind)


def _atmosphere(b: _Builder) -> None:
    """Lighting, weather and camera moves around simple object scenes."""
    for i in range(30):
        aspect = ("lighting", "weather", "camera")[i % 3]
        n_groups = b.rng.choice((1, 2))
        counts = b.counts(n_groups)
        colors = b.colors(n_groups)
        motion = b.rng.choice(list(MOTION_PHRASES))
        groups = [
            b.group(b.rng.choice(KINDS), c, n, motion=motion)
            for c, n in zip(colors, counts, strict=True)
        ]
        tags = [aspect]
        light = b.rng.choice(LIGHTING) if aspect == "lighting" else ""
        weather = b.rng.choice(WEATHER) if aspect == "weather" else ""
        camera = b.rng.choice(CAMERA) if aspect == "camera" else ""
        if aspect == "camera" and b.rng.random() < 0.4:
            light = b.rng.choice(LIGHTING)
            tags.append("lighting")
        if aspect != "weather" and b.rng.random() < 0.25:
            weather = b.rng.choice(WEATHER)
            tags.append("weather")
        if weather and light:  # one time of day: not "at night on a rainy day"
            if light in ("on a sunny afternoon", "in bright daylight"):
                light = "in the afternoon"
            if weather.endswith(" day"):
                weather = weather.replace("on a ", "in ", 1).replace(" day", " weather")
        # Rain and snow fall outside.
        places = OUTDOOR if weather else CORE_SETTING_KINDS
        setting = b.rng.choice(places) if b.rng.random() < 0.5 else None
        where = b.place(setting) if setting else ""
        plural = n_groups > 1 or counts[0] > 1
        nps = _join([b.np(g, initial=j == 0) for j, g in enumerate(groups)])
        sentences = [_sentence(nps, b.verb(motion, plural, setting), where, light, weather)]
        if camera:
            sentences.append(camera)
        b.add("scene", sentences, groups, setting=setting, extra_tags=tags)


def _characters(b: _Builder) -> None:
    """People among objects, without dialogue."""
    people_kinds = ("man", "woman", "boy", "girl")
    for i in range(16):
        n_people = 1 if i < 10 else 2
        kinds = b.rng.sample(people_kinds, n_people)
        n_groups = b.rng.choice((1, 1, 2))
        counts = b.counts(n_groups)
        colors = b.colors(n_groups)
        shirts = b.rng.sample([c for c in SHIRT_COLORS if c not in colors], n_people)
        described = [b.rng.random() < 0.6 for _ in kinds]
        people = [
            b.person(k, s if d else None) for k, s, d in zip(kinds, shirts, described, strict=True)
        ]
        who = _join(people)
        setting = b.rng.choice(CORE_SETTING_KINDS) if i % 3 == 0 else None
        template = b.rng.choice(("throws", "watches", "past", "beside"))
        if template == "throws" and n_people == 1:
            groups = [
                b.group(b.rng.choice(KINDS), c, n, motion="throw")
                for c, n in zip(colors, counts, strict=True)
            ]
            verb = b.rng.choice(("throws", "tosses"))
            text = _sentence(who, verb, _join([b.np(g) for g in groups]), "into the air")
        elif template in ("throws", "watches"):
            motion = b.rng.choice(("fall", "bounce", "roll", "slide"))
            groups = [
                b.group(b.rng.choice(KINDS), c, n, motion=motion)
                for c, n in zip(colors, counts, strict=True)
            ]
            plural_verb = b.verb(motion, True, setting)
            watch = "watch" if n_people > 1 else "watches"
            text = _sentence(who, watch, _join([b.np(g) for g in groups]), plural_verb)
        elif template == "past":
            motion = b.rng.choice(("roll", "slide", "bounce"))
            groups = [
                b.group(b.rng.choice(KINDS), c, n, motion=motion)
                for c, n in zip(colors, counts, strict=True)
            ]
            plural = n_groups > 1 or counts[0] > 1
            verb = {
                "roll": ("rolls", "roll"),
                "slide": ("slides", "slide"),
                "bounce": ("bounces", "bounce"),
            }[motion][plural]
            nps = _join([b.np(g, initial=j == 0) for j, g in enumerate(groups)])
            text = _sentence(nps, verb, "past", who)
        else:
            groups = [
                b.group(b.rng.choice(KINDS), c, n) for c, n in zip(colors, counts, strict=True)
            ]
            stand = "stand" if n_people > 1 else "stands"
            text = _sentence(who, stand, "next to", _join([b.np(g) for g in groups]))
        if setting:
            text = text[:-1] + " " + b.place(setting) + "."
        b.add("people", [text], groups, characters=n_people, setting=setting)


def _dialogue(b: _Builder) -> None:
    """Quoted lines attributed before and after their speakers, replies, and scenes."""
    people_kinds = ("man", "woman", "boy", "girl")
    shapes = ["one"] * 14 + ["two"] * 16 + ["three"] * 6 + ["pair"] * 4 + ["twice"] * 5
    for i, shape in enumerate(shapes):
        with_objects = i % 3 != 2
        n_people = 2 if shape in ("two", "three", "pair") else 1
        groups: list[_Group] = []
        scene: list[str] = []
        colors: list[str] = []
        setting = b.rng.choice(CORE_SETTING_KINDS) if b.rng.random() < 0.4 else None
        if with_objects:
            n_groups = b.rng.choice((1, 1, 2))
            counts = b.counts(n_groups)
            colors = b.colors(n_groups)
            motion = b.rng.choice(list(MOTION_PHRASES))
            groups = [
                b.group(b.rng.choice(KINDS), c, n, motion=motion)
                for c, n in zip(colors, counts, strict=True)
            ]
            plural = n_groups > 1 or counts[0] > 1
            nps = _join([b.np(g, initial=j == 0) for j, g in enumerate(groups)])
            scene.append(_sentence(nps, b.verb(motion, plural, setting)))
        shirts = b.rng.sample([c for c in SHIRT_COLORS if c not in colors], 2)
        spoken: list[str] = []
        said: list[str] = []
        if shape == "pair":
            kind = b.rng.choice(("man", "woman"))
            plural_kind = "men" if kind == "man" else "women"
            where = f" {b.place(setting)}" if setting else ""
            verb = b.rng.choice(("stand", "talk", "wait"))
            said.append(_sentence(f"two {plural_kind} {verb}{where}"))
            first, second = b.line(), b.line()
            said.append(f'One {b.speech_verb(first)}, "{first.quoted_before()}"')
            said.append(
                f'The other {b.speech_verb(second, reply=True)}, "{second.quoted_before()}"'
            )
            spoken = [first.spoken(False), second.spoken(False)]
            b.add(
                "dialogue", [*scene, *said], groups, characters=2, dialogue=spoken, setting=setting
            )
            continue
        kinds = b.rng.sample(people_kinds, n_people)
        lines = [b.line() for _ in range({"one": 1, "twice": 2, "two": 2, "three": 3}[shape])]
        speakers = [0, 1, 0][: len(lines)] if n_people == 2 else [0] * len(lines)
        introduced: set[int] = set()
        for k, (line, who) in enumerate(zip(lines, speakers, strict=True)):
            if shape == "twice" and k == 1:
                pronoun = "he" if kinds[0] in ("man", "boy") else "she"
                verb = "adds" if line.end == "." else b.speech_verb(line)
                said.append(f'Then {pronoun} {verb}, "{line.quoted_before()}"')
                spoken.append(line.spoken(False))
                continue
            verb = b.speech_verb(line, reply=k > 0 and who != speakers[k - 1])
            if k > 1 and line.end == ".":
                verb = "adds"
            if who in introduced:
                person = f"the {kinds[who]}"
            else:
                described = b.rng.random() < 0.5
                person = b.person(kinds[who], shirts[who] if described else None)
                introduced.add(who)
            if b.rng.random() < 0.5:
                said.append(f'{_cap(person)} {verb}, "{line.quoted_before()}"')
                spoken.append(line.spoken(False))
            else:
                said.append(f'"{line.quoted_first()}" {verb} {person}.')
                spoken.append(line.spoken(True))
        if setting and scene:
            scene[-1] = f"{scene[-1][:-1]} {b.place(setting)}."
        elif setting and said[0].startswith('"'):
            said[0] = f"{said[0][:-1]} {b.place(setting)}."
        elif setting:
            said[0] = f"{_cap(b.place(setting))}, {said[0][0].lower()}{said[0][1:]}"
        b.add(
            "dialogue",
            [*scene, *said],
            groups,
            characters=n_people,
            dialogue=spoken,
            setting=setting,
        )


def _cap(text: str) -> str:
    return text[0].upper() + text[1:]


# Nouns whose kind (and colour, unless the prompt says one) come from the vocabulary's
# concepts, and a few the vocabulary lacks that the sentence embeddings map onto one.
_CONCEPT_PROMPTS: tuple[
    tuple[str, tuple[tuple[str, str | None, int], ...], str, str | None], ...
] = (
    ("A basketball bounces across the gym floor.", (("basketball", None, 1),), "bounce", "gym"),
    (
        "Two wooden crates slide across the warehouse floor.",
        (("crate", None, 2),),
        "slide",
        "warehouse",
    ),
    ("A can rolls across the kitchen floor.", (("can", None, 1),), "roll", "kitchen"),
    ("Three bricks fall onto the street.", (("brick", None, 3),), "fall", "street"),
    ("Four marbles roll across the floor.", (("marble", None, 4),), "roll", None),
    ("A tennis ball bounces in the park.", (("tennis ball", None, 1),), "bounce", "park"),
    ("A beach ball rolls along the sand.", (("beach ball", None, 1),), "roll", None),
    ("Two green bottles fall off the table.", (("bottle", "green", 2),), "fall", None),
    ("A wooden barrel rolls down the street.", (("barrel", None, 1),), "roll", "street"),
    (
        "A pumpkin and two purple cubes rest on the floor.",
        (("pumpkin", None, 1), ("cube", "purple", 2)),
        "rest",
        None,
    ),
    (
        "A pink gift sits on the table next to a blue book.",
        (("gift", "pink", 1), ("book", "blue", 1)),
        "rest",
        None,
    ),
    ("Two yellow rulers slide across the table.", (("ruler", "yellow", 2),), "slide", None),
    ("An orange cone falls over in the street.", (("cone", "orange", 1),), "fall", "street"),
    ("A log rolls through the forest.", (("log", None, 1),), "roll", "forest"),
    (
        "A red sphere crashes into a blue pyramid.",
        (("sphere", "red", 1), ("pyramid", "blue", 1)),
        "collide",
        None,
    ),
    ("A green watermelon rolls across the floor.", (("watermelon", "green", 1),), "roll", None),
    (
        "A purple toolbox falls onto the floor of a garage.",
        (("toolbox", "purple", 1),),
        "fall",
        "warehouse",
    ),
    ("Two cyan tubes roll across the floor.", (("tube", "cyan", 2),), "roll", None),
)
# What the sentence embeddings map nouns outside the vocabulary onto.
_EMBEDDED_NOUNS = {"watermelon": "melon", "toolbox": "box", "tube": "cylinder"}


def _concepts(b: _Builder) -> None:
    """Nouns that imply a kind (and often a colour and material)."""
    for text, items, motion, setting in _CONCEPT_PROMPTS:
        groups = []
        for noun, color, count in items:
            concept = OBJECT_NOUNS[_EMBEDDED_NOUNS.get(noun, noun)]
            material = concept.material
            final_color = color or concept.color
            if final_color is None:
                raise AssertionError(f"{noun} needs a colour")
            groups.append(
                _Group(
                    obj=ExpectedObject(concept.kind, final_color, count, material, motion),
                    noun=noun,
                    color_word=color is not None,
                )
            )
        b.add("concepts", [text], groups, setting=setting, extra_tags=["unknown-nouns"])


def build_core_suite() -> list[SuitePrompt]:
    """The core suite, generated deterministically (see the module docstring)."""
    b = _Builder(CORE_SEED)
    _single_objects(b)
    _object_groups(b)
    _materials(b)
    _motions(b)
    _settings(b)
    _atmosphere(b)
    _characters(b)
    _dialogue(b)
    _concepts(b)
    return b.prompts


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    path = Path(args[0]) if args else default_suite_path()
    prompts = build_core_suite()
    write_suite(prompts, path)
    print(f"wrote {len(prompts)} prompts to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
