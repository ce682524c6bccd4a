"""The `ltx2` engine: LTX-2 (Lightricks' joint audio-video DiT) through diffusers'
LTX2Pipeline, from a snapshot on disk. Weights are never downloaded.

What a request becomes:
1. Shapes. LTX-2 makes 8k+1 frames at sizes that are multiples of 32 (diffusers checks
   32; the VAE compresses 32x in space and 8x in time). The clip's frames (seconds x fps)
   are rounded up to 8k+1 and its size up to multiples of 32; the result is trimmed to
   the exact count and centre-cropped to the exact size.
2. Conditioning. The prompt is the user's words plus the plan's dialogue and sound
   (prompt.py); a first frame is cover-fitted to the exact size, then edge-reflected out
   to the generated size, so the cropped clip's frame 0 is the cover-fitted image.
3. Denoise and decode in one pipeline call, seeded by a CPU torch.Generator. Progress is
   reported after every step from `callback_on_step_end`; a progress callback that raises
   (Cancelled) stops the call within that step, and GPU memory is released.
4. Frames are turned into uint8 on the device (no float32 frames through the host); the
   sound, stereo at the vocoder's rate (24 kHz for LTX-2.0, 48 kHz for 2.3+), comes out
   a few tens of ms short of the generated frames: it is resampled to 48 kHz and cut or
   padded to the clip's exact length.

The pipelines are loaded on first use and kept by the engine; `engine_for` keeps one
engine per snapshot and recipe, so a process loads a snapshot once. One generation runs
per device at a time.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from reelforge.engines import Capabilities, References
from reelforge.engines.ltx2.placement import Placement, choose_placement
from reelforge.engines.ltx2.prompt import model_prompt
from reelforge.engines.ltx2.snapshot import MODEL_NAME, Snapshot, check_snapshot
from reelforge.errors import Cancelled, ConfigError, InvalidRequest
from reelforge.media import resample
from reelforge.media.images import cover_fit
from reelforge.settings import Settings
from reelforge.types import (
    API_SIZES,
    AUDIO_SAMPLE_RATE,
    SUPPORTED_FPS,
    TRAINING_SIZES,
    Clip,
    Progress,
    ScenePlan,
    parse_size,
)

if TYPE_CHECKING:
    import torch

# The capability check (engines/capabilities.py) imports this module to read the class
# attribute: without diffusers the engine is "not installed", said without importing it.
for _package in ("diffusers", "transformers"):
    if find_spec(_package) is None:
        raise ImportError(f"the ltx2 engine needs {_package} (pip install 'reelforge[ltx2]')")

SIZE_MULTIPLE = 32  # diffusers' LTX2Pipeline.check_inputs insists on it
DEFAULT_STEPS = {"distilled": 8, "full": 40}
DEFAULT_GUIDANCE = {"distilled": 1.0, "full": 4.0}
_DEVICE_LOCKS: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)


@dataclass(frozen=True)
class Recipe:
    """The sampler's knobs for one pipeline call. Guidance 1 turns every guidance term
    off (the distilled recipe: one transformer pass a step). Above 1, LTX-2's recipe as
    diffusers ships it (spatio-temporal guidance 1 on block 28, modality guidance 3,
    rescale 0.7, the sound's classifier-free guidance 7, the reference negative prompt)
    with the picture's classifier-free guidance at `guidance`: up to 4 passes a step."""

    steps: int
    guidance: float
    sigmas: tuple[float, ...] | None  # the distilled schedule, for its 8 steps
    use_cross_timestep: bool  # LTX-2.3 and later; False for LTX-2.0
    negative_prompt: str  # what guidance steers away from (LTX-2's reference list)

    def call_arguments(self) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "num_inference_steps": self.steps,
            "sigmas": list(self.sigmas) if self.sigmas else None,
            "guidance_scale": self.guidance,  # the sound keeps the recipe's own (7)
            "use_cross_timestep": self.use_cross_timestep,
        }
        if self.guidance != 1.0:
            arguments["negative_prompt"] = self.negative_prompt
        else:
            arguments.update(
                audio_guidance_scale=1.0,
                stg_scale=0.0,
                audio_stg_scale=0.0,
                modality_scale=1.0,
                audio_modality_scale=1.0,
                guidance_rescale=0.0,
                audio_guidance_rescale=0.0,
                spatio_temporal_guidance_blocks=None,
            )
        return arguments


@dataclass
class Loaded:
    snapshot: Snapshot
    placement: Placement
    recipe: Recipe
    text_to_video: Any  # diffusers LTX2Pipeline
    image_to_video: Any  # LTX2ImageToVideoPipeline sharing its modules
    offloaded_for: Any = None  # the pipeline whose offload hooks are installed


class LTX2Engine:
    name = "ltx2"
    capabilities = Capabilities(
        audio=True,
        image_input=True,
        cameos=False,  # no identity or voice conditioning in LTX-2's pipelines
        max_seconds=20.0,
        sizes=API_SIZES + TRAINING_SIZES,
        fps=SUPPORTED_FPS,
    )
    generator_name = MODEL_NAME

    def __init__(self, settings: Settings):
        self.settings = settings
        self._loaded: Loaded | None = None
        self._load_lock = threading.Lock()

    @property
    def snapshot_dir(self) -> Path:
        if self.settings.ltx2_dir is None:
            raise ConfigError(
                "the ltx2 engine needs a diffusers-format LTX-2 snapshot: set "
                "REELFORGE_LTX2_DIR or pass --model-dir",
                param="ltx2_dir",
            )
        return Path(self.settings.ltx2_dir)

    @property
    def generator_version(self) -> str:
        """The snapshot's identity, for the provenance's generator (no weights loaded)."""
        if self._loaded is not None:
            return self._loaded.snapshot.identity
        return check_snapshot(self.snapshot_dir).identity

    def load(self) -> Loaded:
        """The pipelines, loaded on first use and kept."""
        with self._load_lock:
            if self._loaded is None:
                snapshot = check_snapshot(self.snapshot_dir)
                placement = choose_placement(self.settings.ltx2_placement, snapshot.parameters)
                self._loaded = self._prepare(self._read(snapshot, placement), snapshot, placement)
            return self._loaded

    def adopt(self, pipe: Any, snapshot: Snapshot, placement: Placement) -> Loaded:
        """Serve `pipe`, an LTX2Pipeline already built in this process, as if `snapshot`
        had been loaded with `placement`. For the speed benchmark, which builds LTX-2's
        full-size architecture with random weights on the GPU: writing its 63 GiB out and
        reading them back would take most of a GPU window."""
        with self._load_lock:
            self._loaded = self._prepare(pipe, snapshot, placement)
            return self._loaded

    def generate(
        self,
        plan: ScenePlan,
        *,
        seconds: float,
        size: str,
        fps: int,
        seed: int,
        references: References | None = None,
        progress: Progress | None = None,
    ) -> Clip:
        import torch

        report = progress or (lambda stage, fraction: None)
        refs = references or References()
        if not 0 < seconds <= self.capabilities.max_seconds:
            raise InvalidRequest(
                f"seconds must be in (0, {self.capabilities.max_seconds:g}] for the ltx2 "
                f"engine, got {seconds:g}",
                param="seconds",
            )
        if refs.cameo_images or refs.cameo_voices:
            raise InvalidRequest("engine ltx2 cannot take cameos", param="cameos")
        width, height = parse_size(size)
        report("load", 0.0)
        loaded = self.load()
        pipe = loaded.text_to_video

        # 1. Shapes: 8k+1 frames and multiples of 32, trimmed and cropped afterwards.
        frames = max(1, round(seconds * fps))
        per_latent = pipe.vae_temporal_compression_ratio
        generated_frames = per_latent * math.ceil((frames - 1) / per_latent) + 1
        multiple = math.lcm(SIZE_MULTIPLE, pipe.vae_spatial_compression_ratio)
        generated_w = multiple * math.ceil(width / multiple)
        generated_h = multiple * math.ceil(height / multiple)

        # 2. Conditioning: the prompt, and the first frame for image-to-video.
        report("text", 0.02)
        arguments: dict[str, Any] = {
            "prompt": model_prompt(plan),
            "height": generated_h,
            "width": generated_w,
            "num_frames": generated_frames,
            "frame_rate": float(fps),
            **loaded.recipe.call_arguments(),
        }
        if refs.first_frame is not None:
            pipe = loaded.image_to_video
            arguments["image"] = first_frame_image(
                refs.first_frame, width, height, generated_w, generated_h
            )
        if loaded.placement.offload and loaded.offloaded_for is not pipe:
            pipe.enable_model_cpu_offload()  # hooks on the modules both pipelines share
            loaded.offloaded_for = pipe

        # 3. Denoise and decode.
        steps = loaded.recipe.steps
        step_ends: list[float] = []

        def on_step_end(
            _pipe: Any, step: int, _timestep: Any, _tensors: dict[str, Any]
        ) -> dict[str, Any]:
            step_ends.append(time.perf_counter())
            report("denoise", 0.05 + 0.85 * (step + 1) / steps)  # raises when cancelled
            return {}

        started = time.perf_counter()
        cancelled: Cancelled | None = None
        try:
            with _DEVICE_LOCKS[loaded.placement.device], torch.inference_mode():
                output = pipe(
                    **arguments,
                    generator=torch.Generator("cpu").manual_seed(seed),
                    output_type="pt",
                    callback_on_step_end=on_step_end,
                )
                decoded = time.perf_counter()
                report("decode", 0.9)

                # 4. uint8 frames on the device, cropped and trimmed; sound at 48 kHz.
                pixels = uint8_frames(output.frames[0], frames, width, height)
                sound = fit_audio(
                    output.audio[0].float().cpu().numpy(),
                    pipe.vocoder.config.output_sampling_rate,
                    round(frames / fps * AUDIO_SAMPLE_RATE),
                )
                del output
        except Cancelled as error:
            # Raised again as a new exception: this one's traceback holds the pipeline's
            # frames and, through them, every tensor of the call until the caller lets go.
            cancelled = Cancelled(error.message, param=error.param, code=error.code)
        finally:
            if loaded.placement.device == "cuda":
                torch.cuda.empty_cache()  # what a finished or stopped call held goes back
        if cancelled is not None:
            raise cancelled
        report("decode", 1.0)
        return Clip(
            frames=pixels,
            audio=sound,
            fps=fps,
            timings_s={
                "text_and_denoise_s": (step_ends[-1] if step_ends else decoded) - started,
                "decode_s": decoded - (step_ends[-1] if step_ends else decoded),
                "to_host_s": time.perf_counter() - decoded,
            },
        )

    def _read(self, snapshot: Snapshot, placement: Placement) -> Any:
        """The LTX2Pipeline of `snapshot`, read from disk with the Hub offline."""
        # Offline before the Hub client is first imported (it reads this once), and
        # local_files_only on every load as well.
        os.environ["HF_HUB_OFFLINE"] = "1"
        import torch
        from diffusers import LTX2Pipeline

        try:
            return LTX2Pipeline.from_pretrained(
                snapshot.path, dtype=getattr(torch, placement.dtype), local_files_only=True
            )
        except (OSError, ValueError, KeyError, RuntimeError, ImportError) as error:
            raise ConfigError(
                f"ltx2_dir {str(snapshot.path)!r} could not be loaded: {error}",
                param="ltx2_dir",
            ) from error

    def _prepare(self, pipe: Any, snapshot: Snapshot, placement: Placement) -> Loaded:
        """Place the pipeline's modules, build its image-to-video twin, fix the recipe."""
        import torch
        from diffusers import LTX2ImageToVideoPipeline
        from diffusers.pipelines.ltx2.utils import DEFAULT_NEGATIVE_PROMPT, DISTILLED_SIGMA_VALUES

        pipe.set_progress_bar_config(disable=True)
        if placement.dtype != "float32":
            pipe.vocoder.to(torch.float32)
            pipe.audio_vae.to(torch.float32)
        if placement.device == "cuda":
            if placement.offload:
                pipe.vae.enable_tiling()
            else:
                pipe.to("cuda")
        # The same modules, built once. Not `from_pipe`: it casts every shared module to
        # its dtype argument, float32 by default (a bf16 snapshot would double in size).
        image_to_video: Any = LTX2ImageToVideoPipeline(**pipe.components)
        image_to_video.set_progress_bar_config(disable=True)
        steps = self.settings.ltx2_steps or DEFAULT_STEPS[snapshot.kind]
        distilled_schedule = snapshot.kind == "distilled" and steps == len(DISTILLED_SIGMA_VALUES)
        recipe = Recipe(
            steps=steps,
            guidance=self.settings.ltx2_guidance or DEFAULT_GUIDANCE[snapshot.kind],
            sigmas=tuple(DISTILLED_SIGMA_VALUES) if distilled_schedule else None,
            use_cross_timestep=type(pipe.vocoder).__name__ != "LTX2Vocoder",
            negative_prompt=DEFAULT_NEGATIVE_PROMPT,
        )
        return Loaded(snapshot, placement, recipe, pipe, image_to_video)


def first_frame_image(
    image: np.ndarray, width: int, height: int, generated_w: int, generated_h: int
) -> Any:
    """The first frame as the pipeline takes it (PIL): cover-fitted to the clip's exact
    size, then reflected out to the generated size, so that the centre crop is the
    cover-fitted image. diffusers would stretch it instead."""
    import cv2
    from PIL import Image

    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InvalidRequest(
            f"a first frame must be uint8 (H, W, 3), got {image.dtype} {image.shape}",
            param="input_reference",
        )
    fitted = cover_fit(image, width, height)
    top, left = (generated_h - height) // 2, (generated_w - width) // 2
    padded = cv2.copyMakeBorder(
        fitted,
        top,
        generated_h - height - top,
        left,
        generated_w - width - left,
        cv2.BORDER_REFLECT_101,
    )
    return Image.fromarray(padded, mode="RGB")


def uint8_frames(video: torch.Tensor, frames: int, width: int, height: int) -> np.ndarray:
    """(F, 3, H', W') in [0, 1] on the device → uint8 (frames, height, width, 3) on the
    host: the first `frames`, centre-cropped, converted before they leave the device."""
    import torch

    top = (video.shape[2] - height) // 2
    left = (video.shape[3] - width) // 2
    clip = video[:frames, :, top : top + height, left : left + width]  # (T, 3, H, W)
    as_bytes = (clip.float() * 255.0).round_().clamp_(0, 255).to(torch.uint8)
    return as_bytes.permute(0, 2, 3, 1).contiguous().cpu().numpy()  # (T, H, W, 3)


def fit_audio(audio: np.ndarray, rate: int, samples: int) -> np.ndarray:
    """(C, S) at `rate` → float32 (C, samples) at 48 kHz in [-1, 1]: resampled, then cut
    or padded with silence to the clip's exact length."""
    at_48k = resample(np.asarray(audio, np.float32), rate, AUDIO_SAMPLE_RATE)
    fitted = np.zeros((at_48k.shape[0], samples), np.float32)
    kept = min(samples, at_48k.shape[1])
    fitted[:, :kept] = at_48k[:, :kept]
    return np.clip(fitted, -1.0, 1.0)


_ENGINES: dict[tuple[Path | None, int | None, float | None, str], LTX2Engine] = {}
_ENGINES_LOCK = threading.Lock()


def engine_for(settings: Settings) -> LTX2Engine:
    """One engine (and so one loaded snapshot) per snapshot, recipe and placement in a
    process: the registry builds an engine per request, and loading is minutes."""
    directory = settings.ltx2_dir.expanduser().resolve() if settings.ltx2_dir else None
    key = (directory, settings.ltx2_steps, settings.ltx2_guidance, settings.ltx2_placement)
    with _ENGINES_LOCK:
        if key not in _ENGINES:
            _ENGINES[key] = LTX2Engine(settings)
        return _ENGINES[key]
