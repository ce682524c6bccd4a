"""Disguise prompts the way people do to get past filters, for tests and the benchmark.

The tricks target the words a filter looks for: here, the two longest words of the prompt
(usually its content words), except homoglyphs, which touch every letter. The look-alike
table is written independently of the normaliser's, so the benchmark does not simply
invert our own mapping.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

__all__ = ["OBFUSCATIONS", "obfuscate"]

OBFUSCATIONS = (
    "leetspeak",
    "spacing",
    "punctuation",
    "homoglyphs",
    "zero_width",
    "repeats",
    "misspelling",
    "mixed",
)

_LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"}
# Latin letters and look-alikes from Cyrillic (first) and Greek.
_LOOK_ALIKES = {
    "a": "аα", "c": "с", "e": "е", "i": "іι", "j": "ј", "o": "оο", "p": "р", "s": "ѕ",
    "x": "х", "y": "у", "h": "һ", "k": "κ", "v": "ν", "u": "υ", "B": "В", "H": "Н",
    "M": "М", "T": "Т", "A": "А", "E": "Е", "O": "О", "P": "Р", "C": "С", "K": "К",
}  # fmt: skip
_ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")
_VOWELS = "aeiou"
_WORD = re.compile(r"[A-Za-z]{4,}")


def _targets(text: str) -> list[tuple[int, int]]:
    """Spans of the two longest words of four or more letters (first ones on ties)."""
    words = sorted(_WORD.finditer(text), key=lambda m: (-len(m.group()), m.start()))[:2]
    return sorted((m.start(), m.end()) for m in words)


def _rewrite_targets(text: str, rewrite: Callable[[str], str]) -> str:
    out: list[str] = []
    last = 0
    for start, end in _targets(text):
        out += [text[last:start], rewrite(text[start:end])]
        last = end
    return "".join([*out, text[last:]])


def _misspell(word: str, rng: random.Random) -> str:
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 1)  # keep the first letter, as typos mostly do
    edit = rng.choice(("drop", "swap", "double", "vowel"))
    if edit == "drop":
        return word[:i] + word[i + 1 :]
    if edit == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if edit == "double":
        return word[:i] + word[i] + word[i:]
    vowels = [j for j, ch in enumerate(word) if ch in _VOWELS and j > 0]
    if not vowels:
        return word[:i] + word[i + 1 :]
    j = rng.choice(vowels)
    return word[:j] + rng.choice([v for v in _VOWELS if v != word[j]]) + word[j + 1 :]


def obfuscate(text: str, kind: str, rng: random.Random) -> str:
    """`text` disguised by `kind` (one of OBFUSCATIONS)."""
    if kind == "leetspeak":
        return _rewrite_targets(text, lambda w: "".join(_LEET.get(ch, ch) for ch in w))
    if kind == "spacing":
        return _rewrite_targets(text, lambda w: " ".join(w))
    if kind == "punctuation":
        mark = rng.choice(".-*_")
        if rng.random() < 0.5:
            return _rewrite_targets(text, lambda w: mark.join(w))
        return _rewrite_targets(text, lambda w: w[: len(w) // 2] + mark + w[len(w) // 2 :])
    if kind == "homoglyphs":
        return "".join(
            rng.choice(_LOOK_ALIKES[ch]) if ch in _LOOK_ALIKES and rng.random() < 0.6 else ch
            for ch in text
        )
    if kind == "zero_width":
        return _rewrite_targets(text, lambda w: rng.choice(_ZERO_WIDTH).join(w))
    if kind == "repeats":

        def stretch(word: str) -> str:
            vowels = [i for i, ch in enumerate(word) if ch in _VOWELS] or [len(word) - 1]
            i = rng.choice(vowels)
            return word[: i + 1] + word[i] * rng.randint(2, 4) + word[i + 1 :]

        return _rewrite_targets(text, stretch)
    if kind == "misspelling":
        return _rewrite_targets(text, lambda w: _misspell(w, rng))
    if kind == "mixed":
        text = obfuscate(text, "leetspeak", rng)
        text = obfuscate(text, "homoglyphs", rng)
        return obfuscate(text, "zero_width", rng)
    raise ValueError(f"kind must be one of {', '.join(OBFUSCATIONS)}, got {kind!r}")
