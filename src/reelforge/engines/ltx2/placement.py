"""Where the LTX-2 weights live while the engine serves.

- CPU (no CUDA): everything in float32 (tests, and a very slow fallback).
- "resident": every module on the GPU in bf16, except the vocoder and the audio VAE in
  float32: a bf16 vocoder gives audible error (vllm-omni #6342), and the pipeline does not
  cast the spectrogram to the vocoder's dtype, so the audio VAE must match it.
- "offload": model CPU offload (accelerate moves each module to the GPU for its turn) and
  VAE tiling, for GPUs whose memory does not hold the weights.
- "auto": resident when the GPU's free memory holds the bf16 weights plus the activations
  of the largest clip, else offload.

Measured on an H200 (full-size architecture, bf16, all resident; docs: the issue's
numbers): 63.1 GiB of weights, peaks of 68.8 GiB for 5 s at 768x512 and 87.3 GiB for
10 s at 1280x704: up to 24 GiB over the weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from reelforge.errors import ConfigError

ACTIVATION_HEADROOM_BYTES = 24 * 2**30
BF16_BYTES = 2

PlacementSetting = Literal["auto", "resident", "offload"]


@dataclass(frozen=True)
class Placement:
    device: str  # "cpu" or "cuda"
    dtype: str  # torch dtype name: "float32" or "bfloat16"
    offload: bool  # model CPU offload (accelerate)

    def describe(self) -> str:
        mode = "offloaded" if self.offload else "resident"
        return f"{mode} on {self.device} in {self.dtype}"


def choose_placement(setting: PlacementSetting, parameters: int) -> Placement:
    import torch

    if setting == "offload":
        require_accelerate()
    if not torch.cuda.is_available():
        if setting == "offload":
            raise ConfigError(
                "ltx2_placement=offload moves modules onto a CUDA GPU, and none is available",
                param="ltx2_placement",
            )
        return Placement("cpu", "float32", offload=False)
    if setting == "auto":
        free_bytes, _ = torch.cuda.mem_get_info()
        if parameters * BF16_BYTES + ACTIVATION_HEADROOM_BYTES > free_bytes:
            require_accelerate()
            return Placement("cuda", "bfloat16", offload=True)
        return Placement("cuda", "bfloat16", offload=False)
    return Placement("cuda", "bfloat16", offload=setting == "offload")


def require_accelerate() -> None:
    try:
        import accelerate  # noqa: F401  (model CPU offload is accelerate's hooks)
    except ImportError:
        raise ConfigError(
            "ltx2_placement offload needs the accelerate package, which is not installed "
            "(pip install 'reelforge[ltx2]'), or a GPU that holds the weights "
            "(ltx2_placement=resident)",
            param="ltx2_placement",
        ) from None
