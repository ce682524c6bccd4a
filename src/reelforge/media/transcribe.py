"""What a clip says, heard offline: PocketSphinx with the US English acoustic model,
dictionary and language model its wheel ships (no download, no network).

A learned engine (dit, ltx2) makes speech but returns no transcript, so without this the
post-generation policy check would read nothing of what its clips say. The pipeline
transcribes a clip's audio when its engine gave no speech, and hands the words to the
clip check and the sidecar as the clip's speech.

1. Mix to mono and resample to 16 kHz (what the acoustic model was trained on).
2. Peak-normalise (PocketSphinx's features are level-dependent) and pad half a second of
   silence either side (a word at the very edge is otherwise cut).
3. Decode the whole clip as one utterance, cepstral mean normalised over all of it
   ("batch", which a complete recording allows), with the free-speech language model.
4. Words (fillers and silences dropped) with their times become segments, split where
   the speaker pauses for longer than SEGMENT_GAP_S.

How good it is: benchmarks/transcribe_wer.py measures the word error rate on the sim's
espeak-ng voices (docs/BENCHMARKS.md). Synthetic voices are far from the human speech the
model was trained on, so the transcript is a coarse net for the policy, not a record of
what was said.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reelforge.media.resampling import resample
from reelforge.media.sphinx import PAD_S, SAMPLE_RATE, SharedDecoder
from reelforge.types import SpeechSegment

FRAME_S = 0.01  # PocketSphinx's frames are 10 ms
SEGMENT_GAP_S = 0.6
_SILENT_PEAK = 1e-3  # quieter than this everywhere: nothing to hear
SPEAKER = "?"  # a transcript cannot tell who spoke


def _free_speech_decoder(config: Any, decoder_class: Any) -> Any:
    # The defaults are the bundled en-us acoustic model, cmudict and en-us.lm.bin.
    return decoder_class(config(loglevel="FATAL", cmn="batch"))


# One decoder: clips are heard one at a time.
_DECODER = SharedDecoder("transcribes learned engines' speech", _free_speech_decoder)


def transcribe(audio: np.ndarray, sample_rate: int) -> list[SpeechSegment]:
    """The speech in `audio` (float32 (C, S) or (S,) in [-1, 1] at `sample_rate`), as
    segments of words with their times in seconds from sample 0; [] when nothing is
    heard."""
    # 1. Mono, 16 kHz.
    mono = audio if audio.ndim == 1 else audio.mean(axis=0)  # (S,)
    mono = resample(mono[None].astype(np.float32), sample_rate, SAMPLE_RATE)[0]
    peak = float(np.max(np.abs(mono))) if mono.size else 0.0
    if peak < _SILENT_PEAK:
        return []

    # 2-3. Levelled, padded, one utterance (media/sphinx.py); times from the padded start.
    words = _DECODER.decode(
        mono,
        lambda decoder: [
            (_plain(seg.word), seg.start_frame * FRAME_S - PAD_S, seg.end_frame * FRAME_S - PAD_S)
            for seg in decoder.seg()
            if _is_word(seg.word)
        ],
    )

    # 4. Segments at pauses.
    return _segments([(w, max(0.0, s), max(0.0, e)) for w, s, e in words])


def _is_word(token: str) -> bool:
    """Not silence (<s>, </s>, <sil>) nor a filler ([NOISE], ++UH++)."""
    return not (token.startswith(("<", "[", "+")) or token in ("", "NULL"))


def _plain(token: str) -> str:
    """cmudict's alternative pronunciations are "word(2)": the word is "word"."""
    return token.split("(", 1)[0]


def _segments(words: list[tuple[str, float, float]]) -> list[SpeechSegment]:
    segments: list[SpeechSegment] = []
    current: list[tuple[str, float, float]] = []
    for word in words:
        if current and word[1] - current[-1][2] > SEGMENT_GAP_S:
            segments.append(_segment(current))
            current = []
        current.append(word)
    if current:
        segments.append(_segment(current))
    return segments


def _segment(words: list[tuple[str, float, float]]) -> SpeechSegment:
    text = " ".join(word for word, _, _ in words)
    return SpeechSegment(character=SPEAKER, text=text, start_s=words[0][1], end_s=words[-1][2])


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, over lowercase words
    with punctuation dropped: the usual WER (it can exceed 1)."""
    ref, hyp = _words(reference), _words(hypothesis)
    if not ref:
        return float(bool(hyp))
    previous = list(range(len(hyp) + 1))  # edit distance, one row at a time
    for i, r in enumerate(ref, 1):
        row = [i]
        for j, h in enumerate(hyp, 1):
            row.append(min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = row
    return previous[-1] / len(ref)


def _words(text: str) -> list[str]:
    cleaned = "".join(c if c.isalnum() or c in " '" else " " for c in text.lower())
    return cleaned.split()
