"""The `dit` engine: text (and optionally a first frame and cameo references) → latents
by the joint transformer's Euler sampler → frames and sound through the shipped codecs.

The transformer works at its native size, 256x448 (9:16) or 448x256; other sizes of the
same orientation are decoded at native size and scaled (bicubic). Its time axis is in
seconds, so any fps the codecs accept works; the shipped weights were trained at 24.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from reelforge.engines import Capabilities, References
from reelforge.engines.dit.checkpoint import from_pretrained
from reelforge.engines.dit.codecs import WEIGHTS_DIR, CodecPair, inference_dtype
from reelforge.engines.dit.conditioning import (
    CODEC_SAMPLE_RATE,
    REFERENCE_IMAGE_PX,
    REFERENCE_VOICE_S,
    text_conditioning,
)
from reelforge.engines.dit.config import FlowConfig
from reelforge.engines.dit.flow import Conditioning, Guidance, sample
from reelforge.engines.dit.model import JointDiT
from reelforge.errors import ConfigError, InvalidRequest
from reelforge.media import resample
from reelforge.media.images import cover_fit
from reelforge.settings import Settings
from reelforge.shipped import shared
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


def _load(weights: Path, video_vae: Path, audio_codec: Path) -> tuple[JointDiT, CodecPair]:
    """One loaded model and codec pair per process and set of folders (shipped.py)."""
    key = (weights, video_vae, audio_codec)
    return shared("dit model", key, lambda: _read(weights, video_vae, audio_codec))


def _read(weights: Path, video_vae: Path, audio_codec: Path) -> tuple[JointDiT, CodecPair]:
    model = from_pretrained(weights)
    if not isinstance(model, JointDiT):
        raise ConfigError(f"{str(weights)!r} holds no dit transformer", param="dit_weights")
    cuda = torch.cuda.is_available()
    codecs = CodecPair.from_pretrained(
        video_vae, audio_codec, inference_dtype("cuda" if cuda else "cpu")
    )
    if cuda:  # the transformer (bf16) and the codecs on the GPU
        model = model.to("cuda", torch.bfloat16)
        codecs.to("cuda")
    return model.eval().requires_grad_(False), codecs


def codec_dirs(weights: Path) -> tuple[Path, Path]:
    """The codecs a transformer was trained on: video-vae/ and audio-codec/ inside its
    directory when it brings its own, else the shipped ones."""
    return tuple(  # type: ignore[return-value]
        weights / name if (weights / name).is_dir() else WEIGHTS_DIR / name
        for name in ("video-vae", "audio-codec")
    )


def native_size(width: int, height: int) -> tuple[int, int]:
    return (256, 448) if height >= width else (448, 256)


class DitEngine:
    name = "dit"
    capabilities = Capabilities(
        audio=True,
        image_input=True,
        cameos=True,
        max_seconds=12.0,
        sizes=API_SIZES + TRAINING_SIZES,
        fps=SUPPORTED_FPS,
    )

    def __init__(self, settings: Settings):
        self.settings = settings
        self.weights = Path(self.settings.dit_weights or WEIGHTS_DIR / "dit")
        self.steps = self.settings.dit_steps
        self.flow = FlowConfig()
        self.guidance = Guidance(self.settings.dit_video_guidance, self.settings.dit_audio_guidance)

    def represent(
        self, frames: np.ndarray, audio: np.ndarray, sample_rate: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """What this engine's representation keeps of a clip, the best its transformer
        could make (the eval's ceiling): `represent_video` and `represent_audio`."""
        return self.represent_video(frames), self.represent_audio(audio, sample_rate)

    def represent_video(self, frames: np.ndarray) -> np.ndarray:
        """uint8 (T, H, W, 3) frames scaled to the native size, through the video VAE and
        back to their size."""
        _, codecs = _load(self.weights, *codec_dirs(self.weights))
        height, width = frames.shape[1:3]
        native_w, native_h = native_size(width, height)
        scaled = np.stack(
            [cv2.resize(f, (native_w, native_h), interpolation=cv2.INTER_AREA) for f in frames]
        )
        with torch.no_grad():
            pixels = codecs.decode_video(codecs.encode_video(scaled), len(frames))
        pixels = np.stack(
            [cv2.resize(f, (width, height), interpolation=cv2.INTER_CUBIC) for f in pixels]
        )
        return np.ascontiguousarray(pixels)

    def represent_audio(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """float32 (C, S) sound at `sample_rate`, mixed to mono, through the audio codec at
        its rate and back, on every channel."""
        _, codecs = _load(self.weights, *codec_dirs(self.weights))
        mono = resample(audio.mean(axis=0)[None], sample_rate, CODEC_SAMPLE_RATE)[0]
        with torch.no_grad():
            sound = codecs.decode_audio(codecs.encode_audio(mono), mono.size)
        back = resample(sound[None], CODEC_SAMPLE_RATE, sample_rate)[:, : audio.shape[1]]
        return np.repeat(back, audio.shape[0], axis=0)

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
        from reelforge.recaption.caption import detailed_caption
        from reelforge.recaption.embedding import shared_encoder

        report = progress or (lambda stage, fraction: None)
        if not 0 < seconds <= self.capabilities.max_seconds:
            raise InvalidRequest(
                f"seconds must be in (0, {self.capabilities.max_seconds:g}] for the dit "
                f"engine, got {seconds:g}",
                param="seconds",
            )
        width, height = parse_size(size)
        native_w, native_h = native_size(width, height)
        report("load", 0.0)
        model, codecs = _load(self.weights, *codec_dirs(self.weights))
        cfg = model.config

        # 1. Shapes: latent frames for the clip's frames, audio latents for its seconds.
        frames = max(1, round(seconds * fps))
        latent_frames = 1 + math.ceil((frames - 1) / cfg.frames_per_latent)
        audio_latents = math.ceil(frames / fps * cfg.audio_latents_per_second)
        video_shape = (cfg.video_channels, latent_frames, native_h // 8, native_w // 8)

        # 2. Conditioning: the caption's token states, a first frame, cameo references.
        report("text", 0.02)
        started = time.perf_counter()
        text, text_mask = text_conditioning(
            shared_encoder(), detailed_caption(plan), cfg.max_text_tokens
        )
        cond = Conditioning(text[None], text_mask[None], fps=float(fps))
        refs = references or References()
        device = model.video_in.weight.device
        if refs.first_frame is not None:
            image = reference_image(refs.first_frame, native_w, native_h)
            latent = codecs.encode_video(image[None])[None]  # (1, C, 1, h, w)
            cond.first_frame = model.normalize_video(latent.to(device))
        if refs.cameo_images or refs.cameo_voices:
            cond.ref_image, cond.ref_voice = self._references(model, codecs, refs)
        cond = cond.to(device)
        text_s = time.perf_counter() - started
        started = time.perf_counter()

        # 3. Denoise.
        def stepped(step: int, steps: int) -> None:
            report("denoise", 0.05 + 0.85 * step / steps)

        generator = torch.Generator().manual_seed(seed)
        dtype = inference_dtype(device)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype == torch.bfloat16):
            video, audio = sample(
                model,
                cond,
                video_shape=video_shape,
                audio_shape=(cfg.audio_channels, audio_latents),
                steps=self.steps,
                flow=self.flow,
                guidance=self.guidance,
                generator=generator,
                progress=stepped,
            )
        video, audio = model.denormalize(video.float(), audio.float())
        denoise_s = time.perf_counter() - started

        # 4. Decode, scale to the requested size, and bring the sound to the clip's rate.
        report("decode", 0.9)
        decode_started = time.perf_counter()
        pixels = codecs.decode_video(video[0], frames=frames)
        if (native_w, native_h) != (width, height):
            pixels = np.stack(
                [cv2.resize(f, (width, height), interpolation=cv2.INTER_CUBIC) for f in pixels]
            )
        samples = round(frames / fps * CODEC_SAMPLE_RATE)
        sound = codecs.decode_audio(audio[0], samples)
        sound = resample(sound[None], CODEC_SAMPLE_RATE, AUDIO_SAMPLE_RATE)
        report("decode", 1.0)
        return Clip(
            frames=np.ascontiguousarray(pixels),
            audio=sound.astype(np.float32),
            fps=fps,
            timings_s={
                "text_s": text_s,
                "denoise_s": denoise_s,
                "decode_s": time.perf_counter() - decode_started,
            },
        )

    @staticmethod
    def _references(
        model: JointDiT, codecs: CodecPair, refs: References
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The first cameo's appearance image and voice, as the model's clean tokens."""
        image = voice = None
        device = model.video_in.weight.device
        if refs.cameo_images:
            square = reference_image(refs.cameo_images[0], REFERENCE_IMAGE_PX, REFERENCE_IMAGE_PX)
            image = model.normalize_video(codecs.encode_video(square[None])[None].to(device))
        if refs.cameo_voices:
            samples = np.zeros(round(REFERENCE_VOICE_S * CODEC_SAMPLE_RATE), np.float32)
            given = np.asarray(refs.cameo_voices[0], np.float32)[: samples.size]
            samples[: given.size] = given
            voice = model.normalize_audio(codecs.encode_audio(samples)[None].to(device))
        return image, voice


def reference_image(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """A first frame or cameo image, checked, fitted to (width, height) like a cover."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InvalidRequest(
            f"reference images must be uint8 (H, W, 3), got {image.dtype} {image.shape}",
            param="input_reference",
        )
    return cover_fit(image, width, height)
