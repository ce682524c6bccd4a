"""Speech for the sim engine: the real libespeak-ng through ctypes, no mocks."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

from reelforge.engines.sim.speech import Utterance, mouth_aperture, synthesize
from reelforge.errors import EngineError
from reelforge.types import Voice

HELLO = "Hello there, how are you today?"
VOWEL_STARTS = tuple("aAeEiIoOuUV03@")


@pytest.fixture(scope="module")
def hello() -> Utterance:
    return synthesize(HELLO, Voice(espeak_voice="en-us+f3"))


def _speech_spans(utterance: Utterance) -> list[tuple[float, float, str]]:
    return [span for span in utterance.phonemes if span[2] != "_"]


def _frame_rms(utterance: Utterance, times_s: np.ndarray, fps: int) -> np.ndarray:
    """RMS of the audio over one frame centred on each frame time."""
    rate = utterance.sample_rate
    half = rate / fps / 2
    out = np.zeros(times_s.size)
    for i, t in enumerate(times_s):
        lo, hi = max(0, round(t * rate - half)), min(utterance.audio.size, round(t * rate + half))
        if hi > lo:
            out[i] = np.sqrt(np.mean(utterance.audio[lo:hi].astype(np.float64) ** 2))
    return out


def _lip_sync_correlation(utterance: Utterance, fps: int = 24) -> float:
    times = np.arange(int(np.ceil(utterance.duration_s * fps))) / fps
    aperture = mouth_aperture(utterance, times)
    return float(np.corrcoef(aperture, _frame_rms(utterance, times, fps))[0, 1])


def _fundamental_hz(utterance: Utterance) -> float:
    """F0 in the middle of the longest vowel: first strong autocorrelation peak, 50-400 Hz."""
    start, end, _ = max(
        (s for s in utterance.phonemes if s[2].startswith(VOWEL_STARTS)), key=lambda s: s[1] - s[0]
    )
    rate = utterance.sample_rate
    middle = (start + end) / 2
    x = utterance.audio[round((middle - 0.05) * rate) : round((middle + 0.05) * rate)]
    x = sosfiltfilt(butter(4, 400, fs=rate, output="sos"), x.astype(np.float64))
    x -= x.mean()
    ac = np.correlate(x, x, "full")[x.size - 1 :]
    ac /= ac[0]
    lo, hi = rate // 400, rate // 50
    seg = ac[lo:hi]
    peaks = [i for i in range(1, seg.size - 1) if seg[i] >= seg[i - 1] and seg[i] > seg[i + 1]]
    best = max(seg[i] for i in peaks)
    first = next(i for i in peaks if seg[i] >= 0.8 * best)
    return rate / (lo + first)


def test_synthesize_gives_48k_audio_with_phonemes_covering_the_speech(hello: Utterance) -> None:
    assert hello.sample_rate == 48_000
    assert hello.audio.dtype == np.float32 and hello.audio.ndim == 1
    assert 1.0 <= hello.duration_s <= 4.0
    assert hello.duration_s == pytest.approx(hello.audio.size / 48_000)
    peak = float(np.abs(hello.audio).max())
    assert peak == pytest.approx(10 ** (-2 / 20), abs=1e-3)  # -2 dBFS
    assert float(np.sqrt(np.mean(hello.audio.astype(np.float64) ** 2))) > 0.05

    starts = [s for s, _, _ in hello.phonemes]
    assert hello.phonemes[0][0] == 0.0
    assert all(end > start for start, end, _ in hello.phonemes)
    assert starts == sorted(starts)
    for (_, end, _), (start, _, _) in zip(hello.phonemes, hello.phonemes[1:], strict=False):
        assert end == pytest.approx(start)  # contiguous
    assert hello.phonemes[-1][1] == pytest.approx(hello.duration_s, abs=1e-9)

    labels = [m for _, _, m in hello.phonemes]
    assert labels[:5] == ["_", "h", "@", "l", "oU"]  # "Hello": espeak's own mnemonics
    assert "_" in labels[1:-1]  # the comma's pause

    # The loud part of the audio lies within the spoken phonemes; pauses are nearly silent.
    speech = _speech_spans(hello)
    loud = np.nonzero(np.abs(hello.audio) > 0.1 * peak)[0] / hello.sample_rate
    assert loud[0] >= speech[0][0] - 0.005
    assert loud[-1] <= speech[-1][1] + 0.02
    energy = hello.audio.astype(np.float64) ** 2
    in_pauses = sum(
        energy[round(s * 48_000) : round(e * 48_000)].sum()
        for s, e, m in hello.phonemes
        if m == "_"
    )
    assert in_pauses < 0.01 * energy.sum()
    assert not hello.audio.flags.writeable


def test_same_text_and_voice_give_identical_samples(hello: Utterance) -> None:
    # Another voice in between must not leak state into the next utterance.
    synthesize("Something else entirely.", Voice(espeak_voice="en-gb+m1", pitch=80))
    again = synthesize(HELLO, Voice(espeak_voice="en-us+f3"))
    np.testing.assert_array_equal(again.audio, hello.audio)
    assert again.phonemes == hello.phonemes


def test_concurrent_calls_are_safe_and_identical(hello: Utterance) -> None:
    results: list[Utterance] = []

    def speak() -> None:
        results.append(synthesize(HELLO, Voice(espeak_voice="en-us+f3")))

    threads = [threading.Thread(target=speak) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4
    for result in results:
        np.testing.assert_array_equal(result.audio, hello.audio)


@pytest.mark.parametrize(
    ("text", "voice"),
    [
        (HELLO, Voice(espeak_voice="en-us+f3")),
        ("I am very well, thank you for asking.", Voice(espeak_voice="en-gb+m1", pitch=30)),
    ],
)
def test_mouth_follows_the_loudness_of_speech(text: str, voice: Voice) -> None:
    utterance = synthesize(text, voice)
    assert _lip_sync_correlation(utterance) >= 0.5


def test_mouth_aperture_range_and_silence(hello: Utterance) -> None:
    times = np.linspace(-0.5, hello.duration_s + 0.5, 400)
    aperture = mouth_aperture(hello, times)
    assert aperture.dtype == np.float32 and aperture.shape == times.shape
    assert aperture.min() >= 0.0 and aperture.max() <= 1.0
    assert aperture.max() > 0.8  # open vowels open the mouth wide
    outside = (times < 0) | (times > hello.duration_s)
    assert np.all(aperture[outside] == 0.0)
    # In the middle of the comma's pause the audio is silent, so the mouth is (nearly) shut.
    pause = next(s for s in hello.phonemes[1:-1] if s[2] == "_")
    assert mouth_aperture(hello, np.array([(pause[0] + pause[1]) / 2]))[0] <= 0.05
    assert np.all(mouth_aperture(hello, np.array([np.nan, np.inf, -np.inf])) == 0.0)


def test_bilabial_m_closes_the_mouth_before_the_vowel() -> None:
    utterance = synthesize("mama mia", Voice(espeak_voice="en-us+m3"))
    pairs = [
        (a, b)
        for a, b in zip(utterance.phonemes, utterance.phonemes[1:], strict=False)
        if a[2] == "m" and b[2].startswith(("a", "A"))
    ]
    assert len(pairs) >= 2
    for m, vowel in pairs:
        during_m, during_vowel = mouth_aperture(
            utterance, np.array([(m[0] + m[1]) / 2, (vowel[0] + vowel[1]) / 2])
        )
        assert during_m < 0.2
        assert during_m < during_vowel - 0.3


@pytest.mark.parametrize(("name", "low", "high"), [("en-us+f3", 20, 80), ("en-us+m3", 50, 90)])
def test_higher_pitch_raises_the_fundamental(name: str, low: int, high: int) -> None:
    f0_low = _fundamental_hz(synthesize(HELLO, Voice(espeak_voice=name, pitch=low)))
    f0_high = _fundamental_hz(synthesize(HELLO, Voice(espeak_voice=name, pitch=high)))
    assert 60 < f0_low < f0_high < 400
    assert f0_high > 1.3 * f0_low


def test_en_gb_resolves_to_the_british_voice_with_its_variant() -> None:
    # espeak_SetVoiceByName does not know "en-gb"; it must still speak British English.
    british = synthesize("Not a lot of hot coffee.", Voice(espeak_voice="en-gb+m1"))
    american = synthesize("Not a lot of hot coffee.", Voice(espeak_voice="en-us+m1"))
    other_variant = synthesize("Not a lot of hot coffee.", Voice(espeak_voice="en-gb+f3"))
    labels = [m for _, _, m in british.phonemes]
    assert labels != [m for _, _, m in american.phonemes]
    assert labels == [m for _, _, m in other_variant.phonemes]
    assert british.audio.size != other_variant.audio.size or not np.array_equal(
        british.audio, other_variant.audio
    )


@pytest.mark.parametrize("name", ["zz", "xx+m3", "en-us+nosuchvariant"])
def test_unknown_voice_raises_engine_error_naming_it(name: str) -> None:
    with pytest.raises(EngineError, match=re.escape(repr(name))):
        synthesize("Hello.", Voice(espeak_voice=name))


def test_nothing_to_say_gives_an_empty_utterance() -> None:
    utterance = synthesize("   ", Voice(espeak_voice="en-us+m3"))
    assert utterance.audio.size == 0 and utterance.phonemes == () and utterance.duration_s == 0
    assert np.all(mouth_aperture(utterance, np.array([0.0, 0.5])) == 0.0)


def test_the_pinned_espeak_ng_speaks_not_the_systems() -> None:
    """The same speech on every machine: the library and data of the espeakng-loader wheel
    (espeak-ng 1.52), whatever espeak-ng the system has or lacks."""
    import espeakng_loader

    from reelforge.engines.sim import speech

    synthesize("Hi.", Voice(espeak_voice="en-us"))  # the library is loaded on first use
    espeak = speech._ENGINE
    assert espeak is not None and espeak.version == "1.52.0"
    assert espeak.data_dir is not None
    assert espeak.data_dir.resolve() == Path(espeakng_loader.get_data_path()).resolve()


def test_stress_marks_are_not_part_of_a_phoneme() -> None:
    """espeak-ng 1.52 packs the stress mark into a phoneme's mnemonic ("'oU"); 1.51 did not.
    The phonemes lip sync reads are the same from both."""
    from reelforge.engines.sim.speech import _phoneme_spans

    spans = _phoneme_spans([(0, "h"), (100, "'oU"), (300, ",aI"), (400, "_:")], 500, 1000, 0.5)
    assert [label for _, _, label in spans] == ["h", "oU", "aI", "_"]
    utterance = synthesize("Hello.", Voice(espeak_voice="en-us"))
    assert not any(label[0] in "'," for _, _, label in utterance.phonemes)


def test_breathy_voices_are_identical_in_every_process() -> None:
    """Variants that add noise (f3, whisper) draw it from a generator espeak-ng 1.52 seeds
    from the clock; it is reseeded before each line, so another process says the same."""
    import hashlib
    import subprocess
    import sys

    code = (
        "import hashlib, sys\n"
        "from reelforge.engines.sim.speech import synthesize\n"
        "from reelforge.types import Voice\n"
        "for voice in ('en-us+f3', 'en-us+whisper'):\n"
        "    u = synthesize('Order up! Table four is waiting.', Voice(espeak_voice=voice))\n"
        "    print(hashlib.sha256(u.audio.tobytes()).hexdigest())\n"
    )
    here = [
        hashlib.sha256(
            synthesize("Order up! Table four is waiting.", Voice(espeak_voice=v)).audio.tobytes()
        ).hexdigest()
        for v in ("en-us+f3", "en-us+whisper")
    ]
    for _ in range(2):
        there = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
        ).stdout.split()
        assert there == here
