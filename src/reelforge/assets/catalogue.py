"""The asset library: every drawable thing, its names and keywords, and what it is like.

Built at load time from the installed packages (install.py): Fluent Emoji Flat gives the
drawing and its name; emojibase-data (Unicode CLDR) gives the English label, keywords and
Unicode subgroup, and the same in 27 other languages; traits.py gives category, size,
material, motion and sound. Skin-tone variants, flags, symbols and faces are left out:
what remains are the things a scene can show.

Lookup by words is exact here (`lookup`); by meaning it is in recaption/assets.py.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

from reelforge.assets.install import require_installed
from reelforge.assets.traits import (
    EXTRA_TRAITS,
    OVERRIDES,
    SUBGROUP_TRAITS,
    AssetMaterial,
    Category,
    Locomotion,
    Traits,
)
from reelforge.errors import ConfigError
from reelforge.shipped import shared

# Languages whose CLDR keywords name the things in a non-English prompt (emojibase-data).
LANGUAGES = (
    "da",
    "de",
    "es",
    "et",
    "fi",
    "fr",
    "hu",
    "it",
    "lt",
    "ms",
    "nb",
    "nl",
    "pl",
    "pt",
    "sv",
)


@dataclass(frozen=True)
class Asset:
    id: str  # the Fluent Emoji name, e.g. "flying-disc"
    label: str  # the CLDR name, e.g. "flying disc"
    emoji: str  # the character, e.g. "🥏"
    keywords: tuple[str, ...]  # CLDR keywords, e.g. ("ultimate",)
    everyday: tuple[str, ...]  # emojilib's keywords, e.g. ("frisbee", "sports", "game")
    subgroup: str  # Unicode subgroup, e.g. "sport"
    category: Category
    size_m: float  # real-world length of the drawing's larger side
    material: AssetMaterial
    mass_kg: float
    locomotion: Locomotion
    sound: str  # see traits.Traits.sound
    heading_deg: float  # where the drawing faces (180: left)
    drawings: Drawings = field(compare=False, repr=False)

    @property
    def svg_body(self) -> str:
        """SVG content on a 32x32 viewBox."""
        return self.drawings.body(self.id)

    @property
    def names(self) -> tuple[str, ...]:
        """Every phrase that names this asset in English, most specific first."""
        spaced = self.id.replace("-", " ")
        return tuple(dict.fromkeys((self.label, spaced, *self.keywords)))

    def svg(self, width_px: int, height_px: int) -> str:
        return (
            '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32" '
            f'width="{width_px}" height="{height_px}">{self.svg_body}</svg>'
        )


DENSITY_KG_M3: dict[str, float] = {
    "rubber": 300.0,
    "wood": 500.0,
    "metal": 900.0,  # vehicles and tools are mostly air inside
    "glass": 600.0,
    "plastic": 200.0,
    "stone": 2400.0,
    "ice": 900.0,
    "flesh": 1000.0,
    "fabric": 150.0,
}


def _mass_kg(size_m: float, material: str) -> float:
    # A drawing fills about a third of its bounding cube.
    return round(DENSITY_KG_M3[material] * 0.33 * size_m**3 * 0.4, 4)


class Drawings:
    """Fluent Emoji's drawings by name, read from its 9 MB icons.json on the first one
    asked for: planning a prompt needs only the names (chars.json), and parsing every
    drawing cost 0.03 s of each process's first plan."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._bodies: dict[str, str] | None = None
        self._lock = threading.Lock()

    def body(self, name: str) -> str:
        with self._lock:
            if self._bodies is None:
                icons = json.loads(self.path.read_text())["icons"]
                self._bodies = {key: icon["body"] for key, icon in icons.items()}
        try:
            return self._bodies[name]
        except KeyError:
            raise ConfigError(f"{self.path} has no drawing named {name!r}") from None


class Catalogue:
    """Every asset by id, and an index from English phrases to ids."""

    def __init__(self, assets: dict[str, Asset], assets_dir: Path):
        self.assets = assets
        self.assets_dir = assets_dir
        self._phrases: dict[str, list[str]] = {}
        for asset in assets.values():
            for phrase in asset.names:
                self._phrases.setdefault(phrase.lower(), []).append(asset.id)
        # Everyday keywords that name at most a few things ("frisbee", "bull"), with each
        # asset's rank of that keyword; words that tag many ("animal", "car") are no names.
        everyday: dict[str, list[tuple[int, str]]] = {}
        for asset in assets.values():
            for rank, word in enumerate(asset.everyday[:3]):  # later ones drift: "honey" badger
                everyday.setdefault(word, []).append((rank, asset.id))
        self._everyday = {
            word: [i for _, i in sorted(hits)] for word, hits in everyday.items() if len(hits) <= 3
        }
        self._foreign: dict[str, dict[str, list[tuple[str, bool]]]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.assets)

    def __getitem__(self, asset_id: str) -> Asset:
        return self.assets[asset_id]

    def __contains__(self, asset_id: object) -> bool:
        return asset_id in self.assets

    def lookup(self, phrase: str) -> list[str]:
        """Ids whose label, name or a keyword is exactly `phrase` (lower case), label
        matches first."""
        ids = self._phrases.get(phrase.lower(), [])
        return sorted(ids, key=lambda i: (self.assets[i].label != phrase.lower(), ids.index(i)))

    def lookup_keyword(self, phrase: str) -> list[str]:
        """Ids that an everyday keyword names (at most three), most central first."""
        return list(self._everyday.get(phrase.lower(), []))

    def lookup_foreign(self, word: str) -> list[tuple[str, str]]:
        """(language, asset id) for every language whose CLDR label or keyword is `word`;
        labels before keywords ("hund" is the dog's label, and only a keyword of bone)."""
        word = word.lower()
        labels: list[tuple[str, str]] = []
        keywords: list[tuple[str, str]] = []
        for language in LANGUAGES:
            for asset_id, is_label in self._foreign_index(language).get(word, []):
                (labels if is_label else keywords).append((language, asset_id))
        return labels + keywords

    def _foreign_index(self, language: str) -> dict[str, list[tuple[str, bool]]]:
        with self._lock:
            if language not in self._foreign:
                self._foreign[language] = _foreign_phrases(self.assets_dir, language, self)
            return self._foreign[language]


def _foreign_phrases(
    assets_dir: Path, language: str, catalogue: Catalogue
) -> dict[str, list[tuple[str, bool]]]:
    path = assets_dir / "emojibase-data" / language / "data.json"
    if not path.is_file():
        return {}
    by_hex = {a.emoji: a.id for a in catalogue.assets.values()}
    index: dict[str, list[tuple[str, bool]]] = {}
    for entry in json.loads(path.read_text()):
        asset_id = by_hex.get(_plain(entry.get("emoji", "")))
        if asset_id is None:
            continue
        index.setdefault(entry.get("label", "").lower(), []).append((asset_id, True))
        for phrase in entry.get("tags", []):
            index.setdefault(phrase.lower(), []).append((asset_id, False))
    return index


def _plain(emoji: str) -> str:
    return emoji.replace("\ufe0f", "").replace("\ufe0e", "")


def build_catalogue(assets_dir: Path) -> Catalogue:
    require_installed(assets_dir)
    fluent = assets_dir / "fluent-emoji-flat"
    drawings = Drawings(fluent / "icons.json")
    name_of_hex = {
        key.lower().replace("-fe0f", ""): name
        for key, name in json.loads((fluent / "chars.json").read_text()).items()
    }
    emojilib = json.loads((assets_dir / "emojilib" / "dist" / "emoji-en-US.json").read_text())
    everyday_of = {
        _plain(k): tuple(w.replace("_", " ").lower() for w in v[1:]) for k, v in emojilib.items()
    }
    emojibase = assets_dir / "emojibase-data"
    subgroups = json.loads((emojibase / "meta" / "groups.json").read_text())["subgroups"]
    assets: dict[str, Asset] = {}
    for entry in json.loads((emojibase / "en" / "data.json").read_text()):
        subgroup = subgroups.get(str(entry.get("subgroup")), "")
        name = name_of_hex.get(entry["hexcode"].lower().replace("-fe0f", ""))
        base = SUBGROUP_TRAITS.get(subgroup) or EXTRA_TRAITS.get(name or "")
        # (Skin-tone variants are emojibase's `skins` of an entry, never entries: the
        # base hexcode names the default drawing.)
        # (chars.json names only drawings that icons.json has.)
        if base is None or name is None:
            continue
        traits = _traits(name, base)
        assets[name] = Asset(
            id=name,
            label=entry["label"].lower(),
            emoji=_plain(entry["emoji"]),
            keywords=tuple(t.lower() for t in entry.get("tags", [])),
            everyday=everyday_of.get(_plain(entry["emoji"]), ()),
            subgroup=subgroup,
            category=traits.category,
            size_m=traits.size_m,
            material=traits.material,
            mass_kg=_mass_kg(traits.size_m, traits.material),
            locomotion=traits.locomotion,
            sound=traits.sound,
            heading_deg=traits.heading_deg,
            drawings=drawings,
        )
    return Catalogue(assets, assets_dir)


def _traits(name: str, base: Traits) -> Traits:
    override = OVERRIDES.get(name, {})
    fields = {**base.__dict__, **override}
    return Traits(**fields)


def load_catalogue(assets_dir: Path) -> Catalogue:
    """The catalogue of `assets_dir`, built once per process (about 0.04 s; shipped.py)."""
    return shared("asset catalogue", Path(assets_dir), lambda: build_catalogue(Path(assets_dir)))
