"""Audio codec: 16 kHz mono waveforms ↔ latents at 50 frames per second (cpu preset).

An STFT-domain VAE with a Vocos-style head. Why this and not a waveform VAE or a mel VAE
plus vocoder: the inverse STFT is exact and costs nothing, so the network only has to
predict a magnitude and a phase per bin at 100 frames per second, which small 1-D
convolutions learn in minutes on a CPU, and timing is kept by the phase rather than by a
vocoder that must be trained to place transients (docs/CODECS.md has the numbers).

Reading order: spectral features, one ConvNeXt block, encoder, decoder, the codec.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from reelforge.engines.dit.config import AudioCodecConfig
from reelforge.engines.dit.layers import ChannelRMSNorm, Posterior
from reelforge.errors import InvalidRequest


class ConvNeXtBlock(nn.Module):
    """Depthwise temporal convolution, then a per-frame MLP; residual with a layer scale."""

    def __init__(self, width: int, kernel: int):
        super().__init__()
        self.depthwise = nn.Conv1d(width, width, kernel, padding=kernel // 2, groups=width)
        self.norm = ChannelRMSNorm(width)
        self.expand = nn.Conv1d(width, 3 * width, 1)
        self.project = nn.Conv1d(3 * width, width, 1)
        self.scale = nn.Parameter(torch.full((width, 1), 0.1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, W, N)
        h = self.norm(self.depthwise(x))
        return x + self.scale * self.project(F.gelu(self.expand(h)))


class AudioEncoder(nn.Module):
    def __init__(self, config: AudioCodecConfig):
        super().__init__()
        bins = config.n_fft // 2 + 1
        self.stem = nn.Conv1d(3 * bins, config.width, config.kernel, padding=config.kernel // 2)
        self.down = nn.Conv1d(
            config.width, config.width, config.time_stride, stride=config.time_stride
        )
        self.blocks = nn.Sequential(
            *[ConvNeXtBlock(config.width, config.kernel) for _ in range(config.encoder_blocks)]
        )
        self.norm = ChannelRMSNorm(config.width)
        self.head = nn.Conv1d(config.width, 2 * config.latent_channels, 1)

    def forward(self, spectrum: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """complex spectrum (B, F, N) → mean, logvar (B, z, N / time_stride)."""
        magnitude = spectrum.abs()
        # Log magnitude for level, power-law compressed real/imag for phase (and so timing).
        compressed = spectrum / magnitude.clamp_min(1e-5).pow(0.7)
        features = torch.cat(
            [torch.log(magnitude + 1e-5), compressed.real, compressed.imag], dim=1
        )  # (B, 3F, N)
        x = self.blocks(self.down(self.stem(features)))  # (B, W, N / stride)
        mean, logvar = self.head(self.norm(x)).chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)


class AudioDecoder(nn.Module):
    def __init__(self, config: AudioCodecConfig):
        super().__init__()
        bins = config.n_fft // 2 + 1
        self.stem = nn.Conv1d(
            config.latent_channels, config.width, config.kernel, padding=config.kernel // 2
        )
        half = config.decoder_blocks // 2
        self.blocks_latent = nn.Sequential(
            *[
                ConvNeXtBlock(config.width, config.kernel)
                for _ in range(config.decoder_blocks - half)
            ]
        )
        self.up = nn.ConvTranspose1d(
            config.width, config.width, config.time_stride, stride=config.time_stride
        )
        self.blocks_frame = nn.Sequential(
            *[ConvNeXtBlock(config.width, config.kernel) for _ in range(half)]
        )
        self.norm = ChannelRMSNorm(config.width)
        self.head = nn.Conv1d(config.width, 2 * bins, 1)

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        """latents (B, z, M) → complex spectrum (B, F, M · time_stride)."""
        x = self.blocks_latent(self.stem(latents))
        x = self.blocks_frame(self.up(x))  # (B, W, N)
        log_magnitude, phase = self.head(self.norm(x)).chunk(2, dim=1)  # (B, F, N) each
        magnitude = torch.exp(log_magnitude.clamp(max=6.0))
        return torch.polar(magnitude.float(), phase.float())


class AudioCodec(nn.Module):
    window: torch.Tensor  # Hann window of n_fft samples (a buffer, not saved)

    def __init__(self, config: AudioCodecConfig):
        super().__init__()
        self.config = config
        self.encoder = AudioEncoder(config)
        self.decoder = AudioDecoder(config)
        self.register_buffer("window", torch.hann_window(config.n_fft), persistent=False)

    @property
    def samples_per_latent(self) -> int:
        return self.config.hop * self.config.time_stride

    def padded_length(self, samples: int) -> int:
        """Samples after padding to a whole number of latents."""
        step = self.samples_per_latent
        return -(-samples // step) * step

    def stft(self, waveform: torch.Tensor) -> torch.Tensor:
        """(B, S) with S a multiple of hop → complex (B, F, S / hop); frame i centred on
        sample i·hop (the frame centred on sample S is dropped)."""
        spectrum = torch.stft(
            waveform.float(),
            self.config.n_fft,
            self.config.hop,
            window=self.window,
            center=True,
            return_complex=True,
        )
        return spectrum[:, :, :-1]

    def istft(self, spectrum: torch.Tensor, samples: int) -> torch.Tensor:
        """complex (B, F, N) → (B, samples). A silent frame stands in for the dropped one,
        so the last n_fft / 2 samples (20 ms) fade out."""
        spectrum = F.pad(spectrum, (0, 1))
        return torch.istft(
            spectrum,
            self.config.n_fft,
            self.config.hop,
            window=self.window,
            center=True,
            length=samples,
        )

    def encode(self, waveform: torch.Tensor) -> Posterior:
        """(B, S) float at 16 kHz in [-1, 1] → posterior over (B, z, ceil(S / 320)).

        The waveform is zero-padded at the end to a whole number of latents.
        """
        if waveform.dim() != 2:
            raise InvalidRequest(
                f"waveform must be (B, samples), got {tuple(waveform.shape)}", param="waveform"
            )
        samples = waveform.shape[1]
        waveform = F.pad(waveform, (0, self.padded_length(samples) - samples))
        return Posterior(*self.encoder(self.stft(waveform)))

    def decode(self, latents: torch.Tensor, samples: int | None = None) -> torch.Tensor:
        """(B, z, M) → (B, samples), default M · 320 samples."""
        length = latents.shape[2] * self.samples_per_latent
        waveform = self.istft(self.decoder(latents), length)
        return waveform if samples is None else waveform[:, :samples]

    def latent_shape(self, waveform_shape: tuple[int, ...]) -> tuple[int, ...]:
        """(B, S) → (B, z, ceil(S / samples_per_latent))."""
        b, samples = waveform_shape
        return (
            b,
            self.config.latent_channels,
            self.padded_length(samples) // self.samples_per_latent,
        )

    def forward(
        self, waveform: torch.Tensor, noise: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, Posterior]:
        """Training pass: encode, sample the posterior (with `noise` if given), decode."""
        posterior = self.encode(waveform)
        return self.decode(posterior.sample(noise), waveform.shape[1]), posterior
