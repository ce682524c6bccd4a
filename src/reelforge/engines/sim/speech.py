"""Speech for 2-D characters: espeak-ng through ctypes, with phoneme timings for lip sync.

The library and its data come from the espeakng-loader wheel (espeak-ng 1.52, pinned), so
every machine speaks alike: Debian 12 and 13 ship different espeak-ng releases, whose
samples differ. The system's libespeak-ng is the fallback where the wheel is missing.
1.52 packs a phoneme's stress mark into its mnemonic ("'oU"; 1.51 says "oU"): it is
dropped, so both read the same phonemes.

`synthesize` runs libespeak-ng (the C library, not the CLI) in synchronous mode with phoneme
events, so every phoneme's start is the exact output sample at which the synthesiser began
it; the audio is resampled 22 050 → 48 000 Hz and peak-normalised. `mouth_aperture` turns
the phonemes into a 0..1 mouth opening per video frame: a viseme openness per phoneme,
smoothed for coarticulation and held nearly shut wherever the audio is silent.

Determinism. libespeak-ng keeps synthesis state between utterances in static variables that
no API call resets (the pitch-flutter phase, the glottal-cycle counter behind "roughness",
the automatic gain, libc `rand()` for breathy voices), so the same text said twice in one
process comes out different (every sample, and the length by up to ~10 ms). We therefore
initialise the library once in this process and never synthesise in it: each utterance is
rendered in a forked child, which starts from that pristine state, sends the samples and
phoneme events back through a pipe and exits. Same text + voice → identical samples,
whatever was said before, in any process. A 3 s sentence takes about 16 ms in all (fork,
voice load, synthesis, resampling). Where there is no `fork` we synthesise in-process,
which is not bit-exact between calls.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import math
import os
import select
import signal
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from reelforge.errors import ConfigError, EngineError
from reelforge.types import AUDIO_SAMPLE_RATE, Voice

__all__ = ["Utterance", "mouth_aperture", "synthesize"]

PEAK = 10 ** (-2 / 20)  # -2 dBFS, about 0.79
PAUSE = "_"
_STRESS = "'," + "%="  # primary, secondary, unstressed, and a syllable's stress marks

# ---------------------------------------------------------------------------------------
# libespeak-ng's C interface (speak_lib.h), as much of it as we use.

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_DONT_EXIT = 0x8000  # return an error instead of calling exit(1)
_BUFFER_MS = 500
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE, _PARAM_VOLUME, _PARAM_PITCH, _PARAM_RANGE = 1, 2, 3, 4
_EVENT_LIST_TERMINATED, _EVENT_PHONEME = 0, 7
_RAND_SEED = 20_240_607  # breathy voice variants draw noise (libc rand(); 1.52: its own)
_CHILD_TIMEOUT_S = 60.0


class _EventId(ctypes.Union):
    _fields_ = (("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8))


class _Event(ctypes.Structure):
    """espeak_EVENT: 40 bytes on 64-bit Linux, `id` at offset 32 (checked against 1.51
    and 1.52)."""

    _fields_ = (
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),  # ms from the start of the Synth call
        ("sample", ctypes.c_int),  # output sample index from the start of the Synth call
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),  # PHONEME: the mnemonic packed in the first 4 bytes of `string`
    )


_ID_OFFSET = _Event.id.offset


class _VoiceSpec(ctypes.Structure):
    """espeak_VOICE, for asking espeak-ng which voice speaks a language such as en-gb."""

    _fields_ = (
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_char_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    )


_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)

# What a render sends back: status, detail, number of samples, number of phoneme events;
# then the int16 samples; then per event the sample index and the 4-byte mnemonic.
_HEADER = struct.Struct("<iiii")
_EVENT = struct.Struct("<i4s")
_OK, _NO_VOICE, _SYNTH_FAILED, _CRASHED = 0, 1, 2, 3


def _load_library() -> tuple[ctypes.CDLL, bytes | None]:
    """libespeak-ng and the folder holding its espeak-ng-data (None: the library's own
    default). The espeakng-loader wheel's first: one pinned espeak-ng with its data, so
    every machine speaks alike (Debian 12 and 13 ship different ones); else the system's."""
    try:
        import espeakng_loader
    except ImportError:
        pass
    else:
        try:
            data = Path(espeakng_loader.get_data_path())
            return ctypes.CDLL(espeakng_loader.get_library_path()), os.fsencode(data.parent)
        except (OSError, RuntimeError):
            pass  # a broken install: the system's espeak-ng, if there is one
    names = [
        ctypes.util.find_library("espeak-ng"),
        "libespeak-ng.so.1",
        "libespeak-ng.so",
        "libespeak-ng.dylib",
        "libespeak-ng.dll",
    ]
    for name in names:
        if name:
            try:
                return ctypes.CDLL(name), None
            except OSError:
                continue
    raise ConfigError(
        "espeak-ng is not installed: libespeak-ng could not be loaded "
        "(pip install espeakng-loader==0.2.4, or on Debian/Ubuntu: apt-get install espeak-ng)"
    )


class _Espeak:
    """The process-wide libespeak-ng, initialised once. Use only under `_LOCK`."""

    def __init__(self) -> None:
        lib, data_parent = _load_library()
        try:
            lib.espeak_Initialize.argtypes = [
                ctypes.c_int,
                ctypes.c_int,
                ctypes.c_char_p,
                ctypes.c_int,
            ]
            lib.espeak_Initialize.restype = ctypes.c_int
            lib.espeak_Info.argtypes = [ctypes.POINTER(ctypes.c_char_p)]
            lib.espeak_Info.restype = ctypes.c_char_p
            lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
            lib.espeak_SetSynthCallback.restype = None
            lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
            lib.espeak_SetVoiceByName.restype = ctypes.c_int
            lib.espeak_ListVoices.argtypes = [ctypes.POINTER(_VoiceSpec)]
            lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_VoiceSpec))
            lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
            lib.espeak_SetParameter.restype = ctypes.c_int
            lib.espeak_Synth.argtypes = [
                ctypes.c_void_p,
                ctypes.c_size_t,
                ctypes.c_uint,
                ctypes.c_int,
                ctypes.c_uint,
                ctypes.c_uint,
                ctypes.c_void_p,
                ctypes.c_void_p,
            ]
            lib.espeak_Synth.restype = ctypes.c_int
            lib.espeak_Synchronize.argtypes = []
            lib.espeak_Synchronize.restype = ctypes.c_int
        except AttributeError as error:
            raise ConfigError(f"libespeak-ng lacks a function reelforge needs: {error}") from None
        rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS,
            _BUFFER_MS,
            data_parent,
            _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_DONT_EXIT,
        )
        if rate <= 0:
            raise ConfigError(
                f"espeak-ng failed to initialise (error {rate}); is its data "
                "(espeak-ng-data) installed?"
            )
        data_path = ctypes.c_char_p()
        version = lib.espeak_Info(ctypes.byref(data_path))
        self.lib = lib
        self.sample_rate = int(rate)
        self.version = (version or b"?").decode("ascii", "replace")
        self.data_dir = Path(os.fsdecode(data_path.value)) if data_path.value else None
        self._chunks: list[bytes] = []
        self._events: list[bytes] = []
        self._failure: str | None = None
        self._callback = _SynthCallback(self._on_audio)  # keep a reference: C holds it
        lib.espeak_SetSynthCallback(self._callback)
        self._srand: Callable[[int], Any] | None = None
        with contextlib.suppress(OSError, AttributeError):  # without libc.srand breathy voices vary
            self._srand = ctypes.CDLL(None).srand
        # 1.52 draws its noise from its own generator, seeded from the clock at start-up.
        self._seed_espeak: Callable[[int], Any] | None = None
        with contextlib.suppress(AttributeError):  # 1.51 has none (it uses libc's)
            lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
            lib.espeak_ng_SetRandSeed.restype = None
            self._seed_espeak = lib.espeak_ng_SetRandSeed

    def _on_audio(self, wav: Any, n_samples: int, events: Any) -> int:
        """espeak-ng's synth callback: collect samples and phoneme events (0: carry on)."""
        try:
            if wav and n_samples > 0:
                self._chunks.append(ctypes.string_at(wav, 2 * n_samples))
            i = 0
            while events[i].type != _EVENT_LIST_TERMINATED:
                event = events[i]
                if event.type == _EVENT_PHONEME:
                    # The mnemonic is packed into the first 4 bytes of id.string, NUL-padded
                    # when shorter; the next 4 bytes are not part of it.
                    mnemonic = ctypes.string_at(ctypes.addressof(event) + _ID_OFFSET, 4)
                    self._events.append(_EVENT.pack(event.sample, mnemonic))
                i += 1
        except BaseException as error:  # an exception must not cross into C
            self._failure = f"{type(error).__name__}: {error}"
            return 1  # 1: abort the synthesis
        return 0

    def check_voice(self, name: str) -> None:
        """Raise EngineError unless `name` is 'voice' or 'voice+variant' with a real variant.

        espeak-ng silently ignores an unknown variant, so we look for its file ourselves.
        """
        base, plus, variant = name.partition("+")
        if not base.strip() or "\0" in name:
            raise EngineError(f"unknown espeak-ng voice {name!r}", param="espeak_voice")
        if not plus or self.data_dir is None:
            return
        if variant.isdigit():  # espeak-ng's numbered variants: +3 → m3, +13 → f3, +0 → none
            number = int(variant)
            if number == 0:
                return
            variant = f"m{number}" if number < 10 else f"f{number - 10}"
        variants_dir = self.data_dir / "voices" / "!v"
        try:
            known = set(os.listdir(variants_dir))
        except OSError:
            return  # an unusual data layout: let espeak-ng decide
        if variant not in known:
            raise EngineError(
                f"unknown espeak-ng voice variant {variant!r} in voice {name!r}",
                param="espeak_voice",
            )

    def _select_voice(self, name: str) -> int:
        lib = self.lib
        status = int(lib.espeak_SetVoiceByName(name.encode()))
        if status == 0:
            return 0
        # SetVoiceByName knows voice names and files ("en-us" is lang/gmw/en-US) but not
        # every language code ("en-gb" is lang/gmw/en): ask for the best voice of that
        # language, as the espeak-ng CLI does, and keep the variant.
        base, plus, variant = name.partition("+")
        spec = _VoiceSpec(languages=base.encode())
        voices = lib.espeak_ListVoices(ctypes.byref(spec))
        i = 0
        while voices and voices[i]:
            identifier = voices[i].contents.identifier
            i += 1
            if identifier and not identifier.startswith(b"mb/"):  # mbrola: not installed
                full = identifier + (b"+" + variant.encode() if plus else b"")
                return int(lib.espeak_SetVoiceByName(full))
        return status

    def render(self, text: bytes, voice: Voice) -> bytes:
        """Synthesise in this process; returns the packed result (see `_HEADER`)."""
        lib = self.lib
        self._chunks.clear()
        self._events.clear()
        self._failure = None
        if self._srand is not None:
            self._srand(_RAND_SEED)
        if self._seed_espeak is not None:
            self._seed_espeak(_RAND_SEED)
        status = self._select_voice(voice.espeak_voice)
        if status != 0:
            return _HEADER.pack(_NO_VOICE, status, 0, 0)
        for param, value in (
            (_PARAM_RATE, voice.rate_wpm),
            (_PARAM_VOLUME, 100),
            (_PARAM_PITCH, voice.pitch),
            (_PARAM_RANGE, 50),
        ):
            lib.espeak_SetParameter(param, int(value), 0)
        buffer = ctypes.create_string_buffer(text)
        status = int(
            lib.espeak_Synth(buffer, len(text) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        )
        lib.espeak_Synchronize()
        if self._failure is not None:
            message = self._failure.encode("utf-8", "replace")
            return _HEADER.pack(_CRASHED, 0, len(message), 0) + message
        if status != 0:
            return _HEADER.pack(_SYNTH_FAILED, status, 0, 0)
        audio = b"".join(self._chunks)
        events = b"".join(self._events)
        self._chunks.clear()
        self._events.clear()
        return _HEADER.pack(_OK, 0, len(audio) // 2, len(events) // _EVENT.size) + audio + events


_LOCK = threading.Lock()
_ENGINE: _Espeak | None = None


def _engine() -> _Espeak:
    """The initialised library. Call with `_LOCK` held."""
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = _Espeak()
    return _ENGINE


# ---------------------------------------------------------------------------------------
# Running a render in a forked child.


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _in_child(work: Callable[[], bytes]) -> bytes:
    """Run `work` in a forked child and return its bytes; the parent's state is untouched."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return, never run the parent's cleanup
        code = 0
        try:
            os.close(read_fd)
            try:
                payload = work()
            except BaseException as error:
                message = f"{type(error).__name__}: {error}".encode("utf-8", "replace")
                payload = _HEADER.pack(_CRASHED, 0, len(message), 0) + message
            _write_all(write_fd, payload)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    chunks: list[bytes] = []
    deadline = time.monotonic() + _CHILD_TIMEOUT_S
    finished = False
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            ready, _, _ = select.select([read_fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                finished = True
                break
            chunks.append(chunk)
    finally:
        os.close(read_fd)
        if not finished:
            os.kill(pid, signal.SIGKILL)
        # ChildProcessError: the host application ignores SIGCHLD, so it is already reaped.
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    if not finished:
        raise EngineError(f"espeak-ng did not finish within {_CHILD_TIMEOUT_S:g} s")
    return b"".join(chunks)


def _render(text: bytes, voice: Voice) -> tuple[int, np.ndarray, list[tuple[int, str]]]:
    """(sample rate, int16 samples, [(start sample, mnemonic)]) for `text` in `voice`."""
    with _LOCK:
        engine = _engine()
        engine.check_voice(voice.espeak_voice)
        if hasattr(os, "fork"):
            packed = _in_child(lambda: engine.render(text, voice))
        else:  # pragma: no cover - not bit-exact between calls, see the module docstring
            packed = engine.render(text, voice)
        sample_rate = engine.sample_rate
    name = voice.espeak_voice
    if len(packed) < _HEADER.size:
        raise EngineError(f"espeak-ng crashed while speaking in voice {name!r}")
    status, detail, n_samples, n_events = _HEADER.unpack_from(packed)
    if status == _NO_VOICE:
        raise EngineError(
            f"unknown espeak-ng voice {name!r} (espeak-ng error {detail})", param="espeak_voice"
        )
    if status == _SYNTH_FAILED:
        raise EngineError(f"espeak-ng failed to speak in voice {name!r} (error {detail})")
    if status == _CRASHED:
        message = packed[_HEADER.size : _HEADER.size + n_samples].decode("utf-8", "replace")
        raise EngineError(f"espeak-ng failed to speak in voice {name!r}: {message}")
    audio_end = _HEADER.size + 2 * n_samples
    if status != _OK or len(packed) != audio_end + n_events * _EVENT.size:
        raise EngineError(f"espeak-ng returned a malformed result in voice {name!r}")
    samples = np.frombuffer(packed, dtype="<i2", count=n_samples, offset=_HEADER.size)
    events = []
    for sample, raw in _EVENT.iter_unpack(packed[audio_end:]):
        mnemonic = raw.split(b"\0", 1)[0].decode("utf-8", "replace")
        events.append((int(sample), mnemonic or "?"))
    return sample_rate, samples, events


def _resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling by zero-padding the spectrum (espeak-ng's output starts and
    ends in silence, so the FFT's circular edges do not matter). numpy only: importing
    scipy.signal costs more than the whole synthesis."""
    n = samples.shape[0]
    if n == 0:
        return samples
    m = round(n * rate_out / rate_in)
    return np.fft.irfft(np.fft.rfft(samples), m) * (m / n)


# ---------------------------------------------------------------------------------------
# The public API.


@dataclass(frozen=True, eq=False)
class Utterance:
    """One synthesised line: mono audio and the phonemes in it.

    `audio` is float32 (S,) at `sample_rate` (48 kHz), peak-normalised to -2 dBFS and read-only.
    `phonemes` are (start_s, end_s, mnemonic) in espeak-ng's mnemonics ("h", "@", "oU"),
    relative to audio sample 0, contiguous from 0 to `duration_s`; pauses, including the
    silence espeak-ng puts before and after speech, are "_".
    """

    audio: np.ndarray
    sample_rate: int
    phonemes: tuple[tuple[float, float, str], ...]

    @property
    def duration_s(self) -> float:
        return self.audio.shape[0] / self.sample_rate


def synthesize(text: str, voice: Voice) -> Utterance:
    """Speak `text` in `voice` with espeak-ng. Same text and voice → identical samples.

    Raises ConfigError if libespeak-ng cannot be loaded, EngineError for an unknown voice or
    variant or a failed synthesis. Text with nothing to say gives an empty utterance.
    """
    clean = text.replace("\0", " ")
    if not clean.strip():
        empty = np.zeros(0, dtype=np.float32)
        empty.flags.writeable = False
        return Utterance(empty, AUDIO_SAMPLE_RATE, ())
    native_rate, samples, events = _render(clean.encode("utf-8"), voice)

    audio = _resample(samples.astype(np.float64), native_rate, AUDIO_SAMPLE_RATE)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > 0:
        audio *= PEAK / peak
    audio32 = audio.astype(np.float32)
    audio32.flags.writeable = False
    duration_s = audio32.shape[0] / AUDIO_SAMPLE_RATE
    return Utterance(
        audio32,
        AUDIO_SAMPLE_RATE,
        _phoneme_spans(events, samples.shape[0], native_rate, duration_s),
    )


def _phoneme_spans(
    events: list[tuple[int, str]], n_samples: int, sample_rate: int, duration_s: float
) -> tuple[tuple[float, float, str], ...]:
    """Contiguous (start_s, end_s, mnemonic) from 0 to `duration_s`; every pause is "_"."""
    starts = [0]
    labels = [PAUSE]
    for sample, mnemonic in events:
        # Clamp into the audio and keep time moving forward, whatever the library says.
        starts.append(min(max(sample, starts[-1]), n_samples))
        # espeak-ng 1.52 packs the stress mark into the mnemonic ("'oU"; 1.51: "oU").
        mnemonic = mnemonic.lstrip(_STRESS) or mnemonic
        labels.append(PAUSE if mnemonic.startswith(PAUSE) else mnemonic)
    spans: list[tuple[float, float, str]] = []
    for i, (start, label) in enumerate(zip(starts, labels, strict=True)):
        end_s = starts[i + 1] / sample_rate if i + 1 < len(starts) else duration_s
        start_s = start / sample_rate
        if end_s <= start_s:
            continue
        if spans and spans[-1][2] == PAUSE == label:
            spans[-1] = (spans[-1][0], end_s, PAUSE)
        else:
            spans.append((start_s, end_s, label))
    if spans:  # the 48 kHz audio may be a fraction of a sample longer than the native one
        spans[-1] = (spans[-1][0], duration_s, spans[-1][2])
    return tuple(spans)


# ---------------------------------------------------------------------------------------
# Mouth shapes.

_VOWEL_OPENNESS = {
    "a": 1.0,
    "A": 1.0,  # open: a, a#, aa, A:, A@, aI, aU (diphthongs by their first part)
    "0": 0.9,
    "V": 0.85,  # lot (British), strut
    "E": 0.75,
    "O": 0.75,
    "e": 0.65,
    "o": 0.65,
    "@": 0.6,
    "3": 0.6,  # mid
    "U": 0.45,
    "I": 0.4,
    "u": 0.4,
    "i": 0.35,
    "Y": 0.4,
    "y": 0.35,  # close
}
_CONSONANT_OPENNESS = {
    "p": 0.0,
    "b": 0.0,
    "m": 0.0,  # bilabials: lips shut
    "f": 0.12,
    "v": 0.12,  # lip on teeth
    "w": 0.15,  # rounded, nearly closed
    "s": 0.2,
    "z": 0.2,
    "S": 0.2,
    "Z": 0.2,
    "T": 0.22,
    "D": 0.22,  # teeth close together
    "r": 0.25,
    "j": 0.25,
    "t": 0.25,
    "d": 0.25,
    "n": 0.25,
    "l": 0.3,
    "k": 0.3,
    "g": 0.3,
    "N": 0.3,
    "x": 0.3,
    "C": 0.3,
    "h": 0.35,
    "?": 0.1,
}
_OTHER_CONSONANT = 0.25
_GRID_S = 0.001  # the aperture track is built at 1 ms steps
_SMOOTH_S = 0.060  # Hann window length for coarticulation (effective width ~30 ms)
_GATE_WINDOW_S = 0.020  # loudness measured over 20 ms
_SILENCE_DBFS = -45.0  # below this the mouth stays (nearly) shut
_GATE_KNEE_DB = 6.0  # ...and opens fully 6 dB above it
_SHUT = 0.05


@lru_cache(maxsize=512)
def _openness(mnemonic: str) -> float:
    """How far the mouth opens (0..1) for one espeak-ng phoneme mnemonic."""
    if not mnemonic or mnemonic.startswith(PAUSE):
        return 0.0
    if mnemonic.startswith(("tS", "dZ")):  # church, judge
        return 0.2
    first = mnemonic[0]
    if first in _VOWEL_OPENNESS:
        return _VOWEL_OPENNESS[first]
    return _CONSONANT_OPENNESS.get(first, _OTHER_CONSONANT)


def _aperture_track(utterance: Utterance) -> np.ndarray:
    """Mouth opening at 1 ms steps from 0 to the end of the utterance."""
    n = math.ceil(utterance.duration_s / _GRID_S) + 1
    target = np.zeros(n, dtype=np.float64)
    for start_s, end_s, mnemonic in utterance.phonemes:
        target[round(start_s / _GRID_S) : round(end_s / _GRID_S)] = _openness(mnemonic)

    # Coarticulation: the lips move continuously, starting toward the next shape before the
    # sound changes and finishing after it. A symmetric window does both.
    taps = max(3, round(_SMOOTH_S / _GRID_S) | 1)
    window = np.hanning(taps + 2)[1:-1]
    track = np.convolve(target, window / window.sum(), mode="same")

    # Gate by the audio: where the utterance is silent the mouth is (nearly) shut.
    audio = utterance.audio.astype(np.float64)
    rate = utterance.sample_rate
    energy = np.concatenate(([0.0], np.cumsum(audio * audio)))
    centres = np.round(np.arange(n) * _GRID_S * rate).astype(np.int64)
    half = round(_GATE_WINDOW_S * rate / 2)
    lo = np.clip(centres - half, 0, audio.size)
    hi = np.clip(centres + half, 0, audio.size)
    mean_square = (energy[hi] - energy[lo]) / np.maximum(hi - lo, 1)
    level_db = 10 * np.log10(mean_square + 1e-20)
    opening = np.clip((level_db - _SILENCE_DBFS) / _GATE_KNEE_DB, 0.0, 1.0)
    track = np.minimum(track, _SHUT + (1 - _SHUT) * opening)
    return np.clip(track, 0.0, 1.0)


def mouth_aperture(utterance: Utterance, times_s: np.ndarray) -> np.ndarray:
    """Mouth opening (float32, 0 shut .. 1 wide open) at `times_s`, seconds from the start.

    0 outside the utterance. Built from per-phoneme viseme openness (bilabials shut, open
    vowels wide), smoothed for coarticulation, and kept at most 0.05 where the audio is
    silent, so the opening follows the loudness of the speech.
    """
    times = np.asarray(times_s, dtype=np.float64)
    if utterance.audio.size == 0 or not utterance.phonemes:
        return np.zeros(times.shape, dtype=np.float32)
    track = _aperture_track(utterance)
    grid = np.arange(track.size) * _GRID_S
    safe = np.where(np.isfinite(times), times, -1.0)
    out = np.interp(safe, grid, track, left=0.0, right=0.0)
    out[(safe < 0) | (safe > utterance.duration_s)] = 0.0
    return out.astype(np.float32)
