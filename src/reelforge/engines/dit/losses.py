"""Reconstruction losses of the codecs, trainable from scratch (no pretrained networks)."""

from __future__ import annotations

import torch

# (n_fft, hop) pairs at 16 kHz: 8 ms windows for clicks up to 64 ms windows for pitch.
STFT_RESOLUTIONS: tuple[tuple[int, int], ...] = ((128, 32), (256, 64), (512, 128), (1024, 256))


def frequency_l1(reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 between the 2-D spectra of each frame, (B, C, T, H, W) in; it rewards sharp
    edges that pixel L1 alone blurs. Normalised ('ortho') so its scale matches pixels."""
    spectrum_a = torch.fft.rfft2(reconstruction.float(), norm="ortho")
    spectrum_b = torch.fft.rfft2(target.float(), norm="ortho")
    return (spectrum_a - spectrum_b).abs().mean()


def multi_resolution_stft(
    reconstruction: torch.Tensor,
    target: torch.Tensor,
    resolutions: tuple[tuple[int, int], ...] = STFT_RESOLUTIONS,
) -> torch.Tensor:
    """Mean over resolutions of spectral convergence + L1 of log magnitudes; (B, S) in."""
    total = reconstruction.new_zeros(())
    for n_fft, hop in resolutions:
        mag_a = _stft_magnitude(reconstruction, n_fft, hop)
        mag_b = _stft_magnitude(target, n_fft, hop)
        difference = torch.linalg.vector_norm(mag_a - mag_b, dim=(1, 2))
        convergence = difference / torch.linalg.vector_norm(mag_b, dim=(1, 2)).clamp_min(1e-5)
        log_l1 = (mag_a.log() - mag_b.log()).abs().mean()
        total = total + convergence.mean() + log_l1
    return total / len(resolutions)


def _stft_magnitude(x: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """(B, S) → (B, F, N), floored at -100 dB so silence does not dominate the log."""
    window = torch.hann_window(n_fft, device=x.device)
    spectrum = torch.stft(x.float(), n_fft, hop, window=window, return_complex=True)
    return spectrum.abs().clamp_min(1e-5)
