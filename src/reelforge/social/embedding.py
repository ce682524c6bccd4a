"""Posts' and viewers' meaning as all-MiniLM-L6-v2 vectors (384 float32, unit norm), kept in
`posts.embedding` as little-endian bytes. The encoder ships inside an installed package and
is loaded once per process."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reelforge.recaption.embedding import shared_encoder

DIM = 384


def encode(texts: Sequence[str]) -> np.ndarray:
    """(len(texts), 384) unit-norm float32 rows; an empty text is a zero row."""
    out = np.zeros((len(texts), DIM), np.float32)
    nonempty = [i for i, text in enumerate(texts) if text.strip()]
    if nonempty:
        out[nonempty] = shared_encoder().encode([texts[i] for i in nonempty])
    return out


def post_text(caption: str, prompt: str) -> str:
    """What a post is about: its caption, then the prompt it was made from."""
    return f"{caption.strip()}. {prompt.strip()}" if caption.strip() else prompt.strip()


def to_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, "<f4").reshape(DIM).tobytes()


def from_blobs(blobs: Sequence[bytes | None]) -> np.ndarray:
    """(len(blobs), 384); a missing embedding is a zero row (it matches nothing)."""
    out = np.zeros((len(blobs), DIM), np.float32)
    for i, blob in enumerate(blobs):
        if blob:
            out[i] = np.frombuffer(blob, "<f4")
    return out
