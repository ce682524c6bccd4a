"""Public figures: who is on the list, where a text names them, and when a mention of a
living musician asks for an imitation of their music or voice.

The list is `data/public_figures.json` (a few hundred politicians, actors, musicians,
athletes, executives and other well-known people), maintained by hand; an operator may
point `PolicyConfig.public_figures_path` at their own file of the same shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reelforge.errors import ConfigError
from reelforge.safety.lexicon import Phrase, PhraseIndex
from reelforge.safety.normalize import NormalizedText, Normalizer

__all__ = ["FigureIndex", "FigureMention", "PublicFigure", "read_public_figures"]

# A mention of a living musician within this many tokens of one of these words asks for
# their music or voice ("a song in the style of X", "X-style vocals", "sounds like X").
MUSIC_CUES = frozenset(
    [
        "song",
        "songs",
        "sing",
        "sings",
        "singing",
        "sung",
        "singer",
        "vocals",
        "vocal",
        "voice",
        "track",
        "tracks",
        "album",
        "music",
        "melody",
        "tune",
        "tunes",
        "beat",
        "beats",
        "rap",
        "raps",
        "rapping",
        "rapper",
        "cover",
        "lyrics",
        "verse",
        "chorus",
        "ballad",
        "remix",
        "anthem",
        "hit",
        "jingle",
        "soundtrack",
        "style",
        "sound",
        "sounds",
        "sounding",
        "duet",
        "karaoke",
    ]
)
NEAR_TOKENS = 6


@dataclass(frozen=True)
class PublicFigure:
    key: str  # stable id; a cameo owned by this person names it
    name: str
    kind: str  # politician, actor, musician, athlete, executive, other
    died: int | None = None  # year, for recently deceased people

    @property
    def living(self) -> bool:
        return self.died is None


@dataclass(frozen=True)
class _Entry:
    figure: PublicFigure
    unless_near: frozenset[str]


@dataclass(frozen=True)
class FigureMention:
    figure: PublicFigure
    # A living musician named next to music words: imitation of their music or voice.
    imitation: bool


def read_public_figures(path: Path) -> list[dict[str, Any]]:
    try:
        figures = json.loads(path.read_text(encoding="utf-8"))["figures"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"cannot read the public figures list {path}: {exc}") from exc
    if not isinstance(figures, list):
        raise ConfigError(f"public figures list {path}: 'figures' must be a list")
    return figures


class FigureIndex:
    def __init__(self, records: list[dict[str, Any]], normalizer: Normalizer) -> None:
        phrases: list[Phrase[_Entry]] = []
        self.figures: list[PublicFigure] = []
        for record in records:
            try:
                died = record.get("died")
                figure = PublicFigure(
                    key=str(record["key"]),
                    name=str(record["name"]),
                    kind=str(record["kind"]),
                    died=int(died) if died is not None else None,
                )
                aliases = [str(a) for a in record.get("aliases", ())]
                cased_aliases = [str(a) for a in record.get("cased_aliases", ())]
                unless = frozenset(str(w).lower() for w in record.get("unless_near", ()))
            except (KeyError, TypeError, ValueError) as exc:
                raise ConfigError(f"public figure entry {record!r} is malformed: {exc}") from exc
            self.figures.append(figure)
            entry = _Entry(figure, unless)
            cased = bool(record.get("cased", False))
            for name in [figure.name, *aliases]:
                phrases.append(Phrase(normalizer.normalize(name).words, entry, cased))
            for name in cased_aliases:
                phrases.append(Phrase(normalizer.normalize(name).words, entry, True))
        self.by_key = {f.key: f for f in self.figures}
        self._index = PhraseIndex(phrases, is_known=normalizer.is_known, fuzzy=True)

    def __len__(self) -> int:
        return len(self.figures)

    def mentions(self, text: NormalizedText) -> list[FigureMention]:
        """Each figure the text names, once, in order of first mention."""
        words = text.words
        found: dict[str, FigureMention] = {}
        for hit in self._index.find(text):
            entry = hit.payload
            window = set(words[max(0, hit.start - NEAR_TOKENS) : hit.end + NEAR_TOKENS])
            if entry.unless_near & window:
                continue
            figure = entry.figure
            imitation = figure.kind == "musician" and figure.living and bool(MUSIC_CUES & window)
            previous = found.get(figure.key)
            found[figure.key] = FigureMention(
                figure, imitation or (previous is not None and previous.imitation)
            )
        return list(found.values())
