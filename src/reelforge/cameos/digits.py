"""Hearing spoken digits offline: PocketSphinx with its bundled US English acoustic model
and a grammar that allows only the ten digit words ("oh" counts as zero).

A grammar instead of a language model: the recogniser can only answer with digits, so
"four" is not heard as "for" or "boredom", and a wrong digit is a substitution we can
show the person ("heard 4 7 1 8 3 0"). The audio is 16 kHz mono, peak-normalised first
(PocketSphinx's features are level-dependent and phone microphones are quiet), and cepstral
mean normalisation runs over the whole take ("batch") rather than adapting as it goes,
which is what a short, complete recording allows.

Measured on espeak-ng speech (benchmarks/liveness.py): its Klatt voices and the f2/f5
variants are heard well; its default and most male variants are not (the acoustic model
was trained on human speech), so the fixture takes use the former.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reelforge.media.sphinx import SAMPLE_RATE, SharedDecoder

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_GRAMMAR = (
    "#JSGF V1.0;\ngrammar digits;\n"
    "public <digits> = ( " + " | ".join((*DIGIT_WORDS, "oh")) + " )+ ;\n"
)
__all__ = ["DIGIT_WORDS", "SAMPLE_RATE", "hear_digits"]


def _digits_decoder(config: Any, decoder_class: Any) -> Any:
    decoder = decoder_class(config(loglevel="FATAL", lm=None, cmn="batch"))
    decoder.add_jsgf_string("digits", _GRAMMAR)
    decoder.activate_search("digits")
    return decoder


# One decoder: takes are heard one at a time.
_DECODER = SharedDecoder("hears the digits of cameo takes", _digits_decoder)


def hear_digits(audio: np.ndarray) -> str:
    """The digits heard in `audio` (float32 (S,) mono at 16 kHz), in order, as "471930";
    "" when nothing was heard."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak < 1e-4:
        return ""
    hypothesis = _DECODER.decode(audio, lambda decoder: decoder.hyp())
    if hypothesis is None:
        return ""
    words = hypothesis.hypstr.split()
    return "".join(str(DIGIT_WORDS.index("zero" if w == "oh" else w)) for w in words)
