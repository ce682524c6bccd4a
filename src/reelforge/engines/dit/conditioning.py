"""What the dit reads besides noise, shared by inference (engine.py) and training
(data.py, train.py): the caption's MiniLM token states, the audio codec's rate, and the
size of a cameo's reference image and voice."""

from __future__ import annotations

from typing import Any

import torch

__all__ = [
    "CODEC_SAMPLE_RATE",
    "REFERENCE_IMAGE_PX",
    "REFERENCE_VOICE_S",
    "text_conditioning",
]

CODEC_SAMPLE_RATE = 16_000  # the audio codec's (engines/dit/references.py says it too)
REFERENCE_IMAGE_PX = 128  # cameo appearance images: 128 × 128 → a 16 × 16 latent
REFERENCE_VOICE_S = 2.0


def text_conditioning(
    encoder: Any, caption: str, max_tokens: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """MiniLM token states (max_tokens, 384), zero-padded, and the mask of real tokens."""
    hidden, _ = encoder.token_states(caption)
    count = min(len(hidden), max_tokens)
    states = torch.zeros(max_tokens, hidden.shape[1])
    states[:count] = torch.from_numpy(hidden[:count])
    mask = torch.zeros(max_tokens, dtype=torch.bool)
    mask[:count] = True
    return states, mask
