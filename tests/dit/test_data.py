"""Training data: sim clips on the fly, a folder of MP4s with captions, batch slicing,
worker processes, latent caching."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from reelforge.engines.dit.config import preset
from reelforge.engines.dit.data import (
    AudioSegments,
    LatentCache,
    ReusedClips,
    SimClipDataset,
    StepBatches,
    VideoFolderDataset,
    VideoWindows,
    cache_latents,
)
from reelforge.errors import ConfigError, InvalidRequest
from reelforge.media import encode_mp4


@pytest.fixture(scope="module")
def sim() -> SimClipDataset:
    return SimClipDataset(seconds=1.0, seed=7)


def test_sim_samples_are_clips_with_sound_caption_and_plan(sim):
    portrait, landscape = sim[0], sim[1]
    assert portrait.frames.shape == (24, 448, 256, 3) and portrait.frames.dtype == np.uint8
    assert landscape.frames.shape == (24, 256, 448, 3)
    assert portrait.audio.shape == (16_000,) and portrait.audio.dtype == np.float32
    assert portrait.caption and portrait.plan is not None and portrait.plan.prompt
    assert np.abs(portrait.audio).max() > 0


def test_sim_sample_i_is_always_the_same_clip(sim):
    again = SimClipDataset(seconds=1.0, seed=7)[0]
    first = sim[0]
    assert first.caption == again.caption
    assert np.array_equal(first.frames, again.frames)
    assert np.array_equal(first.audio, again.audio)
    assert sim[2].caption != first.caption


def test_processes_split_each_global_batch_exactly():
    one = iter(StepBatches(4, 0, 1, start_step=3, modulo=10**9))
    halves = [iter(StepBatches(4, rank, 2, start_step=3, modulo=10**9)) for rank in (0, 1)]
    for _ in range(3):
        assert next(one) == next(halves[0]) + next(halves[1])
    with pytest.raises(InvalidRequest, match="batch_size"):
        StepBatches(3, 0, 2, 0, 10)


def test_worker_processes_give_the_same_batches_as_the_main_process(sim):
    windows = VideoWindows(ReusedClips(sim, batch=2, reuse=2), frames=5, crop_px=32, seed=0)

    def batches(workers: int) -> list[torch.Tensor]:
        loader = DataLoader(
            windows, batch_sampler=StepBatches(2, 0, 1, 0, len(sim)), num_workers=workers
        )
        stream = iter(loader)
        return [next(stream) for _ in range(3)]

    for inline, parallel in zip(batches(0), batches(2), strict=True):
        assert inline.shape == (2, 5, 32, 32, 3)
        assert torch.equal(inline, parallel)


def test_audio_segments_cut_and_pad(sim):
    segments = AudioSegments(ReusedClips(sim, batch=1, reuse=1), samples=20_000, seed=0)
    segment = segments[0]
    assert segment.shape == (20_000,)
    assert torch.equal(segment[16_000:], torch.zeros(4_000))  # the clip is only 1 s


def write_folder(folder, sim, count: int = 2) -> None:
    lines = []
    for i in range(count):
        sample = sim[i]
        stereo = np.repeat(sample.audio[None], 2, axis=0)
        encode_mp4(folder / f"clip{i}.mp4", sample.frames, stereo, fps=24, sample_rate=16_000)
        lines.append(json.dumps({"file": f"clip{i}.mp4", "caption": f"caption {i}"}))
    (folder / "captions.jsonl").write_text("\n".join(lines) + "\n")


def test_mp4_folder_yields_resized_clips_with_captions(tmp_path, sim):
    write_folder(tmp_path, sim)
    folder = VideoFolderDataset(tmp_path, seconds=0.5, fps=12, size="128x224")
    assert len(folder) == 2
    sample = folder[1]
    assert sample.caption == "caption 1" and sample.plan is None
    assert sample.frames.shape == (6, 224, 128, 3)  # 0.5 s at 12 fps, scaled and cropped
    assert sample.audio.shape == (8_000,)
    assert np.abs(sample.audio).max() > 0


@pytest.mark.parametrize(
    "captions, field, message",
    [
        (None, "captions", "does not exist"),
        ('{"file": "missing.mp4", "caption": "x"}\n', "captions", "line 1: file"),
        ('{"caption": "x"}\n', "captions", "line 1 must be a JSON object"),
        ("\n", "captions", "lists no files"),
    ],
)
def test_mp4_folder_errors_name_the_field(tmp_path, captions, field, message):
    if captions is not None:
        (tmp_path / "captions.jsonl").write_text(captions)
    with pytest.raises(InvalidRequest, match=message) as caught:
        VideoFolderDataset(tmp_path, seconds=1.0)
    assert caught.value.param == field


def test_mp4_folder_that_is_not_a_directory_names_data(tmp_path):
    with pytest.raises(InvalidRequest, match="not a directory") as caught:
        VideoFolderDataset(tmp_path / "nope", seconds=1.0)
    assert caught.value.param == "data"


def test_latents_are_cached_and_read_back(tmp_path, sim):
    from reelforge.engines.dit.audio_codec import AudioCodec
    from reelforge.engines.dit.video_vae import VideoVAE, frames_to_tensor

    vae = VideoVAE(preset("vae", "tiny").video).eval()
    codec = AudioCodec(preset("audio", "tiny").audio).eval()

    @torch.no_grad()
    def encode_video(frames: np.ndarray) -> torch.Tensor:
        return vae.encode(frames_to_tensor(torch.from_numpy(frames[:21])[None])).mean[0]

    @torch.no_grad()
    def encode_audio(samples: np.ndarray) -> torch.Tensor:
        return codec.encode(torch.from_numpy(samples)[None]).mean[0]

    cache_latents(sim, range(2), tmp_path, encode_video, encode_audio)
    cache = LatentCache(tmp_path)
    assert len(cache) == 2
    item = cache[1]
    assert item["video"].shape == (4, 6, 32, 56)  # landscape 448x256: (z, 1 + 5, 256/8, 448/8)
    assert item["audio"].shape == (8, 100)
    assert item["caption"] == sim[1].caption
    assert item["plan"] == sim[1].plan
    with pytest.raises(ConfigError, match="latents"):
        LatentCache(tmp_path / "empty")
