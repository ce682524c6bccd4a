"""Map a noun from a prompt onto a drawable asset of the library (reelforge.assets).

In order, the first that answers wins:
1. `COMMON_NOUNS`, a short hand table for everyday words whose best drawing is not the one
   that CLDR's names would pick ("frisbee" is the flying disc, "car" the automobile rather
   than a railway car, "tree" a deciduous tree rather than a Christmas tree);
2. an exact name: the CLDR label or the Fluent name of an asset ("rocket", "laptop");
3. meaning: the cosine similarity of all-MiniLM-L6-v2 embeddings between the noun and every
   asset's label ("golden retriever" → dog, "lorry" → articulated lorry). A match must reach
   `min_similarity` and beat, by `MIN_MARGIN`, a set of anchors for things that are not
   drawable ("moment", "idea", "silence"), so abstract nouns are left out;
4. another language's CLDR names ("perro" → dog), for words the English steps miss.
Full-body drawings are preferred to faces, and side views to oncoming ones, where both
exist. Asset label embeddings are cached beside the installed assets.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from reelforge.assets.catalogue import Asset, Catalogue, load_catalogue
from reelforge.files import write_atomic
from reelforge.recaption.embedding import shared_encoder
from reelforge.shipped import shared

How = Literal["common", "name", "meaning", "translation"]

MIN_MARGIN = 0.04
SHARED_LETTERS = 0.12
BARE_NAME_PENALTY = 0.08
KEYWORD_AGREEMENT = 0.45  # similarity a keyword's asset must have to the noun
# Keywords that tag whole families; they say nothing about which thing it is.
GENERIC_KEYWORDS = frozenset(
    ("animal", "animals", "nature", "vehicle", "transportation", "travel", "food", "sports",
     "sport", "object", "objects", "symbol", "face", "person", "people", "game", "place",
     "building", "red", "blue", "green", "yellow", "black", "white", "orange", "purple")
)  # fmt: skip
# Not things: a noun nearer to one of these than to every asset is left out.
ABSTRACT_ANCHORS = (
    "moment", "time", "idea", "way", "feeling", "reason", "while", "kind", "bit", "lot", "sound",
    "color", "motion", "movement", "day", "scene", "view", "shot", "style", "mood", "story",
    "silence", "adventure", "morning", "evening", "distance", "speed", "happiness", "background",
    "atmosphere", "energy", "beauty", "journey", "memory", "dream", "noise", "place", "area",
    "side", "middle", "top", "edge", "front", "direction", "slow motion", "close-up", "angle",
    "shadow", "air", "music", "rhythm", "dance", "race", "show", "performance", "party", "work",
    "life", "world",
)  # fmt: skip

COMMON_NOUNS: dict[str, str] = {
    "frisbee": "flying-disc", "disc": "flying-disc", "car": "automobile", "auto": "automobile",
    "sedan": "automobile", "tree": "deciduous-tree", "oak": "deciduous-tree",
    "pine": "evergreen-tree", "pine tree": "evergreen-tree", "moon": "crescent-moon",
    "full moon": "full-moon", "planet": "ringed-planet", "saturn": "ringed-planet",
    "ufo": "flying-saucer", "spaceship": "flying-saucer", "spacecraft": "rocket",
    "pancake": "pancakes", "piano": "musical-keyboard", "keyboard": "musical-keyboard",
    "drums": "drum", "drum kit": "drum", "truck": "delivery-truck", "lorry": "articulated-lorry",
    "bike": "bicycle", "motorbike": "motorcycle", "plane": "airplane", "jet": "airplane",
    "aeroplane": "airplane", "airliner": "airplane", "boat": "sailboat", "yacht": "sailboat",
    "ship": "ship", "wave": "water-wave", "waves": "water-wave", "fire truck": "fire-engine",
    "firetruck": "fire-engine", "puppy": "dog", "doggy": "dog", "kitten": "cat", "kitty": "cat",
    "bunny": "rabbit", "pony": "horse", "stallion": "horse", "bull": "ox", "calf": "cow",
    "lamb": "ewe", "sheep": "ewe", "duckling": "duck", "chick": "baby-chick", "hen": "chicken",
    "fish": "fish", "goldfish": "tropical-fish", "bee": "honeybee", "ladybug": "lady-beetle",
    "ladybird": "lady-beetle", "pan": "cooking", "frying pan": "cooking", "skillet": "cooking",
    "pot": "pot-of-food", "knife": "kitchen-knife", "sun": "sun", "star": "star", "stars": "star",
    "cloud": "cloud", "stone": "rock", "boulder": "rock", "pebble": "rock", "house": "house",
    "home": "house", "castle": "castle", "football": "soccer-ball", "soccer ball": "soccer-ball",
    "ball": "soccer-ball", "tennis ball": "tennis", "bowling ball": "bowling", "kite": "kite",
    "balloon": "balloon", "snowman": "snowman", "guitar": "guitar", "violin": "violin",
    "fiddle": "violin", "trumpet": "trumpet", "saxophone": "saxophone", "sax": "saxophone",
    "flute": "flute", "cake": "birthday-cake", "burger": "hamburger", "fries": "french-fries",
    "coffee": "hot-beverage", "tea": "teacup-without-handle", "phone": "mobile-phone",
    "smartphone": "mobile-phone", "computer": "laptop", "tv": "television",
    "couch": "couch-and-lamp", "sofa": "couch-and-lamp", "dinosaur": "t-rex", "t rex": "t-rex",
    "robot": "robot", "alien": "alien", "ghost": "ghost", "monster": "alien-monster",
    "skeleton": "skull", "train": "locomotive", "steam train": "locomotive", "subway": "metro",
    "van": "minibus", "delivery van": "minibus", "minivan": "minibus", "firework": "fireworks",
    "satellite dish": "satellite-antenna", "dish": "satellite-antenna",
    "tram": "tram", "bus": "bus", "taxi": "taxi", "cab": "taxi", "scooter": "motor-scooter",
    "helicopter": "helicopter", "chopper": "helicopter", "submarine": "ship", "canoe": "canoe",
    "kayak": "canoe", "surfboard": "person-surfing", "volcano": "volcano", "mountain": "mountain",
    "flower": "tulip", "flowers": "tulip", "rose": "rose", "sunflower": "sunflower",
    "leaf": "maple-leaf", "leaves": "fallen-leaf", "mushroom": "mushroom", "cactus": "cactus",
    "palm": "palm-tree", "palm tree": "palm-tree", "bird": "bird", "crow": "blackbird",
    "raven": "blackbird", "pigeon": "dove", "seagull": "dove", "gull": "dove",
    "dolphin": "dolphin", "whale": "whale", "shark": "shark", "octopus": "octopus", "crab": "crab",
    "turtle": "turtle", "tortoise": "turtle", "snake": "snake", "frog": "frog", "toad": "frog",
    "lizard": "lizard", "spider": "spider", "ant": "ant", "butterfly": "butterfly",
    "dragon": "dragon", "unicorn": "unicorn", "mouse": "mouse", "rat": "rat", "owl": "owl",
    "eagle": "eagle", "hawk": "eagle", "falcon": "eagle", "parrot": "parrot", "penguin": "penguin",
    "monkey": "monkey", "ape": "gorilla", "bear": "bear", "teddy": "teddy-bear",
    "teddy bear": "teddy-bear", "horse": "horse", "cow": "cow", "pig": "pig", "goat": "goat",
    "chicken": "chicken", "rooster": "rooster", "duck": "duck", "goose": "goose", "swan": "swan",
    "deer": "deer", "fox": "fox", "wolf": "wolf", "lion": "lion", "tiger": "tiger",
    "elephant": "elephant", "giraffe": "giraffe", "zebra": "zebra", "camel": "camel",
    "kangaroo": "kangaroo", "squirrel": "chipmunk", "hamster": "hamster", "rabbit": "rabbit",
    "hedgehog": "hedgehog", "dog": "dog", "cat": "cat", "umbrella": "umbrella", "tent": "tent",
    "fire": "fire", "campfire": "fire", "fireworks": "fireworks", "rainbow": "rainbow",
    "snowflake": "snowflake", "lightning": "high-voltage", "tornado": "tornado", "comet": "comet",
    "meteor": "comet", "asteroid": "rock", "satellite": "satellite", "telescope": "telescope",
    "wand": "magic-wand", "magic wand": "magic-wand", "sword": "dagger", "shield": "shield",
    "crown": "crown", "treasure": "gem-stone", "gem": "gem-stone", "diamond": "gem-stone",
    "book": "green-book", "letter": "envelope", "gift": "wrapped-gift", "present": "wrapped-gift",
    "chair": "chair", "bed": "bed", "door": "door", "window": "window", "lamp": "light-bulb",
    "clock": "alarm-clock", "cup": "hot-beverage", "mug": "hot-beverage",
    "bottle": "bottle-with-popping-cork", "egg": "egg", "apple": "red-apple", "banana": "banana",
    "orange": "tangerine", "watermelon": "watermelon", "pizza": "pizza", "sandwich": "sandwich",
    "taco": "taco", "bread": "bread", "cookie": "cookie", "donut": "doughnut",
    "doughnut": "doughnut", "ice cream": "soft-ice-cream", "popcorn": "popcorn",
    "cheese": "cheese-wedge", "carrot": "carrot", "tomato": "tomato", "corn": "ear-of-corn",
    "pumpkin": "jack-o-lantern", "hammer": "hammer", "saw": "carpentry-saw", "wrench": "wrench",
    "axe": "axe", "ladder": "ladder", "bucket": "bucket", "broom": "broom", "laptop": "laptop",
    "microphone": "microphone", "camera": "camera", "television": "television",
    "skateboard": "skateboard", "bicycle": "bicycle", "motorcycle": "motorcycle",
    "rocket": "rocket", "airplane": "airplane", "trophy": "trophy", "medal": "sports-medal",
    "hat": "top-hat", "shoe": "running-shoe", "sneaker": "running-shoe", "boot": "hiking-boot",
    "dress": "dress", "shirt": "t-shirt", "glasses": "glasses", "bag": "backpack",
    "backpack": "backpack", "basket": "basket", "bell": "bell", "drum": "drum", "rock": "rock",
    "race car": "racing-car", "racecar": "racing-car", "racing car": "racing-car",
    "trash can": "wastebasket", "garbage can": "wastebasket", "bin": "wastebasket",
    "rain cloud": "cloud-with-rain", "storm cloud": "cloud-with-lightning-and-rain",
    "disco ball": "mirror-ball", "rugby ball": "rugby-football", "skyscraper": "office-building",
    "ice skate": "ice-skate", "ice skates": "ice-skate", "dartboard": "bullseye",
    "pickaxe": "pick", "globe": "globe-showing-americas", "earth": "globe-showing-americas",
    "chess piece": "chess-pawn", "haunted house": "derelict-house",
    "coral reef": "coral", "reef": "coral", "construction site": "building-construction",
    "bowl": "bowl-with-spoon", "log": "wood", "mailbox": "closed-mailbox-with-raised-flag",
    "paper": "page-facing-up", "speaker": "speaker-high-volume", "chart": "bar-chart",
    "small plane": "small-airplane",
}  # fmt: skip


@dataclass(frozen=True)
class AssetMatch:
    noun: str
    asset_id: str
    how: How
    similarity: float  # 1.0 for a name or table match
    language: str = "en"


class AssetMatcher:
    def __init__(
        self, catalogue: Catalogue, model_dir: Path | None = None, min_similarity: float = 0.5
    ):
        self.catalogue = catalogue
        self.min_similarity = min_similarity
        self._model_dir = model_dir
        self._ids = list(catalogue.assets)
        self._labels: np.ndarray | None = None  # (2, N_assets, 384), built on first use
        self._anchors: np.ndarray | None = None  # (N_anchor, 384)
        self._lock = threading.Lock()

    # 1. The whole lookup ---------------------------------------------------------------
    def match(self, noun: str, *, foreign: bool = False) -> AssetMatch | None:
        """The asset for `noun`, or None. `foreign`: the prompt is not in English, so
        other languages' names are tried too."""
        noun = " ".join(noun.lower().split())
        by_name = self.match_by_name(noun)
        if by_name is not None:
            return by_name
        by_meaning = self._by_meaning(noun)
        if by_meaning is not None or not foreign:
            return by_meaning
        for candidate in _forms(noun):
            foreign_ids = self.catalogue.lookup_foreign(candidate)
            if foreign_ids:
                language = foreign_ids[0][0]
                ids = [i for lang, i in foreign_ids if lang == language]
                return AssetMatch(noun, self._preferred(ids), "translation", 1.0, language)
        return None

    def match_by_name(self, noun: str) -> AssetMatch | None:
        """Steps 1 and 2 only: the hand table, then an asset's exact name."""
        noun = " ".join(noun.lower().replace("'", "").split())  # "jack-o'-lantern"
        for candidate in _forms(noun):
            if candidate in COMMON_NOUNS and COMMON_NOUNS[candidate] in self.catalogue:
                return AssetMatch(noun, COMMON_NOUNS[candidate], "common", 1.0)
        for candidate in _forms(noun):
            ids = [i for i in self.catalogue.lookup(candidate) if self._is_name(i, candidate)]
            if ids:
                return AssetMatch(noun, self._preferred(ids), "name", 1.0)
        for candidate in _forms(noun):
            ids = self.catalogue.lookup_keyword(candidate)
            # A keyword names a thing only when the meaning agrees: "frisbee" is the flying
            # disc's keyword and near it; "hand" is one of the flexed biceps' and is not,
            # and "idea" (a light bulb's) is nearer to the abstract anchors than to any thing.
            agreeing = [i for i in ids if self._agrees(candidate, i)]
            if agreeing:
                return AssetMatch(noun, agreeing[0], "name", 1.0)
        return None

    def _agrees(self, noun: str, asset_id: str) -> bool:
        scores, anchor = self._scores(noun)
        own = float(scores[self._ids.index(asset_id)])
        return own >= KEYWORD_AGREEMENT and float(scores.max()) - anchor >= MIN_MARGIN

    def nearest(self, noun: str) -> tuple[str, float, float]:
        """(asset id, similarity, margin over the nearest abstract anchor), unthresholded."""
        scores, anchor = self._scores(noun)
        best = int(scores.argmax())
        return self._ids[best], float(scores[best]), float(scores[best] - anchor)

    def _scores(self, noun: str) -> tuple[np.ndarray, float]:
        """Similarity of `noun` to every asset's label, and to the nearest abstract anchor.

        Word pieces inflate the similarity of words that merely share letters ("trolley"
        and "trolleybus", "honey" and "honeybee"): a label that contains the noun, or is
        contained in it, without being the same word, is marked down by SHARED_LETTERS."""
        labels, anchors = self._embeddings()  # (2, N_assets, 384): bare names, with keywords
        query = _query(self._model_dir, noun)  # (384,)
        # A bare name is trusted a little less than a name with its keywords (it matches
        # words that merely look alike), but it keeps breeds and makes: "labrador" → dog.
        scores = np.maximum(labels[0] @ query - BARE_NAME_PENALTY, labels[1] @ query)
        for i in self._containing(noun):
            scores[i] -= SHARED_LETTERS
        return scores, float((anchors @ query).max())

    def _containing(self, noun: str) -> list[int]:
        words = noun.split()
        found = []
        for i, asset_id in enumerate(self._ids):
            label_words = self.catalogue[asset_id].label.split()
            for word in words:
                if len(word) < 3:
                    continue
                if any(w != word and (w.startswith(word) or word.startswith(w)) and len(w) > 2
                       for w in label_words):  # fmt: skip
                    found.append(i)
                    break
        return found

    # 2. The steps ------------------------------------------------------------------------
    def _is_name(self, asset_id: str, phrase: str) -> bool:
        asset = self.catalogue[asset_id]
        return phrase in (asset.label, asset_id.replace("-", " "))

    def _by_meaning(self, noun: str) -> AssetMatch | None:
        scores, anchor = self._scores(noun)
        best = int(scores.argmax())
        asset_id, similarity = self._ids[best], float(scores[best])
        if similarity < self.min_similarity or similarity - anchor < MIN_MARGIN:
            return None
        # Among near-equal candidates, prefer a full-body side view.
        close = [self._ids[i] for i in np.flatnonzero(scores >= similarity - 0.03)]
        return AssetMatch(noun, self._preferred(close, first=asset_id), "meaning", similarity)

    def _preferred(self, ids: list[str], first: str | None = None) -> str:
        def rank(asset_id: str) -> tuple[int, int]:
            penalty = sum(
                asset_id.endswith(suffix) or asset_id.startswith(prefix)
                for suffix, prefix in (("-face", "oncoming-"), ("-facing-right", "man-"))
            ) + asset_id.startswith("woman-")
            return penalty, 0 if asset_id == first else 1

        return min(ids, key=rank)

    def prepare(self) -> None:
        """Embed every asset's names now (about 4 s once per installed library; then read
        from the files beside it): bin/setup does, so no test or first plan waits on it."""
        self._embeddings()

    def _embeddings(self) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            if self._labels is None or self._anchors is None:
                encoder = shared_encoder(self._model_dir)
                assets = [self.catalogue[i] for i in self._ids]
                self._labels = np.stack([
                    _cached(self.catalogue.assets_dir, [a.label for a in assets], encoder.encode),
                    _cached(self.catalogue.assets_dir, [_text(a) for a in assets], encoder.encode),
                ])  # fmt: skip
                self._anchors = encoder.encode(list(ABSTRACT_ANCHORS))
            return self._labels, self._anchors


def _text(asset: Asset) -> str:
    """What an asset is compared by: its name and its first few specific keywords."""
    extra = [w for w in (*asset.everyday, *asset.keywords) if w not in GENERIC_KEYWORDS]
    extra = list(dict.fromkeys(w for w in extra if w != asset.label))[:4]
    return f"{asset.label} ({', '.join(extra)})" if extra else asset.label


@functools.lru_cache(maxsize=1024)
def _query(model_dir: Path | None, noun: str) -> np.ndarray:
    """The noun's embedding, once per process: a noun is looked at by the keyword check,
    by meaning, and again as part of a compound."""
    return shared_encoder(model_dir).encode([noun])[0]


def _forms(noun: str) -> list[str]:
    """The noun as written, then its singular forms: "puppies" → "puppy"."""
    forms = [noun]
    head, _, last = noun.rpartition(" ")
    prefix = f"{head} " if head else ""
    if last.endswith("ies") and len(last) > 4:
        forms.append(prefix + last[:-3] + "y")
    if last.endswith(("ches", "shes", "xes", "sses", "oes")):
        forms.append(prefix + last[:-2])
    if last.endswith("ves"):
        forms.append(prefix + last[:-3] + "f")
    if last.endswith("s") and not last.endswith("ss") and len(last) > 3:
        forms.append(prefix + last[:-1])
    irregular = {"mice": "mouse", "geese": "goose", "sheep": "sheep", "fish": "fish",
                 "children": "child", "teeth": "tooth", "feet": "foot", "oxen": "ox"}  # fmt: skip
    if last in irregular:
        forms.append(prefix + irregular[last])
    return list(dict.fromkeys(forms))


def _cached(folder: Path, texts: list[str], encode: object) -> np.ndarray:
    """Embeddings of `texts`, from a file beside the assets when one matches, else computed
    (about 1 s) and saved there when the folder is writable."""
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = folder / f"label-embeddings-{key}.npy"
    if path.is_file():
        return np.load(path)
    embeddings = np.asarray(encode(texts), np.float32)  # type: ignore[operator]
    buffer = io.BytesIO()
    np.save(buffer, embeddings)
    with contextlib.suppress(OSError):  # two processes may write it at once: each whole
        write_atomic(path, buffer.getvalue())
    return embeddings


def asset_matcher(
    assets_dir: Path, model_dir: Path | None = None, min_similarity: float = 0.5
) -> AssetMatcher:
    """The matcher over `assets_dir`'s catalogue, built once per process (shipped.py)."""
    key = (Path(assets_dir), model_dir, min_similarity)
    return shared(
        "asset matcher",
        key,
        lambda: AssetMatcher(load_catalogue(assets_dir), model_dir, min_similarity),
    )
