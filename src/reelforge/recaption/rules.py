"""Rule-based recaptioning: read what the prompt says, fill what it leaves open.

The prompt is split into sentences; quoted dialogue is lifted out first so that words
inside a line ("the ball is red") never become scene objects. Noun phrases are read as
[count] [adjectives] noun; adjectives give colour, material and size. Nouns the sim does
not know go to `concepts.ConceptIndex` for the nearest known concept. Everything the
prompt does not fix is drawn from a generator seeded by the request's seed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal, TypeVar

import numpy as np

from reelforge.recaption.concepts import Match
from reelforge.recaption.things import ThingReader
from reelforge.recaption.vocabulary import (
    AMBIENCE_WORDS,
    CAMERA_PHRASES,
    CHARACTER_NOUNS,
    CLOTHING_WORDS,
    COLOR_ALIASES,
    COLORS,
    DEFAULT_MATERIALS,
    FIRST_NAMES_FEMALE,
    FIRST_NAMES_MALE,
    FLOOR_WORDS,
    HAIR_COLORS,
    HAIR_WORDS,
    LOCATIVES,
    MATERIAL_COLORS,
    MATERIAL_WORDS,
    MOTION_WORDS,
    NATURAL_HAIR,
    NUMBER_WORDS,
    OBJECT_NOUNS,
    PLACE_WORDS,
    PLAIN_SHAPE_NOUNS,
    RAMP_WORDS,
    SETTING_IMPLIED_BY,
    SETTING_NOUNS,
    SHIRT_COLORS,
    SIZE_WORDS,
    SKIN_TONES,
    SPEECH_VERBS,
    STOPWORDS,
    TIME_WORDS,
    VERB_HINTS,
    WEATHER_WORDS,
    ObjectConcept,
    SettingConcept,
)
from reelforge.types import (
    Appearance,
    CharacterKind,
    CharacterSpec,
    HairStyle,
    Line,
    Material,
    Motion,
    ObjectSpec,
    ScenePlan,
    SettingSpec,
    SizeClass,
    SoundSpec,
    TimelineEntry,
    Voice,
)

T = TypeVar("T")
MAX_OBJECTS = 12
MAX_CHARACTERS = 2
SPEECH_WORDS_PER_S = 2.7  # typical espeak-ng rate at 165 wpm, for planning line starts
# Dialogue is fitted to the clip at planning, at the fastest real pace of the sim's voices:
# espeak-ng at 180 wpm says short plain words at about 4.5 words and 20 characters a
# second. What cannot be said within the clip even at that pace is cut, with a note, so
# neither the content policy nor the speech synthesiser ever works on it (issue 21: a
# 32,000-character line took 14 GB and minutes of a worker for a 4 s clip).
MAX_SPEECH_WORDS_PER_S = 4.5
MAX_SPEECH_CHARS_PER_S = 20.0
FIRST_LINE_S = 0.5  # the first line starts here
LINE_PAUSE_S = 0.3  # the shortest pause between lines (the sim's LINE_GAP_S)

# How far a match must beat the nearest undrawable anchor (see concepts.py). Places are
# described less distinctly than objects, so they get a little slack.
MIN_MARGIN = {"object": 0.0, "setting": -0.05}
QUOTE_RE = re.compile(r"\"([^\"]+)\"|“([^”]+)”|(?:(?<=\s)|(?<=^)|(?<=:))'([^']+?)'(?=[\s.,!?;:]|$)")
WORD_RE = re.compile(r"QUOTE\d+|[A-Za-z][A-Za-z'\-]*|\d+")  # placeholders stay whole
SENTENCE_RE = re.compile(r"(?<=[.!?;])\s+")


@dataclass
class _ObjectMention:
    concept: ObjectConcept
    noun: str
    count: int | None
    color: str | None
    material: Material | None
    size: SizeClass | None
    sentence: int
    position: int  # word index within the sentence
    matched_by: Match | None = None


@dataclass
class _CharacterMention:
    kind: CharacterKind
    name: str | None
    sentence: int
    position: int
    shirt_color: str | None = None
    hair_color: tuple[int, int, int] | None = None
    hair_style: HairStyle | None = None
    lines: list[tuple[int, str]] = field(default_factory=list)  # (quote number, text)


def _by_reference(
    characters: list[_CharacterMention], words: list[str]
) -> _CharacterMention | None:
    """The character that the first character noun or name among `words` refers to."""
    for word in words:
        named = next((c for c in characters if c.name and c.name == word), None)
        if named:
            return named
        kind = CHARACTER_NOUNS.get(word.lower())
        if kind:
            return next((c for c in characters if c.kind == kind), None)
    return None


def speaking_s(text: str) -> float:
    """Seconds `text` takes at least, at the fastest pace a voice of the sim speaks."""
    return max(len(text.split()) / MAX_SPEECH_WORDS_PER_S, len(text) / MAX_SPEECH_CHARS_PER_S)


def fit_dialogue(lines: list[str], seconds: float) -> tuple[list[str], str | None]:
    """The lines, in the order they are spoken, that a `seconds`-long clip can hold, and
    a note saying what was cut (None: nothing was).

    Lines start at FIRST_LINE_S with LINE_PAUSE_S between them and take `speaking_s`
    each. Whole lines are kept while they fit; the first that does not is shortened at a
    word boundary to what fits (left out if not even its first word does); the rest are
    cut."""
    kept: list[str] = []
    free_s = seconds - FIRST_LINE_S
    for index, line in enumerate(lines):
        if speaking_s(line) <= free_s:
            kept.append(line)
            free_s -= speaking_s(line) + LINE_PAUSE_S
            continue
        shortened = _fitting_prefix(line, free_s)
        if shortened:
            kept.append(shortened)
        cut_words = sum(len(rest.split()) for rest in lines[index:]) - len(shortened.split())
        total_words = sum(len(text.split()) for text in lines)
        first_cut = line[len(shortened) :].lstrip(" ,;:")
        preview = " ".join(first_cut.split()[:6])[:40]
        note = (
            f"dialogue cut to what a {seconds:g} s clip can hold (at most "
            f"{MAX_SPEECH_WORDS_PER_S:g} words a second): {total_words - cut_words} of "
            f"{total_words} words kept, {len(lines) - index} of {len(lines)} lines cut "
            f'or shortened, from "{preview}..."'
        )
        return kept, note
    return kept, None


def _fitting_prefix(line: str, free_s: float) -> str:
    """The longest start of `line` that ends at a word boundary and is said in `free_s`."""
    # No start longer than `longest` can fit: only words that end within it are candidates.
    longest = max(0, int(free_s * MAX_SPEECH_CHARS_PER_S))
    window = line[: longest + 1]
    words = [w for w in re.finditer(r"\S+", window) if w.end() <= longest or window == line]
    low, high = 0, len(words)  # the number of words that fit: binary search
    while low < high:
        middle = (low + high + 1) // 2
        if speaking_s(line[: words[middle - 1].end()]) <= free_s:
            low = middle
        else:
            high = middle - 1
    return line[: words[low - 1].end()].rstrip(",;:") if low else ""


def fit_plan_dialogue(plan: ScenePlan, seconds: float) -> ScenePlan:
    """`plan` (made elsewhere: an endpoint, a remix's source) with its dialogue cut by
    `fit_dialogue` to a `seconds`-long clip, in the order its lines start; the note is
    added to its notes. The same plan when nothing is cut."""
    ordered = sorted(
        (
            (line.start_s, c, n)
            for c, character in enumerate(plan.characters)
            for n, line in enumerate(character.lines)
        ),
        key=lambda item: item[0],
    )
    texts = [plan.characters[c].lines[n].text for _, c, n in ordered]
    kept, note = fit_dialogue(texts, seconds)
    if note is None:
        return plan
    fitted = plan.model_copy(deep=True)
    keep: dict[tuple[int, int], str] = {
        (c, n): text for (_, c, n), text in zip(ordered, kept, strict=False)
    }
    for c, character in enumerate(fitted.characters):
        character.lines = [
            line.model_copy(update={"text": keep[(c, n)]})
            for n, line in enumerate(character.lines)
            if (c, n) in keep
        ]
    fitted.timeline = RulePlanner.timeline(fitted)
    fitted.notes.append(note)
    return fitted


def singular(word: str) -> str:
    if word in OBJECT_NOUNS or word in SETTING_NOUNS or word in CHARACTER_NOUNS:
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses", "oes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def color_name(word: str) -> str | None:
    word = word.removesuffix("ish")
    if word in COLORS:
        return word
    return COLOR_ALIASES.get(word)


class RulePlanner:
    """Turns a prompt into a ScenePlan. `nearest` maps unknown nouns (None: skip them)."""

    def __init__(
        self,
        nearest: Callable[[str, Literal["object", "setting"]], Match] | None,
        min_similarity: float = 0.4,
        things: ThingReader | None = None,
    ):
        self.nearest = nearest
        self.min_similarity = min_similarity
        # With the asset library: nouns that are not the classic shapes become things;
        # without it, they map onto the nearest shape or are left out.
        self.things = things
        self._setting_stated = False
        self._setting_word: str | None = None  # an unknown place word read as the setting

    # 1. Entry point ------------------------------------------------------------------
    def plan(self, prompt: str, seed: int, seconds: float | None = None) -> ScenePlan:
        """The plan of `prompt`; with `seconds`, its dialogue is cut to what a clip of
        that length can hold (`fit_dialogue`). None: no clip, nothing cut."""
        rng = np.random.default_rng(seed)
        self._setting_word = None
        notes: list[str] = []
        text, quotes = self._lift_quotes(prompt)
        if seconds is not None:  # before attribution: cut lines are never read further
            quotes, cut_note = fit_dialogue(quotes, seconds)
            if cut_note:
                notes.append(cut_note)
        sentences = [s for s in SENTENCE_RE.split(text) if s.strip()]
        words = [[w for w in WORD_RE.findall(s)] for s in sentences]
        lower = " ".join(text.lower().split())

        setting = self._setting(words, lower, rng, notes)
        characters = self._characters(words, quotes, notes)
        objects = self._objects(words, notes)
        ramp = any(w in lower for w in RAMP_WORDS)
        setting.ramp = ramp

        plan = ScenePlan(prompt=prompt, setting=setting)
        plan.lighting.time_of_day = self._pick(lower, TIME_WORDS, "day")
        key_lights: tuple[Literal["left", "right", "top"], ...] = ("left", "right", "top")
        plan.lighting.key_from = key_lights[int(rng.integers(3))]
        plan.camera.motion = self._pick(lower, CAMERA_PHRASES, "static")
        plan.objects = self._fill_objects(objects, words, rng, notes)
        plan.characters = self._fill_characters(characters, rng, {o.color for o in plan.objects})
        if self.things is not None:
            self._read_things(plan, words, objects, characters, notes)
        plan.sound = self._sound(plan, lower)
        plan.timeline = self.timeline(plan)
        plan.notes = notes  # pydantic copied the list at construction; notes grew since
        return plan

    # 2. Dialogue -------------------------------------------------------------------
    @staticmethod
    def _lift_quotes(prompt: str) -> tuple[str, list[str]]:
        quotes: list[str] = []

        def replace(match: re.Match[str]) -> str:
            spoken = next(g for g in match.groups() if g is not None).strip()
            quotes.append(spoken.rstrip(",;"))
            # A line that ends a sentence ("Only a little.") ends the prompt's sentence too.
            end = ". " if spoken.endswith((".", "!", "?")) else " "
            return f" QUOTE{len(quotes) - 1}{end}"

        return QUOTE_RE.sub(replace, prompt), quotes

    # 3. Setting ---------------------------------------------------------------------
    def _setting(
        self, words: list[list[str]], lower: str, rng: np.random.Generator, notes: list[str]
    ) -> SettingSpec:
        concept: SettingConcept | None = None
        self._setting_word = None
        for noun in sorted(SETTING_NOUNS, key=len, reverse=True):  # "living room" before "room"
            if re.search(rf"\b{re.escape(noun)}s?\b", lower):
                concept = SETTING_NOUNS[noun]
                break
        if concept is None:
            for candidate in self._unknown_nouns(words, locative=True):
                if self.things is not None and self.things.matcher.match_by_name(candidate):
                    continue  # "at a castle": a thing with a drawing, not a kind of place
                match = self._match(candidate, "setting")
                if match is not None and isinstance(match.concept, SettingConcept):
                    concept = match.concept
                    self._setting_word = candidate
                    notes.append(
                        f"setting '{candidate}' drawn as '{concept.noun}' "
                        f"(similarity {match.similarity:.2f})"
                    )
                    break
        self._setting_stated = concept is not None
        if concept is None:
            concept = SETTING_NOUNS[("room", "studio", "gym", "park")[int(rng.integers(4))]]
        spec = SettingSpec(
            kind=concept.kind, description=concept.noun, floor=concept.floor, indoor=concept.indoor
        )
        for phrase in sorted(FLOOR_WORDS, key=len, reverse=True):
            if re.search(rf"\b{re.escape(phrase)}\b", lower):
                spec.floor = FLOOR_WORDS[phrase]
                break
        spec.weather = self._pick(lower, WEATHER_WORDS, "clear")
        if spec.weather in ("rain", "snow") and spec.indoor:
            notes.append(
                f"{spec.weather} is heard and seen through the windows of the {concept.noun}"
            )
        return spec

    # 4. Characters ------------------------------------------------------------------
    def _characters(
        self, words: list[list[str]], quotes: list[str], notes: list[str]
    ) -> list[_CharacterMention]:
        mentions: list[_CharacterMention] = []
        for s, sentence in enumerate(words):
            for i, word in enumerate(sentence):
                low = word.lower().removesuffix("'s")  # "a boy's hand" is a boy too
                kind = CHARACTER_NOUNS.get(low)
                name = None
                if (
                    kind is None
                    and word[0].isupper()
                    and i + 1 < len(sentence)
                    and (
                        sentence[i + 1].lower() in SPEECH_VERBS
                        or (
                            sentence[i + 1].lower() == "and"
                            and i + 2 < len(sentence)
                            and sentence[i + 2][0].isupper()
                        )
                        or (
                            i > 0
                            and sentence[i - 1].lower() == "and"
                            and sentence[i - 1 - 1][0].isupper()
                            if i > 1
                            else False
                        )
                    )
                    and low not in NUMBER_WORDS
                    and low not in STOPWORDS
                    and not low.startswith("quote")
                ):
                    kind, name = "person", word
                if kind is None:
                    continue
                count = self._count_before(sentence, i) or 1
                if low in ("people", "friends", "men", "women") and count == 1:
                    count = 2
                for _ in range(count):
                    mention = _CharacterMention(kind=kind, name=name, sentence=s, position=i)
                    self._describe(mention, sentence, i)
                    mentions.append(mention)
        # The same person is often mentioned twice ("a man ... the man says"): merge
        # definite re-mentions into the first of their kind.
        merged: list[_CharacterMention] = []
        for mention in mentions:
            prior = next(
                (
                    m
                    for m in merged
                    if m.kind == mention.kind and (mention.name is None or m.name == mention.name)
                ),
                None,
            )
            words_before = words[mention.sentence][max(0, mention.position - 2) : mention.position]
            definite = any(w.lower() in ("the", "this", "that") for w in words_before)
            if prior is not None and (definite or (mention.name and prior.name == mention.name)):
                continue
            merged.append(mention)
        if len(merged) > MAX_CHARACTERS:
            notes.append(
                f"prompt has {len(merged)} characters; the sim draws at most "
                f"{MAX_CHARACTERS}, so the first {MAX_CHARACTERS} are kept"
            )
            merged = merged[:MAX_CHARACTERS]
        self._attribute_lines(merged, words, quotes)
        return merged

    @staticmethod
    def _describe(mention: _CharacterMention, sentence: list[str], i: int) -> None:
        window = [w.lower() for w in sentence[max(0, i - 4) : i + 8]]
        for j, word in enumerate(window):
            if word in HAIR_COLORS:
                mention.hair_color = HAIR_COLORS[word]
            if word in HAIR_WORDS and (
                (j + 1 < len(window) and window[j + 1] in ("hair", "haired"))
                or word in ("bald", "bun", "ponytail")
            ):
                mention.hair_style = HAIR_WORDS[word]
            if word in CLOTHING_WORDS and j > 0:
                for back in window[max(0, j - 3) : j]:
                    if color_name(back):
                        mention.shirt_color = color_name(back)

    @staticmethod
    def _attribute_lines(
        characters: list[_CharacterMention], words: list[list[str]], quotes: list[str]
    ) -> None:
        for q, text in enumerate(quotes):
            token = f"QUOTE{q}"
            speaker: _CharacterMention | None = None
            for s, sentence in enumerate(words):
                if token not in sentence:
                    continue
                qpos = sentence.index(token)
                # '"Hi," says the man': a speech verb right after the line names its speaker.
                following = [w.lower() for w in sentence[qpos + 1 : qpos + 5]]
                if following and following[0] in SPEECH_VERBS:
                    speaker = _by_reference(characters, sentence[qpos + 2 : qpos + 5])
                if speaker is None:
                    # 'The man says "hi"': the nearest character before the line.
                    in_sentence = [c for c in characters if c.sentence == s]
                    before = [c for c in in_sentence if c.position < qpos]
                    after = [c for c in in_sentence if c.position > qpos]
                    if before:
                        speaker = max(before, key=lambda c: c.position)
                    elif after:
                        speaker = min(after, key=lambda c: c.position)
                if speaker is None:  # a re-mention merged away ("the man says") resolves by kind
                    speaker = _by_reference(characters, sentence[:qpos][::-1])
            if speaker is None and characters:
                # Unattributed lines alternate between the characters, in order.
                speaker = characters[q % len(characters)]
            if speaker is None:
                speaker = _CharacterMention(kind="person", name=None, sentence=0, position=0)
                characters.append(speaker)
            speaker.lines.append((q, text))

    # 5. Objects ---------------------------------------------------------------------
    def _objects(self, words: list[list[str]], notes: list[str]) -> list[_ObjectMention]:
        mentions: list[_ObjectMention] = []
        for s, sentence in enumerate(words):
            lows = [w.lower() for w in sentence]
            i = 0
            while i < len(lows):
                two = f"{lows[i]} {singular(lows[i + 1])}" if i + 1 < len(lows) else ""
                three = (
                    f"{lows[i]} {lows[i + 1]} {singular(lows[i + 2])}" if i + 2 < len(lows) else ""
                )
                noun, width = None, 1
                if three in OBJECT_NOUNS:
                    noun, width = three, 3
                elif two in OBJECT_NOUNS:
                    noun, width = two, 2
                elif (
                    singular(lows[i]) in OBJECT_NOUNS
                    and not self._is_attribute(lows, i)
                    and not self._named_compound(lows, i)
                ):
                    noun = singular(lows[i])
                if noun is not None:
                    mentions.append(self._object_mention(OBJECT_NOUNS[noun], noun, lows, s, i))
                    i += width
                    continue
                i += 1
        if self.things is not None:
            mentions.sort(key=lambda m: (m.sentence, m.position))
            return mentions  # unknown nouns are the thing reader's (_read_things)
        # Unknown nouns: the nearest known concept, when it is near enough.
        known_positions = {(m.sentence, m.position) for m in mentions}
        for s, sentence in enumerate(words):
            lows = [w.lower() for w in sentence]
            for i, head, locative in self._unknown_heads(lows):
                if (s, i) in known_positions or locative:
                    continue
                match = self._match(head, "object")
                if match is None or not isinstance(match.concept, ObjectConcept):
                    if match is not None or self.nearest is not None:
                        notes.append(f"'{head}' is not something the sim can draw; left out")
                    continue
                mention = self._object_mention(match.concept, head, lows, s, i)
                mention.matched_by = match
                notes.append(
                    f"'{head}' drawn as a {match.concept.noun} (similarity {match.similarity:.2f})"
                )
                mentions.append(mention)
        mentions.sort(key=lambda m: (m.sentence, m.position))
        return mentions

    def _read_things(
        self,
        plan: ScenePlan,
        words: list[list[str]],
        objects: list[_ObjectMention],
        characters: list[_CharacterMention],
        notes: list[str],
    ) -> None:
        assert self.things is not None
        taken = {(m.sentence, m.position + k) for m in objects for k in range(len(m.noun.split()))}
        people = [
            (m.sentence, m.position, words[m.sentence][m.position], spec.name)
            for m, spec in zip(characters, plan.characters, strict=False)
        ]
        taken |= {(s, i) for s, i, _, _ in people}
        if self._setting_word is not None:  # "in a library": the place, not a thing in it
            taken |= {
                (s, i)
                for s, sentence in enumerate(words)
                for i, word in enumerate(sentence)
                if singular(word.lower()) == self._setting_word
            }
        read = self.things.read(words, taken, people)
        plan.things = read.things
        implied = next(
            (SETTING_IMPLIED_BY[t.asset] for t in plan.things if t.asset in SETTING_IMPLIED_BY),
            None,
        )
        if implied is not None and not self._setting_stated:
            concept = SETTING_NOUNS[implied]
            weather = plan.setting.weather
            plan.setting = SettingSpec(
                kind=concept.kind,
                description=concept.noun,
                floor=concept.floor,
                indoor=concept.indoor,
                weather=weather,
                ramp=plan.setting.ramp,
            )
            plan.sound = self._sound(plan, " ".join(plan.prompt.lower().split()))
        notes.extend(read.notes)
        plan.left_out = read.left_out
        for character in plan.characters:
            character.action = read.character_actions.get(character.name, "idle")

    def _named_compound(self, lows: list[str], i: int) -> bool:
        """The object noun ends a compound that the asset library names: "trash can",
        "crystal ball", "american football" are drawn as those, not as a can or a ball."""
        if self.things is None or i == 0 or not lows[i - 1].isalpha():
            return False
        return self.things.matcher.match_by_name(f"{lows[i - 1]} {lows[i]}") is not None

    def _is_attribute(self, lows: list[str], i: int) -> bool:
        """A noun used as a modifier, not a thing in the scene: 'marble floor', 'glass ball',
        'orange capsule', 'orange shirt', 'basketball court', 'orange butterfly'."""
        if i + 1 >= len(lows):
            return False
        following = lows[i + 1]
        if following in SETTING_NOUNS or following in PLACE_WORDS:
            return True  # a basketball court, a marble hallway
        if not (lows[i] in MATERIAL_WORDS or color_name(lows[i])):
            return False
        return (
            singular(following) in OBJECT_NOUNS
            or following in MATERIAL_WORDS
            or following in SIZE_WORDS
            or color_name(following) is not None
            or following in CLOTHING_WORDS
            or following in ("hair", "haired", "floor", "ground", "table", "wall")
            or (  # a colour before a thing the library names: "an orange butterfly"
                color_name(lows[i]) is not None
                and lows[i] not in MATERIAL_WORDS
                and self.things is not None
                and self.things.matcher.match_by_name(singular(following)) is not None
            )
        )

    def _object_mention(
        self, concept: ObjectConcept, noun: str, lows: list[str], s: int, i: int
    ) -> _ObjectMention:
        color: str | None = None
        material: Material | None = None
        size: SizeClass | None = None
        count: int | None = None
        j = i - 1
        while j >= 0:
            word = lows[j]
            if color_name(word):
                color = color or color_name(word)
            elif word in MATERIAL_WORDS:
                material = material or MATERIAL_WORDS[word]
            elif word in SIZE_WORDS:
                size = size or SIZE_WORDS[word]
            elif word in NUMBER_WORDS or word.isdigit():
                count = int(word) if word.isdigit() else NUMBER_WORDS[word]
                if (
                    word in ("few", "dozen", "couple", "pair")
                    and j > 0
                    and lows[j - 1] in ("a", "an")
                ):
                    j -= 1
                break
            elif word == "of" and j > 0 and lows[j - 1] in ("pair", "couple", "dozen"):
                pass
            elif (
                word in ("the", "this", "that", "its", "his", "her", "their")
                or word in ("and", ",", "with")
                or word in STOPWORDS
                or word in VERB_HINTS
            ):
                break
            j -= 1
        if noun.endswith("s") and count is None and lows[i] != noun and lows[i].endswith("s"):
            count = 2  # a bare plural: "balls bounce"
        if count is None and lows[i] != singular(lows[i]) and lows[i] not in OBJECT_NOUNS:
            count = 2
        return _ObjectMention(
            concept=concept,
            noun=noun,
            count=count,
            color=color,
            material=material,
            size=size,
            sentence=s,
            position=i,
        )

    def _unknown_heads(self, lows: list[str]) -> list[tuple[int, str, bool]]:
        """Heads of noun phrases made of words the vocabulary does not know, and whether
        the phrase names a place ("in a library", "at the harbour")."""
        heads: list[tuple[int, str, bool]] = []
        known = (
            set(COLORS)
            | set(COLOR_ALIASES)
            | set(MATERIAL_WORDS)
            | set(SIZE_WORDS)
            | set(NUMBER_WORDS)
            | set(CHARACTER_NOUNS)
            | set(OBJECT_NOUNS)
            | set(SETTING_NOUNS)
            | set(FLOOR_WORDS)
            | set(TIME_WORDS)
            | set(WEATHER_WORDS)
            | set(HAIR_WORDS)
            | set(HAIR_COLORS)
            | set(CLOTHING_WORDS)
            | set(AMBIENCE_WORDS)
            | {word for phrase in RAMP_WORDS for word in phrase.split()}
            | PLACE_WORDS
        )
        for i, word in enumerate(lows):
            if word not in ("a", "an", "the", "some", "two", "three", "four", "five", "several"):
                continue
            j = i + 1
            while j < len(lows) and (
                lows[j] in known and lows[j] not in OBJECT_NOUNS and lows[j] not in CHARACTER_NOUNS
            ):
                j += 1  # skip known adjectives
            if j < len(lows):
                head = lows[j]
                if (
                    head in known
                    or head in STOPWORDS
                    or head in VERB_HINTS
                    or head.startswith("quote")
                    or head.isdigit()
                    or len(head) < 3
                ):
                    continue
                if j + 1 < len(lows) and singular(lows[j + 1]) in OBJECT_NOUNS:
                    continue  # "a golf ball": the unknown word modifies a known noun
                locative = i > 0 and lows[i - 1] in LOCATIVES
                heads.append((j, singular(head), locative))
        return heads

    def _unknown_nouns(self, words: list[list[str]], locative: bool) -> list[str]:
        return [
            head
            for sentence in words
            for _, head, is_place in self._unknown_heads([w.lower() for w in sentence])
            if is_place == locative
        ]

    def _match(self, noun: str, among: Literal["object", "setting"]) -> Match | None:
        if self.nearest is None:
            return None
        match = self.nearest(noun, among)
        good = match.similarity >= self.min_similarity and match.margin > MIN_MARGIN[among]
        return match if good else None

    def _object_drawing(self, mention: _ObjectMention, spec: ObjectSpec) -> ObjectSpec:
        """The object drawn as its asset ("basketball": 🏀) on its physics body, when the
        library has one by that very name; plain shape words keep their shape."""
        if self.things is None or mention.concept.noun in PLAIN_SHAPE_NOUNS:
            return spec
        match = self.things.matcher.match_by_name(mention.concept.noun)
        if match is None:
            return spec
        asset = self.things.matcher.catalogue[match.asset_id]
        tinted = mention.color is not None and mention.color != mention.concept.color
        return spec.model_copy(
            update={"asset": asset.id, "label": asset.label, "emoji": asset.emoji, "tinted": tinted}
        )

    @staticmethod
    def _count_before(sentence: list[str], i: int) -> int | None:
        for word in reversed([w.lower() for w in sentence[max(0, i - 3) : i]]):
            if word.isdigit():
                return int(word)
            if word in NUMBER_WORDS:
                return NUMBER_WORDS[word]
        return None

    # 6. Filling in what the prompt leaves open ------------------------------------------
    def _fill_objects(
        self,
        mentions: list[_ObjectMention],
        words: list[list[str]],
        rng: np.random.Generator,
        notes: list[str],
    ) -> list[ObjectSpec]:
        sentence_motions = [
            [MOTION_WORDS[w.lower()] for w in s if w.lower() in MOTION_WORDS] for s in words
        ]
        all_motions = [m for ms in sentence_motions for m in ms]
        used_colors = {m.color for m in mentions if m.color}
        specs: list[ObjectSpec] = []
        total = 0
        for mention in mentions:
            concept = mention.concept
            motion = self._motion_for(mention, words, sentence_motions, all_motions)
            material: Material
            if mention.material or concept.material:
                material = mention.material or concept.material or "rubber"
            elif motion == "bounce":
                material = "rubber"
            elif motion == "slide":
                material = "wood"
            else:
                material = DEFAULT_MATERIALS[int(rng.integers(len(DEFAULT_MATERIALS)))]
            color = mention.color or concept.color
            if color is None:
                color = MATERIAL_COLORS.get(material) if mention.material else None
            if color is None or (color in used_colors and not mention.color):
                palette = [
                    c
                    for c in ("red", "blue", "yellow", "green", "orange", "purple", "pink", "cyan")
                    if c not in used_colors
                ]
                color = palette[int(rng.integers(len(palette)))] if palette else "red"
            used_colors.add(color)
            count = mention.count or 1
            if total + count > MAX_OBJECTS:
                kept = MAX_OBJECTS - total
                notes.append(
                    f"{count} {mention.noun}s asked; the sim draws at most "
                    f"{MAX_OBJECTS} objects in all, so {max(kept, 0)} are drawn"
                )
                count = kept
            if count <= 0:
                continue
            total += count
            size = (
                mention.size
                or concept.size
                or ("small", "medium", "large")[int(rng.choice(3, p=[0.3, 0.5, 0.2]))]
            )
            spec = ObjectSpec(
                kind=concept.kind,
                color=color,
                rgb=COLORS[color],
                size=size,
                material=material,
                count=count,
                motion=motion,
                noun=mention.noun,
            )
            specs.append(self._object_drawing(mention, spec))
        if any(s.motion == "collide" for s in specs) and sum(s.count for s in specs) < 2:
            notes.append("a collision needs two objects; the object hits the wall instead")
        return specs

    @staticmethod
    def _motion_for(
        mention: _ObjectMention,
        words: list[list[str]],
        sentence_motions: list[list[Motion]],
        all_motions: list[Motion],
    ) -> Motion:
        sentence = [w.lower() for w in words[mention.sentence]]
        after = [MOTION_WORDS[w] for w in sentence[mention.position + 1 :] if w in MOTION_WORDS]
        before = [MOTION_WORDS[w] for w in sentence[: mention.position] if w in MOTION_WORDS]
        if after:
            return after[0]
        if before:
            return before[-1]
        if sentence_motions[mention.sentence]:
            return sentence_motions[mention.sentence][0]
        if len(set(all_motions)) == 1:
            return all_motions[0]
        return "bounce" if mention.concept.kind == "ball" else "fall"

    def _fill_characters(
        self, mentions: list[_CharacterMention], rng: np.random.Generator, taken: set[str]
    ) -> list[CharacterSpec]:
        specs: list[CharacterSpec] = []
        taken = taken | {m.shirt_color for m in mentions if m.shirt_color}
        used_names: set[str] = set()
        for index, mention in enumerate(mentions):
            kind = mention.kind
            # "a person" or a bare name: the look (and voice) is chosen from the seed.
            kind_for_look = ("man", "woman")[int(rng.integers(2))] if kind == "person" else kind
            feminine = kind_for_look in ("woman", "girl")
            child = kind_for_look in ("boy", "girl")
            names = FIRST_NAMES_FEMALE if feminine else FIRST_NAMES_MALE
            name = mention.name or next(
                n for n in names[int(rng.integers(len(names))) :] + names if n not in used_names
            )
            used_names.add(name)
            styles: tuple[HairStyle, ...] = (
                ("long", "bun", "ponytail", "curly")
                if feminine
                else ("short", "curly", "bald", "short")
            )
            # Unnamed shirt colours avoid the objects' colours and each other's, so a shirt
            # is never mistaken for one more red ball.
            free = [c for c in SHIRT_COLORS if c not in taken] or list(SHIRT_COLORS)
            shirt = mention.shirt_color or free[int(rng.integers(len(free)))]
            taken.add(shirt)
            height = (
                (1.25 + 0.15 * rng.random())
                if child
                else ((1.6 + 0.1 * rng.random()) if feminine else (1.72 + 0.12 * rng.random()))
            )
            appearance = Appearance(
                skin_rgb=SKIN_TONES[int(rng.integers(len(SKIN_TONES)))],
                hair_rgb=mention.hair_color or NATURAL_HAIR[int(rng.integers(len(NATURAL_HAIR)))],
                hair_style=mention.hair_style or styles[int(rng.integers(len(styles)))],
                shirt_color=shirt,
                shirt_rgb=COLORS[shirt],
                pants_rgb=((40, 50, 80), (60, 60, 64), (110, 90, 60), (30, 30, 34))[
                    int(rng.integers(4))
                ],
                height_m=round(height, 2),
            )
            if kind == "robot":
                voice = Voice(espeak_voice="en-us+m7", pitch=30, rate_wpm=150)
            elif child:
                voice = Voice(
                    espeak_voice="en-us+f4", pitch=int(rng.integers(75, 90)), rate_wpm=170
                )
            elif feminine:
                voice = Voice(
                    espeak_voice=("en-us+f3", "en-us+f2", "en-gb+f3")[int(rng.integers(3))],
                    pitch=int(rng.integers(55, 70)),
                    rate_wpm=int(rng.integers(155, 180)),
                )
            else:
                voice = Voice(
                    espeak_voice=("en-us+m3", "en-us+m1", "en-gb+m3")[int(rng.integers(3))],
                    pitch=int(rng.integers(30, 45)),
                    rate_wpm=int(rng.integers(150, 175)),
                )
            specs.append(
                CharacterSpec(
                    name=name,
                    kind=kind,
                    appearance=appearance,
                    voice=voice,
                    lines=[Line(text=text, start_s=0.0) for _, text in mention.lines],
                    position="left" if index == 0 else "right",
                )
            )
        # Lines are spoken in the order the prompt quotes them; start times are planned from
        # a typical speaking rate and the sim shifts them if real speech runs longer.
        ordered = sorted(
            (quote, line)
            for spec, mention in zip(specs, mentions, strict=True)
            for (quote, _), line in zip(mention.lines, spec.lines, strict=True)
        )
        t = 0.5
        for _, line in ordered:
            line.start_s = round(t, 2)
            t += len(line.text.split()) / SPEECH_WORDS_PER_S + 0.45
        return specs

    # 7. Sound and the time line ---------------------------------------------------------
    def _sound(self, plan: ScenePlan, lower: str) -> SoundSpec:
        ambience = SETTING_NOUNS.get(plan.setting.description)
        chosen = ambience.ambience if ambience else "room_tone"
        if plan.setting.weather in ("rain", "wind"):
            chosen = plan.setting.weather
        chosen = self._pick(lower, AMBIENCE_WORDS, chosen)
        effects: list[str] = []
        if plan.objects:
            effects.append("impacts")
            if any(o.motion == "roll" or o.kind == "ball" for o in plan.objects):
                effects.append("rolling")
            if any(o.motion == "slide" for o in plan.objects):
                effects.append("sliding")
        if any(c.lines for c in plan.characters):
            effects.append("speech")
        return SoundSpec(ambience=chosen, effects=effects)

    @staticmethod
    def timeline(plan: ScenePlan) -> list[TimelineEntry]:
        entries = []
        for obj in plan.objects:
            verb = {
                "fall": "drop from above",
                "bounce": "drop and bounce",
                "roll": "roll across",
                "slide": "slide across",
                "collide": "move toward each other and collide",
                "throw": "are thrown into the air",
                "rest": "rest on the floor",
            }[obj.motion]
            entries.append(
                TimelineEntry(
                    t_s=0.0,
                    event=f"{obj.count} {obj.color} {obj.material} "
                    f"{obj.kind}{'s' if obj.count > 1 else ''} {verb}",
                )
            )
        for character in plan.characters:
            for line in character.lines:
                entries.append(
                    TimelineEntry(t_s=line.start_s, event=f'{character.name} says "{line.text}"')
                )
        return sorted(entries, key=lambda e: e.t_s)

    @staticmethod
    def _pick(lower: str, table: dict[str, T], default: T) -> T:
        for phrase in sorted(table, key=len, reverse=True):
            if re.search(rf"\b{re.escape(phrase)}\b", lower):
                return table[phrase]
        return default


def stated_aspects(prompt: str, plan: ScenePlan) -> set[str]:
    """Which parts of a scene `prompt` itself fixes (the rest `plan` filled by default)."""
    lower = " ".join(prompt.lower().split())

    def mentions(words: Iterable[str]) -> bool:
        return any(re.search(rf"\b{re.escape(word)}\b", lower) for word in words)

    stated = set()
    if (
        mentions(SETTING_NOUNS)
        or mentions(FLOOR_WORDS)
        or any(note.startswith("setting") for note in plan.notes)
    ):
        stated.add("setting")
    if mentions(WEATHER_WORDS):
        stated.add("weather")
    if mentions(TIME_WORDS):
        stated.add("lighting")
    if mentions(CAMERA_PHRASES):
        stated.add("camera")
    if plan.objects:
        stated.add("objects")
    if plan.characters:
        stated.add("characters")
    return stated
