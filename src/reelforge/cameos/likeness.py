"""What a verification take says about how a person looks and sounds: the features the sim
draws a cameo with. No biometric template is kept: colours, a few categories and the
voice's pitch and pace."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Likeness:
    skin_rgb: RGB
    hair_rgb: RGB
    hair_length: Literal["none", "short", "medium", "long"]
    shirt_rgb: RGB
    glasses: bool
    face_shape: Literal["round", "oval", "long"]
    voice_pitch_hz: float  # median F0 of the take's voiced speech
    speech_rate: float  # syllables per second

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Likeness:
        return cls(
            skin_rgb=_rgb(data["skin_rgb"]),
            hair_rgb=_rgb(data["hair_rgb"]),
            hair_length=data["hair_length"],
            shirt_rgb=_rgb(data["shirt_rgb"]),
            glasses=bool(data["glasses"]),
            face_shape=data["face_shape"],
            voice_pitch_hz=float(data["voice_pitch_hz"]),
            speech_rate=float(data["speech_rate"]),
        )


def _rgb(value: Any) -> RGB:
    r, g, b = (int(v) for v in value)
    return (r, g, b)
