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

import threading
from typing import Any

import numpy as np

from reelforge.errors import ConfigError

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_GRAMMAR = (
    "#JSGF V1.0;\ngrammar digits;\n"
    "public <digits> = ( " + " | ".join((*DIGIT_WORDS, "oh")) + " )+ ;\n"
)
SAMPLE_RATE = 16_000
_PEAK = 0.5

_LOCK = threading.Lock()  # one decoder, not thread-safe: takes are heard one at a time
_DECODER: Any = None


def _decoder() -> Any:
    global _DECODER
    if _DECODER is None:
        try:
            from pocketsphinx import Config, Decoder
        except ImportError as error:
            raise ConfigError(
                "pocketsphinx is not installed: it hears the digits of cameo takes "
                "(pip install pocketsphinx==5.1.1)"
            ) from error
        decoder = Decoder(Config(loglevel="FATAL", lm=None, cmn="batch"))
        decoder.add_jsgf_string("digits", _GRAMMAR)
        decoder.activate_search("digits")
        _DECODER = decoder
    return _DECODER


def hear_digits(audio: np.ndarray) -> str:
    """The digits heard in `audio` (float32 (S,) mono at 16 kHz), in order, as "471930";
    "" when nothing was heard."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak < 1e-4:
        return ""
    pcm = (np.clip(audio * (_PEAK / peak), -1.0, 1.0) * 32767).astype("<i2")
    # Half a second of silence either side: the recogniser's first and last frames
    # are otherwise cut into a word spoken right at the edge.
    pad = np.zeros(SAMPLE_RATE // 2, "<i2")
    raw = np.concatenate([pad, pcm, pad]).tobytes()
    with _LOCK:
        decoder = _decoder()
        decoder.start_utt()
        decoder.process_raw(raw, full_utt=True)
        decoder.end_utt()
        hypothesis = decoder.hyp()
    if hypothesis is None:
        return ""
    words = hypothesis.hypstr.split()
    return "".join(str(DIGIT_WORDS.index("zero" if w == "oh" else w)) for w in words)
