"""Undo the tricks people use to slip words past a filter, before anything is matched.

`Normalizer.normalize(text)` turns "Ｎ.Ｕ.Ｄ.Ｅ", "n u d e", "nu\u200bde", "nцde" (Cyrillic
ц), "nud3", "nuuuude" and "nudde" into the token "nude", in this order:

1. NFKC folds full-width and mathematical letters ("𝐧𝐮𝐝𝐞") onto plain ones.
2. Invisible format characters (zero-width space/joiner, soft hyphen, BOM, bidi marks:
   Unicode category Cf) are deleted.
3. Look-alike letters from Cyrillic, Greek and other scripts map onto Latin ones, then
   accents are stripped (NFKD without combining marks) and the text is lower-cased.
4. Words are split on whitespace; punctuation inside a word either joins its letters
   ("n.u.d.e", "n-u-d-e", "nu*de", "vi-deo") or splits real compounds ("well-known").
5. Runs of three or more single letters are joined ("n u d e").
6. A token that is not a known word is repaired: leetspeak ("k1ll", "$ex"), then repeated
   letters ("nuuuude"), then a misspelling of a lexicon term within a small edit distance
   ("nakid" → "naked"). Known words (the sentence encoder's whole-word vocabulary, their
   regular inflections, and the lexicon) are never changed, so "nudge", "kites", "3d" or
   "h2o" stay as written.
7. Two or three adjacent fragments whose concatenation is a lexicon term are joined
   ("sui cide"), but only when one of them is not a word on its own, so "be heading home"
   stays benign.

The clean text (tokens joined by spaces) is what the lexicon, the name lists and the
sentence encoder see, so the classifier is trained and run on the same view.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["NormalizedText", "Normalizer", "Token", "edit_distance"]

# Latin look-alikes in other scripts (Unicode confusables, the subset that maps to a Latin
# letter). NFKC already handles full-width and mathematical alphanumerics.
_CONFUSABLES = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",
    "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i",
    "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "l", "ɡ": "g", "ц": "u",
    "п": "n", "и": "u", "ь": "b", "г": "r", "д": "d", "л": "n", "з": "3", "ч": "y",
    "А": "a", "В": "b", "Е": "e", "К": "k", "М": "m", "Н": "h", "О": "o", "Р": "p",
    "С": "c", "Т": "t", "У": "y", "Х": "x", "Ѕ": "s", "І": "i", "Ј": "j", "Ԁ": "d",
    # Greek
    "α": "a", "β": "b", "γ": "y", "δ": "d", "ε": "e", "η": "n", "ι": "i", "κ": "k",
    "μ": "u", "ν": "v", "ο": "o", "ρ": "p", "σ": "o", "τ": "t", "υ": "u", "χ": "x",
    "ω": "w", "ς": "s", "Α": "a", "Β": "b", "Ε": "e", "Ζ": "z", "Η": "h", "Ι": "i",
    "Κ": "k", "Μ": "m", "Ν": "n", "Ο": "o", "Ρ": "p", "Τ": "t", "Υ": "y", "Χ": "x",
    # Latin extensions and symbols that read as letters
    "ı": "i", "ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ß": "ss", "æ": "ae", "œ": "oe",
    "ƒ": "f", "ɑ": "a", "ɩ": "i", "ʀ": "r", "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d",
    "ᴇ": "e", "ɢ": "g", "ʜ": "h", "ɪ": "i", "ᴊ": "j", "ᴋ": "k", "ʟ": "l", "ᴍ": "m",
    "ɴ": "n", "ᴏ": "o", "ᴘ": "p", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ʏ": "y",
    "ᴢ": "z",
}  # fmt: skip

# Leetspeak: each symbol and the letters it may stand for, most likely first. A star inside
# a word hides a vowel ("p*rn") or nothing ("nu*de").
_LEET: dict[str, tuple[str, ...]] = {
    "0": ("o",), "1": ("i", "l"), "2": ("z",), "3": ("e",), "4": ("a",), "5": ("s",),
    "6": ("g",), "7": ("t",), "8": ("b",), "9": ("g",), "@": ("a",), "$": ("s",),
    "!": ("i", "l"), "|": ("l", "i"), "+": ("t",), "€": ("e",), "£": ("l",), "¥": ("y",),
    "(": ("c",), "*": ("a", "e", "i", "o", "u", ""),
}  # fmt: skip
_MAX_LEET_CANDIDATES = 16

# Punctuation that obfuscators put inside words; '.', '-', '/' and "'" also occur in real
# words, so they only join letters when every part is a single character. A star between
# single letters is filler ("n*u*d*e"), otherwise a hidden vowel (see _LEET).
_FILLER = '_·•~^`"=:;,'
_SEPARATORS = ".-/\\'’"
_STRIP_LEFT = "\"'“‘([{<«¿¡*_~`"
_STRIP_RIGHT = "\"'”’)]}>».,;:?!*_~`"
_FILLER_RE = re.compile("[" + re.escape(_FILLER) + "]")
_SEPARATOR_RE = re.compile("[" + re.escape(_SEPARATORS) + "]")
_REPEATS = re.compile(r"(.)\1+")
# Numbers with units are not leetspeak: "4k", "1080p", "5g", "60fps", "12yo", "4x4".
_NUMBER_WITH_UNIT = re.compile(
    r"\d+(?:k|p|x|d|g|s|m|h|th|st|nd|rd|fps|yo|mm|cm|km|kg|lbs?|ft|am|pm|gb|mb|tb|hz|khz|ml"
    r"|l|v|w|mph|kph|min|sec|x\d+)"
)
_TRIPLES = re.compile(r"(.)\1{2,}")
# Regular inflections: suffix, then (letters to cut, letters to add) giving candidate stems.
_INFLECTIONS: tuple[tuple[str, tuple[tuple[int, str], ...]], ...] = (
    ("ies", ((3, "y"),)),  # "puppies"
    ("es", ((2, ""),)),  # "boxes"
    ("s", ((1, ""),)),  # "kites"
    ("ed", ((2, ""), (1, ""), (3, ""))),  # "jumped", "baked", "stopped"
    ("ing", ((3, ""), (3, "e"), (4, ""))),  # "jumping", "baking", "running"
    ("ly", ((2, ""),)),  # "quickly"
    ("er", ((2, ""), (1, ""))),  # "faster", "braver"
)


@dataclass(frozen=True)
class Token:
    text: str  # normalised, lower case
    capitalized: bool  # the word started with a capital letter as written
    repaired: bool  # leetspeak, repeats, misspelling or joining changed it


@dataclass(frozen=True)
class NormalizedText:
    original: str
    tokens: tuple[Token, ...]

    @property
    def clean(self) -> str:
        return " ".join(t.text for t in self.tokens)

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(t.text for t in self.tokens)


def edit_distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein (optimal string alignment) distance, or `limit + 1` once it is
    certain to exceed `limit` (lets the caller skip hopeless pairs cheaply)."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


MAX_TYPOS = 2  # what `max_typos` allows the longest terms


def _deletions(word: str, depth: int) -> set[str]:
    """`word` and every string made from it by deleting up to `depth` letters."""
    found, frontier = {word}, {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        found |= frontier
    return found


def max_typos(term: str) -> int:
    """How many edits still count as a misspelling of `term`: none for short words, whose
    neighbours are mostly other real words."""
    return 0 if len(term) < 5 else 1 if len(term) < 8 else 2


def fold_characters(text: str) -> str:
    """Steps 1-3: NFKC, drop invisible characters, map look-alikes, strip accents.
    Case is kept (capitalised names matter to the name lists)."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(_CONFUSABLES.get(ch, ch) for ch in text if unicodedata.category(ch) != "Cf")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


class Normalizer:
    """Normalises text against `known_words` (never repaired) and `terms` (lexicon terms
    that misspellings and fragments are repaired towards)."""

    def __init__(self, known_words: Iterable[str], terms: Iterable[str]) -> None:
        self._terms = frozenset(t for t in terms if t.isalpha())
        self._vocabulary = frozenset(known_words)
        self._known = self._vocabulary | self._terms
        # Misspelling candidates: a term within its typo allowance of a word shares a string
        # with it once each has lost at most that many letters (a substitution is a
        # letter lost on both sides, a swap of neighbours one on each), so the terms under
        # the word's deletions are the only ones worth an edit distance (SymSpell).
        self._by_deletion: dict[str, list[str]] = {}
        for term in sorted(self._terms):
            for deleted in _deletions(term, max_typos(term)):
                self._by_deletion.setdefault(deleted, []).append(term)

    def is_known(self, word: str) -> bool:
        """A known word, or a regular inflection of one ("kites", "baked", "running"):
        the encoder's vocabulary often lacks the inflected form, and "correcting" it
        would turn "kites" into a slur one letter away."""
        if word in self._known:
            return True
        stems = [
            stem
            for suffix, cuts in _INFLECTIONS
            if word.endswith(suffix)
            for cut, add in cuts
            for stem in [word[:-cut] + add]
        ]
        # Stems must be vocabulary words: "beheadding" is a misspelling, not "behead" + "ing".
        return any(len(stem) >= 3 and stem in self._vocabulary for stem in stems)

    def normalize(self, text: str) -> NormalizedText:
        folded = fold_characters(text)
        tokens: list[Token] = []
        for chunk in folded.split():
            tokens.extend(self._split_chunk(chunk))
        tokens = self._join_spaced_letters(tokens)
        tokens = [self._repair(t) for t in tokens]
        tokens = self._join_fragments(tokens)
        return NormalizedText(original=text, tokens=tuple(tokens))

    # -- steps 4-7 ------------------------------------------------------------------------

    def _split_chunk(self, chunk: str) -> list[Token]:
        capitalized = chunk.lstrip(_STRIP_LEFT)[:1].isupper()
        word = chunk.lower()
        # Possessive "'s" would leave a stray "s" token after names ("Swift's voice").
        word = re.sub(r"['’]s(?=\W*$)", "", word)
        # Leading '$' and '@', and a trailing '!' or '|' inside leetspeak ("k!ll" is
        # handled below), are letters in disguise, so only strip plain punctuation.
        word = word.lstrip(_STRIP_LEFT).rstrip(_STRIP_RIGHT)
        if not word:
            return []
        if _FILLER_RE.search(word):
            parts = [p for p in _FILLER_RE.split(word) if p]
            word = "".join(parts) if all(len(p) <= 3 for p in parts) else " ".join(parts)
        stars = [p for p in word.split("*") if p]
        if len(stars) >= 3 and all(len(p) == 1 for p in stars):
            word = "".join(stars)
        pieces: list[str] = []
        for part in word.split():
            fragments = [f for f in _SEPARATOR_RE.split(part) if f]
            joined = "".join(fragments)
            if len(fragments) > 1 and all(len(f) == 1 for f in fragments):
                pieces.append(joined)  # "n.u.d.e", "u.s."
            elif joined in self._known and not all(f in self._known for f in fragments):
                pieces.append(joined)  # "vi-deo", "behe-aded"
            else:
                pieces.extend(fragments)  # "well-known", "12-year-old"
        return [Token(p, capitalized and i == 0, False) for i, p in enumerate(pieces)]

    def _join_spaced_letters(self, tokens: list[Token]) -> list[Token]:
        out: list[Token] = []
        run: list[Token] = []

        def flush() -> None:
            if len(run) >= 3:
                head, body, tail = self._trim_articles(run)
                out.extend(head)
                out.append(Token("".join(t.text for t in body), body[0].capitalized, True))
                out.extend(tail)
            else:
                out.extend(run)
            run.clear()

        for token in tokens:
            if len(token.text) == 1 and (token.text.isalpha() or token.text in _LEET):
                run.append(token)
            else:
                flush()
                out.append(token)
        flush()
        return out

    def _trim_articles(self, run: list[Token]) -> tuple[list[Token], list[Token], list[Token]]:
        """Split "a n u d e" into "a" + "nude": a leading or trailing "a"/"i" in a run of
        single letters is a word of its own when the rest spells a known word."""
        for start, end in ((0, len(run)), (1, len(run)), (0, len(run) - 1), (1, len(run) - 1)):
            body = run[start:end]
            trimmed_words_only = (start == 0 or run[0].text in "ai") and (
                end == len(run) or run[-1].text in "ai"
            )
            if (
                trimmed_words_only
                and len(body) >= 3
                and "".join(t.text for t in body) in self._known
            ):
                return run[:start], body, run[end:]
        return [], run, []

    def _repair(self, token: Token) -> Token:
        word = token.text
        if self.is_known(word) or word.isdigit() or _NUMBER_WITH_UNIT.fullmatch(word):
            return token
        candidates = self._leet_candidates(word)
        for candidate in candidates:
            for squeezed in _squeezes(candidate):
                if squeezed in self._known:
                    return Token(squeezed, token.capitalized, squeezed != word)
        for candidate in candidates:
            corrected = self._correct(_TRIPLES.sub(r"\1\1", candidate))
            if corrected is not None:
                return Token(corrected, token.capitalized, True)
        return token

    def _leet_candidates(self, word: str) -> list[str]:
        if not any(ch.isalpha() for ch in word) or not any(ch in _LEET for ch in word):
            return [word]
        options = [_LEET.get(ch, (ch,)) for ch in word]
        decoded = ["".join(p) for p in itertools.islice(itertools.product(*options), 64)]
        return [*decoded[:_MAX_LEET_CANDIDATES], word]

    def _correct(self, word: str) -> str | None:
        """The lexicon term nearest to `word` within its typo allowance (alphabetically
        first on ties), or None."""
        if len(word) < 4 or not word.isalpha():
            return None
        # Typos rarely hit the first letter: only terms that share it are candidates.
        candidates = {
            term
            for deleted in _deletions(word, MAX_TYPOS)
            for term in self._by_deletion.get(deleted, ())
            if term[0] == word[0]
        }
        best: str | None = None
        best_distance = MAX_TYPOS + 1
        for term in sorted(candidates):
            limit = min(max_typos(term), best_distance)
            distance = edit_distance(word, term, limit)
            if distance <= limit and distance < best_distance:
                best, best_distance = term, distance
        return best

    def _join_fragments(self, tokens: list[Token]) -> list[Token]:
        out: list[Token] = []
        i = 0
        while i < len(tokens):
            for width in (3, 2):
                group = tokens[i : i + width]
                if len(group) < width:
                    continue
                joined = "".join(t.text for t in group)
                if joined in self._terms and not all(t.text in self._known for t in group):
                    out.append(Token(joined, group[0].capitalized, True))
                    i += width
                    break
            else:
                out.append(tokens[i])
                i += 1
        return out


def _squeezes(word: str) -> list[str]:
    """`word`, then with letter runs of 3+ cut to two, then with every run cut to one."""
    seen = [word]
    for candidate in (_TRIPLES.sub(r"\1\1", word), _REPEATS.sub(r"\1", word)):
        if candidate not in seen:
            seen.append(candidate)
    return seen
