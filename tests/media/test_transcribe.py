"""Transcripts of what a clip says, for engines that return none: the sim's espeak-ng
speech heard by PocketSphinx, and the pipeline handing the words to the clip check and the
sidecar. WER bounds are what benchmarks/transcribe_wer.py measured (docs/BENCHMARKS.md):
synthetic voices are heard poorly, so the bounds are loose on purpose, and tight enough
that a decoder hearing nothing or noise fails them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reelforge import pipeline
from reelforge.deployment import Deployment
from reelforge.engines import _REGISTRY, register
from reelforge.engines.sim import SimEngine
from reelforge.engines.sim.speech import synthesize
from reelforge.media.transcribe import transcribe, word_error_rate
from reelforge.settings import Settings
from reelforge.types import Clip, Request, Voice

LINES = ("I think we should go to the park.", "The weather is lovely this morning.")


def test_word_error_rate_counts_edits_over_reference_words() -> None:
    assert word_error_rate("The cat sat.", "the cat sat") == 0.0
    assert word_error_rate("the cat sat on the mat", "the cat sat on a hat") == pytest.approx(2 / 6)
    assert word_error_rate("a b", "a x b y") == 1.0  # two insertions
    assert word_error_rate("a b c d", "") == 1.0


def test_the_sims_speech_is_heard_roughly_and_silence_not_at_all() -> None:
    voice = Voice(espeak_voice="en-us+f2")  # one of the sim's voices (recaption/rules.py)
    rates = []
    for line in LINES:
        utterance = synthesize(line, voice)
        segments = transcribe(utterance.audio, utterance.sample_rate)
        heard = " ".join(segment.text for segment in segments)
        rates.append(word_error_rate(line, heard))
        assert segments and 0 <= segments[0].start_s < segments[-1].end_s <= utterance.duration_s
    # Measured: 0.25 ("i think we shall go to the dollar") and 0.83 ("the weather is not
    # read the smaller the"). Far from perfect; a decoder hearing noise scores about 1.
    assert min(rates) <= 0.4 and float(np.mean(rates)) <= 0.75, rates
    assert transcribe(np.zeros((2, 48_000), np.float32), 48_000) == []


class DeafSim(SimEngine):
    """The sim, but returning no transcript, as a learned engine does."""

    name = "deaf-sim"

    def generate(self, *args: Any, **kwargs: Any) -> Clip:
        clip = super().generate(*args, **kwargs)
        clip.speech = []
        return clip


def test_an_engine_without_a_transcript_is_heard_for_the_clip_check(
    tmp_path: Path, settings: Settings
) -> None:
    register("deaf-sim", DeafSim)
    seen: list[list[str]] = []
    deployment = Deployment(settings)
    policy = deployment.policy
    check_clip = policy.check_clip

    def recording_check(caption: str, transcript: list[str], **kwargs: Any) -> Any:
        seen.append(list(transcript))
        return check_clip(caption, transcript, **kwargs)

    try:
        policy.check_clip = recording_check  # type: ignore[method-assign, assignment]
        request = Request(
            prompt='A woman says "I think we should go to the park."',
            seconds=2,
            size="256x448",
            seed=2,
            engine="deaf-sim",
        )
        result = pipeline.generate(request, tmp_path / "c.mp4", deployment=deployment)
    finally:
        policy.check_clip = check_clip  # type: ignore[method-assign]
        _REGISTRY.pop("deaf-sim", None)
    sidecar = json.loads(result.sidecar_path.read_text())
    assert sidecar["speech_source"] == "transcribed (pocketsphinx)"
    heard = " ".join(segment["text"] for segment in sidecar["events"]["speech"])
    assert seen == [[segment["text"] for segment in sidecar["events"]["speech"]]]
    # Measured: "i think we shall go do it" (0.5).
    assert word_error_rate("I think we should go to the park", heard) <= 0.75, heard
    assert "transcribe_s" in sidecar["timings_s"]
