"""PocketSphinx as reelforge uses it (cameo takes' digits, learned engines' speech): one
decoder per use, built on first need from the models its wheel ships and kept, decoding
one recording at a time under its lock (a decoder is not thread-safe), and the recording
handed over as one utterance of 16 kHz 16-bit PCM, peak-levelled (its features are
level-dependent) with half a second of silence either side (a word right at the edge is
otherwise cut).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from reelforge.errors import ConfigError

SAMPLE_RATE = 16_000
PAD_S = 0.5
_PEAK = 0.5


class SharedDecoder:
    """A PocketSphinx decoder made by `build(Config, Decoder)` when first needed; `why`
    says what it is for, in the error a missing pocketsphinx gives."""

    def __init__(self, why: str, build: Callable[[Any, Any], Any]) -> None:
        self._why = why
        self._build = build
        self._lock = threading.Lock()
        self._decoder: Any = None

    def decode(self, audio: np.ndarray, read: Callable[[Any], Any]) -> Any:
        """Decode `audio` (float32 (S,) mono at SAMPLE_RATE, not silent) as one utterance
        and return `read(decoder)`, called while the decoder still holds the result."""
        with self._lock:
            decoder = self._loaded()
            decoder.start_utt()
            decoder.process_raw(_padded_pcm(audio), full_utt=True)
            decoder.end_utt()
            return read(decoder)

    def _loaded(self) -> Any:
        if self._decoder is None:
            try:
                from pocketsphinx import Config, Decoder
            except ImportError as error:
                raise ConfigError(
                    f"pocketsphinx is not installed: it {self._why} "
                    "(pip install pocketsphinx==5.1.1)"
                ) from error
            self._decoder = self._build(Config, Decoder)
        return self._decoder


def _padded_pcm(audio: np.ndarray) -> bytes:
    peak = float(np.max(np.abs(audio)))
    pcm = (np.clip(audio * (_PEAK / peak), -1.0, 1.0) * 32767).astype("<i2")
    pad = np.zeros(round(SAMPLE_RATE * PAD_S), "<i2")
    return np.concatenate([pad, pcm, pad]).tobytes()
