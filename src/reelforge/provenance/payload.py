"""The 64-bit watermark payload: error-correcting code, keyed randomness and p-values.

Shared by the video and the audio watermark, which both carry the same payload:

    payload (64 bits) → convolutional code (K = 7, rate 1/3, terminated) → 210 coded bits
    210 soft values read back by a detector → soft Viterbi → payload

The code is the classic K = 7 rate-1/3 code (generators 133, 171, 165 octal; free distance
15). Over soft (Gaussian) channels it gains about 5 dB at a bit error rate of 1e-5 over
sending the 64 bits spread the same way without coding; a repetition code gains nothing
(its "gain" is only the spreading, which both get anyway). Decoding is scale invariant:
the Viterbi metric is a correlation, so soft values need no noise estimate.

Detection p-values come from the sync search: a statistic that is standard normal at each
candidate position under the null (no watermark, or another key), maximised over
`n_tests` candidates, is turned into a family-wise p-value (Šidák). Each detector checks
its own null empirically; see docs/WATERMARK.md.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from reelforge.errors import InvalidRequest

PAYLOAD_BITS = 64
CONSTRAINT_LENGTH = 7
GENERATORS = (0o133, 0o171, 0o165)
TAIL_BITS = CONSTRAINT_LENGTH - 1
CODED_BITS = (PAYLOAD_BITS + TAIL_BITS) * len(GENERATORS)  # 210
_STATES = 1 << TAIL_BITS  # 64


# ---------------------------------------------------------------------------------------
# Checking inputs


def check_payload(payload: int) -> int:
    """`payload` if it is an int in 0..2**64 - 1, else InvalidRequest naming `payload`."""
    if isinstance(payload, bool) or not isinstance(payload, int | np.integer):
        raise InvalidRequest(
            f"payload must be an integer in 0..2**64-1, got {payload!r}", param="payload"
        )
    if not 0 <= int(payload) < 1 << PAYLOAD_BITS:
        raise InvalidRequest(
            f"payload must be an integer in 0..2**64-1, got {payload}", param="payload"
        )
    return int(payload)


def check_key(key: bytes) -> bytes:
    """`key` if it is non-empty bytes, else InvalidRequest naming `key`."""
    if not isinstance(key, bytes | bytearray) or len(key) == 0:
        raise InvalidRequest(
            f"key must be non-empty bytes, got {type(key).__name__} of length "
            f"{len(key) if isinstance(key, bytes | bytearray) else '-'}",
            param="key",
        )
    return bytes(key)


def keyed_rng(key: bytes, label: str) -> np.random.Generator:
    """A generator seeded from SHA-256(key, label): the same key always draws the same
    patterns, and different labels (video, audio, sync, message) draw independent ones."""
    digest = hashlib.sha256(check_key(key) + b"\x00reelforge-watermark\x00" + label.encode())
    return np.random.default_rng(int.from_bytes(digest.digest(), "big"))


# ---------------------------------------------------------------------------------------
# Payload ↔ bits ↔ code


def payload_to_bits(payload: int) -> np.ndarray:
    """Payload → uint8 (64,) bits, most significant first."""
    value = check_payload(payload)
    return np.array([(value >> (PAYLOAD_BITS - 1 - i)) & 1 for i in range(PAYLOAD_BITS)], np.uint8)


def bits_to_payload(bits: np.ndarray) -> int:
    """uint8 (64,) bits, most significant first → payload."""
    value = 0
    for bit in np.asarray(bits, dtype=np.uint8)[:PAYLOAD_BITS]:
        value = (value << 1) | int(bit)
    return value


def _parity(values: np.ndarray) -> np.ndarray:
    out = np.zeros_like(values)
    for shift in range(CONSTRAINT_LENGTH):
        out ^= (values >> shift) & 1
    return out


# Trellis tables. The state is the last 6 input bits, newest in the least significant bit;
# shifting input `bit` into `state` gives register (state << 1) | bit.
_REGISTERS = (np.arange(_STATES)[:, None] << 1) | np.arange(2)[None, :]  # (64 states, 2 inputs)
_NEXT_STATE = _REGISTERS & (_STATES - 1)  # (64, 2)
# ±1 symbols the encoder emits for each (state, input): (64, 2, 3)
_SYMBOLS = np.stack([2.0 * _parity(_REGISTERS & g) - 1.0 for g in GENERATORS], axis=-1)


def encode_payload(payload: int) -> np.ndarray:
    """Payload → float32 (210,) coded symbols in {-1, +1} (bit 1 → +1)."""
    bits = np.concatenate([payload_to_bits(payload), np.zeros(TAIL_BITS, np.uint8)])
    symbols = np.empty((bits.size, len(GENERATORS)), np.float32)  # (70 steps, 3)
    state = 0
    for step, bit in enumerate(bits):
        symbols[step] = _SYMBOLS[state, bit]
        state = int(_NEXT_STATE[state, bit])
    return symbols.reshape(-1)


def viterbi_decode(soft: np.ndarray) -> int:
    """Soft values (210,), positive meaning coded bit 1 (any scale) → the payload whose
    codeword correlates best with them (maximum likelihood for Gaussian noise)."""
    soft = np.asarray(soft, dtype=np.float64).reshape(-1, len(GENERATORS))  # (70 steps, 3)
    if soft.shape[0] != PAYLOAD_BITS + TAIL_BITS:
        raise ValueError(f"expected {CODED_BITS} soft values, got {soft.size}")
    # Predecessors of each next state: input bit = its newest bit; the dropped oldest bit
    # was 0 or 1.
    next_states = np.arange(_STATES)
    inputs = next_states & 1
    previous = np.stack([next_states >> 1, (next_states >> 1) | (_STATES >> 1)])  # (2, 64)
    metric = np.full(_STATES, -np.inf)
    metric[0] = 0.0
    choices = np.zeros((soft.shape[0], _STATES), np.uint8)
    for step, received in enumerate(soft):
        branch = _SYMBOLS @ received  # (64 states, 2 inputs)
        candidates = metric[previous] + branch[previous, inputs]  # (2, 64)
        choices[step] = np.argmax(candidates, axis=0)
        metric = candidates.max(axis=0)
    # Terminated code: the path ends in state 0. Trace back.
    state = 0
    bits = np.zeros(soft.shape[0], np.uint8)
    for step in range(soft.shape[0] - 1, -1, -1):
        bits[step] = state & 1
        state = int(previous[choices[step, state], state])
    return bits_to_payload(bits[:PAYLOAD_BITS])


# ---------------------------------------------------------------------------------------
# Statistics


def normal_tail(z: float) -> float:
    """P(Z > z) for a standard normal Z, accurate far into the tail."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def max_normal_p_value(z: float, n_tests: int) -> float:
    """The p-value of the largest of `n_tests` standard normal statistics being ≥ z
    (Šidák: exact for independent tests, conservative for positively correlated ones)."""
    tail = normal_tail(z)
    if tail >= 1.0:
        return 1.0
    return min(1.0, -math.expm1(n_tests * math.log1p(-tail)))
