"""Read the things a prompt names and what they do: nouns → assets, verbs → behaviours.

1. Nouns. Every word that the rest of the planner has not claimed (characters, the
   classic shapes, the setting, colours, counts, sizes) is tried, longest phrase first
   ("fire truck" before "truck"), by name (recaption/assets.py). Sentences that say what
   is heard ("Waves crash nearby.") are the ambience's, not things. A word that only meaning could
   match is tried when it stands where a noun stands: after an article, a number, an
   adjective or a preposition, or first in the sentence. A noun with no asset close enough
   is left out, and the plan says so.
2. Verbs. A word that is a form of a verb the sim acts out (recaption/verbs.py) and does
   not stand where a noun stands ("a girl waves" is a verb; "waves crash" a noun) is a verb.
3. Who does what to whom. The subject of a verb is the nearest thing or character before
   it ("a dog and a cat run": both), its object the nearest after it, before the next verb.
   A thing that acts takes the verb as its behaviour, aimed at the object; a character
   that acts hands the verb to the thing it acts on ("a chef flips a pancake": the pancake
   flips, held by the chef). Things without a verb move as they usually do (birds fly, fish
   swim, cars drive) or stay where they are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from reelforge.assets.catalogue import Asset
from reelforge.recaption.assets import AssetMatch, AssetMatcher
from reelforge.recaption.verbs import TRANSITIVE, VERB_BEHAVIOURS, verb_base
from reelforge.types import Behaviour, ThingSpec

MAX_THING_GROUPS = 8
MAX_PER_GROUP = 6
DETERMINERS = frozenset(
    (
        "a",
        "an",
        "the",
        "some",
        "this",
        "that",
        "these",
        "those",
        "his",
        "her",
        "their",
        "its",
        "my",
        "our",
        "your",
        "two",
        "three",
        "four",
        "five",
        "six",
        "several",
        "many",
        "few",
    )
)
PREPOSITIONS = frozenset(
    (
        "on",
        "in",
        "into",
        "onto",
        "at",
        "to",
        "from",
        "with",
        "over",
        "under",
        "above",
        "below",
        "behind",
        "beside",
        "between",
        "near",
        "across",
        "along",
        "through",
        "around",
        "past",
        "toward",
        "towards",
        "by",
        "of",
        "off",
        "against",
        "inside",
        "outside",
        "beneath",
        "among",
    )
)
# Place words that say where, not which place: "fish *underwater*" is no "fish market".
ADVERB_PLACES = frozenset(
    ("underwater", "downtown", "uptown", "indoors", "outdoors", "offshore", "overhead", "abroad")
)
# A sentence with one of these describes what is heard (the ambience), not what is seen.
HEARD_ONLY = frozenset(("nearby", "distance", "distant", "heard", "hear", "hears", "offscreen"))
CAMERA_WORDS = frozenset(("camera", "lens", "shot", "view"))
CLAUSE_BREAKS = frozenset(("while", "as", "when", "then", "but", "because", "until", "whilst"))
# Prepositions that aim an intransitive verb at what follows: "crash *on* rocks".
AIMING = frozenset(("into", "onto", "on", "at", "toward", "towards", "after", "against", "to"))
ENGLISH_FUNCTION_WORDS = frozenset(
    ("a", "an", "the", "and", "is", "are", "of", "on", "in", "with", "at", "to", "from", "it")
)
DEFAULT_BEHAVIOUR: dict[str, Behaviour] = {
    "walks": "walk",
    "runs": "run",
    "flies": "fly",
    "swims": "swim",
    "drives": "drive",
    "hops": "hop",
    "floats": "float",
    "launches": "idle",
    "rolls": "idle",
    "static": "idle",
}
# A verb that a character does to a thing; what the thing does then.
DONE_TO_THING: dict[Behaviour, Behaviour] = {
    "throw": "throw",
    "catch": "catch",
    "flip": "flip",
    "play": "play",
    "drive": "drive",
    "chase": "run",
    "follow": "walk",
    "crash": "crash",
    "spin": "spin",  # a cook spins a pizza
    "fall": "fall",  # a man drops a letter
    "roll": "roll",
    "slide": "slide",  # a worker pushes a box
    "bounce": "bounce",  # a boy bounces a basketball
    "launch": "launch",  # an archer shoots an arrow
    "sway": "sway",  # a carpenter swings a hammer
    "fly": "fly",  # a girl flies a kite
}
# Whatever a character does to an instrument (shakes maracas, hits a drum, blows a
# trumpet), it plays it.
PLAYED_BY_ANY_VERB = frozenset(("sway", "crash", "gesture", "spin", "launch", "fall"))


def _wordlike(word: str) -> bool:
    """Letters, perhaps joined by hyphens and apostrophes: "jack-o'-lantern", "t-rex"."""
    return word.replace("-", "").replace("'", "").isalpha()


def _suited(behaviour: Behaviour | None, asset: Asset) -> Behaviour | None:
    """The verb as this kind of thing does it: a fire truck that "races" drives, a fish
    that "runs" swims, a boat that "drives" floats, a bird that "walks" may well walk."""
    moving_on: dict[str, Behaviour] = {"drives": "drive", "swims": "swim", "floats": "float"}
    if behaviour in ("walk", "run") and asset.locomotion in moving_on:
        return moving_on[asset.locomotion]
    if behaviour == "drive" and asset.locomotion in ("floats", "swims"):
        return "float" if asset.locomotion == "floats" else "swim"
    if behaviour == "drive" and asset.locomotion == "flies":
        return "fly"
    return behaviour


@dataclass
class Entity:
    """A thing or a character at a place in the prompt."""

    sentence: int
    start: int
    end: int  # one past the last word
    noun: str
    character: str | None = None  # the character's name, for characters
    match: AssetMatch | None = None
    count: int = 1
    color: str | None = None
    size: str | None = None
    behaviour: Behaviour | None = None
    target: str | None = None


@dataclass
class ReadThings:
    things: list[ThingSpec]
    character_actions: dict[str, Behaviour]
    notes: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)


@dataclass
class ThingReader:
    matcher: AssetMatcher
    colors: dict[str, tuple[int, int, int]]
    color_of: Callable[[str], str | None]  # a colour word's canonical name
    numbers: dict[str, int]
    sizes: dict[str, str]
    reserved: frozenset[str]  # words other parts of the planner own (settings, clothes, ...)
    adjuncts: frozenset[str] = frozenset()  # nouns that modify a head: "a *desert* pad"
    foreign: bool = False  # set per prompt: not English, so other languages' names count

    def read(
        self,
        words: list[list[str]],
        taken: set[tuple[int, int]],
        characters: list[tuple[int, int, str, str]],  # (sentence, position, word, name)
    ) -> ReadThings:
        lows_all = {w.lower() for sentence in words for w in sentence}
        self.foreign = not (lows_all & ENGLISH_FUNCTION_WORDS)
        notes: list[str] = []
        left_out: list[str] = []
        entities: list[Entity] = [
            Entity(s, i, i + 1, word.lower(), character=name) for s, i, word, name in characters
        ]
        self._people = {(s, i): name for s, i, _, name in characters}
        verbs: list[tuple[int, int, str]] = []
        for s, sentence in enumerate(words):
            lows = [w.lower() for w in sentence]
            if set(lows) & HEARD_ONLY:  # "Waves crash nearby.": a sound, not a sight
                continue
            found, sentence_verbs, missing = self._scan(s, lows, taken)
            entities += found
            verbs += sentence_verbs
            left_out += missing
        self._assign_verbs(entities, verbs, words)
        things = self._specs(entities, notes)
        actions = {
            e.character: e.behaviour for e in entities if e.character and e.behaviour is not None
        }
        for noun in dict.fromkeys(left_out):
            notes.append(f"'{noun}' is not something the sim can draw; left out")
        return ReadThings(things, actions, notes, list(dict.fromkeys(left_out)))

    # 1. Nouns and verbs of one sentence ---------------------------------------------------
    def _scan(
        self, s: int, lows: list[str], taken: set[tuple[int, int]]
    ) -> tuple[list[Entity], list[tuple[int, int, str]], list[str]]:
        entities: list[Entity] = []
        verbs: list[tuple[int, int, str]] = []
        missing: list[str] = []
        i = 0
        while i < len(lows):
            word = lows[i]
            if (s, i) in taken or not _wordlike(word) or self._is_modifier(word):
                i += 1
                continue
            following = lows[i + 1] if i + 1 < len(lows) else ""
            modifies_place = following in self.adjuncts and following not in ADVERB_PLACES
            player = self._people.get((s, i + 1))
            if player is not None and (played := self._instrument_named(s, i, word, player)):
                entities.append(played)  # "a saxophone player": the saxophone, played
                i += 1
                continue
            if word not in DETERMINERS and ((s, i + 1) in taken or modifies_place):
                i += 1  # "a golf ball", "a basketball court": the word modifies the next
                continue
            noun_place = self._noun_place(lows, i)
            base = verb_base(word)
            if base is not None and noun_place and i > 0 and lows[i - 1] in ("and", "or", "then"):
                noun_place = False  # "... and falls", "... and waves": a second verb
            if base is not None and not noun_place:
                if i == 0 or lows[i - 1] not in CAMERA_WORDS:  # "the camera zooms in"
                    verbs.append((s, i, base))
                i += 1
                continue
            if word in self.reserved or word in DETERMINERS or word in PREPOSITIONS:
                i += 1
                continue
            entity = self._thing_at(
                s, lows, i, taken, noun_place, next_is_verb=self._verb_next(lows, i)
            )
            if entity is None:
                if noun_place and len(word) > 2 and base is None and self._looks_like_noun(lows, i):
                    missing.append(word)
                i += 1
                continue
            self._modifiers(entity, lows)
            entities.append(entity)
            i = entity.end
        return entities, verbs, missing

    def _thing_at(
        self,
        s: int,
        lows: list[str],
        i: int,
        taken: set[tuple[int, int]],
        noun_place: bool,
        next_is_verb: bool,
    ) -> Entity | None:
        for width in (3, 2, 1):
            span = lows[i : i + width]
            if len(span) < width or any((s, j) in taken for j in range(i, i + width)):
                continue
            if width > 1 and any(
                w in self.reserved or not w.replace("-", "").replace("'", "").isalpha()
                for w in span
            ):
                continue
            if width > 1 and verb_base(span[-1]) is not None and span[-1].endswith("s"):
                continue  # "a bus stops": a noun and its verb, not the "bus stop"
            phrase = " ".join(span)
            match = self.matcher.match_by_name(phrase)
            if match is not None and (
                noun_place or next_is_verb or width > 1 or self._plain_noun(lows, i)
            ):
                return Entity(s, i, i + width, phrase, match=match)
        if not noun_place and not next_is_verb:
            return None
        word = lows[i]
        if len(word) < 3 or verb_base(word) is not None:
            return None
        if not self.foreign and not self._looks_like_noun(lows, i):
            return None  # by meaning, only the head of a noun phrase: not "hot" in "hot day"
        match = self.matcher.match(word, foreign=self.foreign)
        if i > 0 and lows[i - 1].isalpha() and self._is_modifier(lows[i - 1]):
            # "golden retriever", "red panda": the modifier may be part of the name.
            phrase = f"{lows[i - 1]} {word}"
            compound = self.matcher.match(phrase)
            if compound is not None and (match is None or compound.similarity > match.similarity):
                return Entity(s, i, i + 1, phrase, match=compound)
        return Entity(s, i, i + 1, word, match=match) if match is not None else None

    def _is_modifier(self, word: str) -> bool:
        if word in DETERMINERS:
            return False  # "a", "an", "two" count, but they begin a noun phrase
        return word in self.numbers or word in self.sizes or self.color_of(word) is not None

    def _noun_place(self, lows: list[str], i: int) -> bool:
        """Whether the word at `i` stands where a noun stands."""
        j = i - 1
        if self.foreign:
            return True  # no grammar of other languages here: every word may be a noun
        while j >= 0 and (self._is_modifier(lows[j]) or lows[j] in self.adjuncts):
            j -= 1  # "a desert pad", "a big red car"
        if j < 0:
            return i > 0 or self._verb_next(lows, i)  # "Waves crash ..." / "two dogs"
        before = lows[j]
        return (
            before in DETERMINERS
            or before in PREPOSITIONS
            or before in self.numbers
            or (before == "and" and j > 0 and verb_base(lows[j - 1]) is None)
        )

    @staticmethod
    def _verb_next(lows: list[str], i: int) -> bool:
        return i + 1 < len(lows) and verb_base(lows[i + 1]) is not None

    def _plain_noun(self, lows: list[str], i: int) -> bool:
        return verb_base(lows[i]) is None

    def _looks_like_noun(self, lows: list[str], i: int) -> bool:
        word = lows[i]
        if word.endswith(("ly", "ful", "ous", "ive", "ing")):
            return False  # adverbs and adjectives: "slowly", "beautiful", "glowing"
        following = lows[i + 1] if i + 1 < len(lows) else ""
        # "a desert pad", "a hot day": only the last word of a noun phrase is its head.
        return not (
            following.isalpha()
            and following not in PREPOSITIONS
            and following not in CLAUSE_BREAKS
            and following not in ("and", "or", "that", "who", "which")
            and verb_base(following) is None
            and not following.startswith("quote")
        )

    def _modifiers(self, entity: Entity, lows: list[str]) -> None:
        j = entity.start - 1
        while j >= 0 and (self._is_modifier(lows[j]) or lows[j] in self.numbers):
            word = lows[j]
            if word in self.numbers and word not in ("a", "an"):
                entity.count = self.numbers[word]
            elif word in self.sizes:
                entity.size = self.sizes[word]
            elif self.color_of(word) is not None:
                entity.color = entity.color or self.color_of(word)
            j -= 1
        last = lows[entity.end - 1]
        if (
            entity.count == 1
            and last.endswith("s")
            and not last.endswith("ss")
            and (entity.match is not None and last != entity.match.asset_id.split("-")[-1])
        ):
            entity.count = 2  # a bare plural: "rocks", "puppies"

    # 2. Who does what to whom -------------------------------------------------------------
    def _assign_verbs(
        self, entities: list[Entity], verbs: list[tuple[int, int, str]], words: list[list[str]]
    ) -> None:
        for s, v, base in verbs:
            behaviour = VERB_BEHAVIOURS[base]
            in_sentence = sorted((e for e in entities if e.sentence == s), key=lambda e: e.start)
            before = [e for e in in_sentence if e.end <= v]
            lows = [w.lower() for w in words[s]]
            clause_end = min(
                [p for ss, p, _ in verbs if ss == s and p > v]
                + [k for k in range(v + 1, len(lows)) if lows[k] in CLAUSE_BREAKS]
                + [len(lows)]
            )
            after = [e for e in in_sentence if v < e.start < clause_end]
            subjects = self._subjects(before, words[s])
            obj = after[0] if after else None
            if not subjects and obj is not None and obj.character is None and obj.behaviour is None:
                subjects, obj = [obj], None  # "Down falls the apple": no subject before
            for subject in subjects:
                if subject.character is not None:
                    subject.behaviour = subject.behaviour or behaviour
                    # "plays a guitar and a banjo": the verb is done to each of them.
                    for thing in self._and_after(obj, after, words[s]):
                        if thing.character is not None:
                            continue
                        done = DONE_TO_THING.get(behaviour)
                        if behaviour in PLAYED_BY_ANY_VERB and self._instrument(thing):
                            done = "play"
                        if done is not None and thing.behaviour in (None, "idle"):
                            thing.behaviour, thing.target = done, subject.character
                    continue
                if subject.behaviour is not None and subject.behaviour != "idle":
                    continue
                subject.behaviour = behaviour
                aimed = obj is not None and (
                    base in TRANSITIVE
                    or behaviour in TRANSITIVE
                    or any(w in AIMING for w in lows[v + 1 : obj.start])
                )
                if obj is not None and aimed:
                    subject.target = obj.character or obj.noun

    def _instrument_named(self, s: int, i: int, word: str, player: str) -> Entity | None:
        match = self.matcher.match_by_name(word)
        if match is None:
            return None
        entity = Entity(s, i, i + 1, word, match=match, behaviour="play", target=player)
        return entity if self._instrument(entity) else None

    def _instrument(self, entity: Entity) -> bool:
        return entity.match is not None and self.matcher.catalogue[
            entity.match.asset_id
        ].sound.startswith("melody:")

    @staticmethod
    def _and_after(obj: Entity | None, after: list[Entity], sentence: list[str]) -> list[Entity]:
        """The object and those joined to it by "and": "a guitar and a banjo"."""
        if obj is None:
            return []
        objects = [obj]
        for nxt in after[1:]:
            gap = [w.lower() for w in sentence[objects[-1].end : nxt.start]]
            if not (gap and gap[0] == "and" and all(w in ("and", "a", "an", "the") for w in gap)):
                break
            objects.append(nxt)
        return objects

    @staticmethod
    def _subjects(before: list[Entity], sentence: list[str]) -> list[Entity]:
        if not before:
            return []
        subjects = [before[-1]]
        k = len(before) - 2
        while k >= 0:  # "a dog and a cat run": walk back over "and"
            gap = [w.lower() for w in sentence[before[k].end : subjects[0].start]]
            if gap and gap[0] == "and" and all(w in ("and", "a", "an", "the") for w in gap):
                subjects.insert(0, before[k])
                k -= 1
                continue
            break
        return subjects

    # 3. The plan's things -----------------------------------------------------------------
    def _specs(self, entities: list[Entity], notes: list[str]) -> list[ThingSpec]:
        specs: list[ThingSpec] = []
        by_asset: dict[tuple[str, str | None], ThingSpec] = {}
        for entity in sorted(entities, key=lambda e: (e.sentence, e.start)):
            if entity.character is not None or entity.match is None:
                continue
            asset = self.matcher.catalogue[entity.match.asset_id]
            key = (asset.id, entity.color)
            prior = by_asset.get(key)
            if prior is not None:  # "a dog ... the dog barks": one dog
                if entity.behaviour and prior.behaviour == self._default(asset):
                    prior.behaviour, prior.target = entity.behaviour, entity.target
                continue
            if len(specs) == MAX_THING_GROUPS:
                notes.append(
                    f"'{entity.noun}' left out: the sim draws at most {MAX_THING_GROUPS} "
                    "kinds of thing in one scene"
                )
                continue
            count = entity.count
            if count > MAX_PER_GROUP:
                notes.append(f"{count} {entity.noun} asked; the sim draws at most {MAX_PER_GROUP}")
                count = MAX_PER_GROUP
            spec = ThingSpec(
                asset=asset.id,
                noun=entity.noun,
                label=asset.label,
                emoji=asset.emoji,
                count=count,
                color=entity.color,
                rgb=self.colors.get(entity.color) if entity.color else None,
                size=entity.size,  # type: ignore[arg-type]
                behaviour=_suited(entity.behaviour, asset) or self._default(asset),
                target=entity.target,
                matched_by=entity.match.how,
                similarity=round(entity.match.similarity, 3),
            )
            by_asset[key] = spec
            specs.append(spec)
        return specs

    @staticmethod
    def _default(asset: Asset) -> Behaviour:
        return DEFAULT_BEHAVIOUR[asset.locomotion]
