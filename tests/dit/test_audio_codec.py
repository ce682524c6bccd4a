"""The audio codec on the tiny preset: shapes, latent rate, determinism, exact STFT path."""

from __future__ import annotations

import pytest
import torch

from reelforge.engines.dit.audio_codec import AudioCodec
from reelforge.engines.dit.config import PRESETS, preset
from reelforge.errors import InvalidRequest


def tiny_codec(seed: int = 0) -> AudioCodec:
    torch.manual_seed(seed)
    return AudioCodec(preset("audio", "tiny").audio).eval()


def test_shapes_and_padding_to_whole_latents():
    codec = tiny_codec()
    waveform = torch.randn(2, 8_100) * 0.1  # not a whole number of 160-sample latents
    with torch.no_grad():
        posterior = codec.encode(waveform)
        assert posterior.mean.shape == (2, 8, 51)  # ceil(8100 / 160)
        assert codec.latent_shape(tuple(waveform.shape)) == tuple(posterior.mean.shape)
        assert codec.decode(posterior.mean, 8_100).shape == (2, 8_100)
        assert codec.decode(posterior.mean).shape == (2, 51 * 160)


@pytest.mark.parametrize("name", ["cpu", "full"])
def test_presets_stay_at_or_below_50_latents_per_second_at_16_khz(name):
    config = PRESETS["audio"][name].audio
    assert config.sample_rate == 16_000
    assert config.latents_per_second <= 50


def test_stft_and_istft_reconstruct_all_but_the_last_half_window_exactly():
    codec = tiny_codec()
    waveform = torch.randn(1, 16_000) * 0.1
    restored = codec.istft(codec.stft(waveform), 16_000)
    # The frame centred on the last sample is dropped (an even frame count for the
    # stride-2 latents), so the final n_fft / 2 samples fade; everything before is exact.
    keep = 16_000 - codec.config.n_fft // 2
    torch.testing.assert_close(restored[:, :keep], waveform[:, :keep], atol=1e-5, rtol=0)


def test_round_trip_is_deterministic():
    waveform = torch.randn(1, 4_000) * 0.1
    with torch.no_grad():
        first = tiny_codec(5).decode(tiny_codec(5).encode(waveform).mean)
        second = tiny_codec(5).decode(tiny_codec(5).encode(waveform).mean)
    assert torch.equal(first, second)


def test_bad_waveform_names_the_field():
    with pytest.raises(InvalidRequest) as caught:
        tiny_codec().encode(torch.zeros(1, 2, 100))
    assert caught.value.param == "waveform"
