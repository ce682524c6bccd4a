"""The shipped codecs (weights/video-vae, weights/audio-codec) on held-out sim clips.

Video: PSNR and SSIM of the round trip at the native sizes 256x448 and 448x256, 24 fps
(target PSNR ≥ 32 dB). Audio, mono 16 kHz: onset timing error of the round trip against
the original's onsets (target median ≤ 5 ms), both for the impacts the simulator logged
(an onset of the original within 20 ms of a contact, and the round trip's onset nearest
to it) and for every onset the detector finds (speech and ambience included, where
onsets are less sharply defined), multi-resolution STFT distance, and STOI
(short-time objective intelligibility) over the clips' speech. Speed: encode + decode of
a 10 s 256x448 clip with its sound (target ≤ 5 s on this CPU).

Peers, measured in the same run with about the same number of numbers per second:
video resampled to a quarter of the size and every 4th frame and back (12 numbers per
4×8×8 block of pixels, against the VAE's 16); audio resampled to 1.6 kHz and back (1600
numbers per second, the codec's 50 latents × 32 channels).

    .venv/bin/python benchmarks/codec_round_trips.py [--clips 100] [--no-write]

(Not benchmarks/codecs.py: that name shadows the standard library module `codecs`
and crashes mypy for the whole project.)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from pystoi import stoi
from scipy import signal

from benchmark_doc import write_section
from reelforge.engines.dit.codecs import WEIGHTS_DIR, CodecPair
from reelforge.engines.dit.data import CODEC_SAMPLE_RATE, SimClipDataset, to_codec_audio
from reelforge.engines.dit.losses import multi_resolution_stft
from reelforge.eval.onsets import onset_times

HELD_OUT_SEED = 1_000_003  # the codecs trained on seed 0
CLIP_FRAMES = 49  # 1 + 4·12 frames, about 2 s at 24 fps
ONSET_MATCH_S = 0.05  # an onset counts as kept if the round trip has one this close
CONTACT_MATCH_S = 0.02  # an original onset this close to a logged contact is an impact
MARK_BEGIN, MARK_END = "<!-- codecs:begin -->", "<!-- codecs:end -->"


@dataclass
class Scores:
    psnr_db: dict[str, list[float]] = field(default_factory=lambda: {"256x448": [], "448x256": []})
    ssim: list[float] = field(default_factory=list)
    peer_psnr_db: list[float] = field(default_factory=list)
    onset_errors_ms: list[float] = field(default_factory=list)
    impact_errors_ms: list[float] = field(default_factory=list)
    impact_floor_ms: list[float] = field(default_factory=list)  # original onset vs contact
    impacts_found: int = 0
    impacts_kept: int = 0
    onsets_original: int = 0
    onsets_kept: int = 0
    onsets_extra: int = 0
    stft_distance: list[float] = field(default_factory=list)
    peer_stft_distance: list[float] = field(default_factory=list)
    peer_onset_errors_ms: list[float] = field(default_factory=list)
    stoi: list[float] = field(default_factory=list)
    peer_stoi: list[float] = field(default_factory=list)


def psnr_db(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / max(mse, 1e-10))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of the luma of each frame (Gaussian window σ = 1.5, Wang et al. 2004)."""
    values = []
    for frame_a, frame_b in zip(a, b, strict=True):
        x = cv2.cvtColor(frame_a, cv2.COLOR_RGB2GRAY).astype(np.float64)
        y = cv2.cvtColor(frame_b, cv2.COLOR_RGB2GRAY).astype(np.float64)

        def blur(image: np.ndarray) -> np.ndarray:
            return cv2.GaussianBlur(image, (11, 11), 1.5)

        mu_x, mu_y = blur(x), blur(y)
        var_x, var_y = blur(x * x) - mu_x**2, blur(y * y) - mu_y**2
        cov = blur(x * y) - mu_x * mu_y
        c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
        index = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
            (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
        )
        values.append(float(index.mean()))
    return float(np.mean(values))


def peer_video(frames: np.ndarray) -> np.ndarray:
    """Every 4th frame at a quarter of the size, back up (bicubic, linear in time)."""
    t, h, w, _ = frames.shape
    keys = frames[::4]
    small = [cv2.resize(f, (w // 4, h // 4), interpolation=cv2.INTER_AREA) for f in keys]
    big = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_CUBIC) for f in small])
    positions = np.arange(t) / 4
    low = np.minimum(positions.astype(int), len(big) - 1)
    high = np.minimum(low + 1, len(big) - 1)
    weight = (positions - low)[:, None, None, None]
    mixed = (1 - weight) * big[low].astype(np.float64) + weight * big[high].astype(np.float64)
    return np.clip(mixed.round(), 0, 255).astype(np.uint8)


def peer_audio(samples: np.ndarray) -> np.ndarray:
    """Resampled to 1.6 kHz and back: the codec's 1600 latent numbers per second."""
    small = signal.resample_poly(samples, 1, 10)
    return signal.resample_poly(small, 10, 1)[: samples.size].astype(np.float32)


def onset_errors_ms(original: np.ndarray, decoded: np.ndarray) -> tuple[list[float], int, int]:
    """Per original onset, the distance in ms to the nearest decoded onset (if within
    ONSET_MATCH_S); also how many were missed and how many decoded onsets are extra."""
    reference = onset_times(original, CODEC_SAMPLE_RATE)
    found = onset_times(decoded, CODEC_SAMPLE_RATE)
    errors = []
    for time_s in reference:
        if found.size:
            nearest = float(np.min(np.abs(found - time_s)))
            if nearest <= ONSET_MATCH_S:
                errors.append(1000 * nearest)
    extra = sum(
        1 for t in found if not reference.size or np.min(np.abs(reference - t)) > ONSET_MATCH_S
    )
    return errors, len(reference) - len(errors), extra


def impact_errors_ms(
    contacts_s: list[float], original: np.ndarray, decoded: np.ndarray
) -> tuple[list[float], list[float], int]:
    """For each logged contact with an original onset within CONTACT_MATCH_S: the distance
    from that onset to the nearest decoded onset (if within ONSET_MATCH_S), and the
    detector's own distance to the contact. Also how many such impacts there were."""
    reference = onset_times(original, CODEC_SAMPLE_RATE)
    found = onset_times(decoded, CODEC_SAMPLE_RATE)
    errors, floor, impacts = [], [], 0
    for contact in sorted(set(np.round(contacts_s, 3))):
        if not reference.size:
            break
        onset = float(reference[np.argmin(np.abs(reference - contact))])
        if abs(onset - contact) > CONTACT_MATCH_S:
            continue
        impacts += 1
        floor.append(1000 * abs(onset - contact))
        if found.size and np.min(np.abs(found - onset)) <= ONSET_MATCH_S:
            errors.append(1000 * float(np.min(np.abs(found - onset))))
    return errors, floor, impacts


def speech_spans(clip_speech: list[tuple[float, float]], samples: int) -> list[slice]:
    spans = []
    for start_s, end_s in clip_speech:
        start = int(start_s * CODEC_SAMPLE_RATE)
        stop = min(samples, int(end_s * CODEC_SAMPLE_RATE))
        if stop - start > CODEC_SAMPLE_RATE // 2:  # STOI needs about half a second
            spans.append(slice(start, stop))
    return spans


def evaluate(codecs: CodecPair, clips: int) -> Scores:
    scores = Scores()
    dataset = SimClipDataset(seconds=CLIP_FRAMES / 24, seed=HELD_OUT_SEED)
    for index in range(clips):
        clip, _, _ = dataset.render(index)
        frames, audio = np.asarray(clip.frames), to_codec_audio(clip.audio, clip.sample_rate)
        size = dataset.sizes[index % 2]
        # 1. Video round trip and its peer.
        decoded = codecs.decode_video(codecs.encode_video(frames), len(frames))
        scores.psnr_db[size].append(psnr_db(frames, decoded))
        scores.ssim.append(ssim(frames, decoded))
        scores.peer_psnr_db.append(psnr_db(frames, peer_video(frames)))
        # 2. Audio round trip: onsets and spectra, and the same for the peer.
        sound = codecs.decode_audio(codecs.encode_audio(audio), audio.size)
        errors, missed, extra = onset_errors_ms(audio, sound)
        scores.onset_errors_ms += errors
        scores.onsets_original += len(errors) + missed
        scores.onsets_kept += len(errors)
        scores.onsets_extra += extra
        contacts_s = [c.time_s for c in clip.contacts]
        impact_errors, floor, impacts = impact_errors_ms(contacts_s, audio, sound)
        scores.impact_errors_ms += impact_errors
        scores.impact_floor_ms += floor
        scores.impacts_found += impacts
        scores.impacts_kept += len(impact_errors)
        scores.stft_distance.append(stft_distance(sound, audio))
        peer = peer_audio(audio)
        scores.peer_stft_distance.append(stft_distance(peer, audio))
        scores.peer_onset_errors_ms += onset_errors_ms(audio, peer)[0]
        # 3. Speech intelligibility over the spans where a character speaks.
        for span in speech_spans([(s.start_s, s.end_s) for s in clip.speech], audio.size):
            scores.stoi.append(stoi(audio[span], sound[span], CODEC_SAMPLE_RATE))
            scores.peer_stoi.append(stoi(audio[span], peer[span], CODEC_SAMPLE_RATE))
        print(
            f"clip {index + 1}/{clips} {size}: PSNR {scores.psnr_db[size][-1]:.2f} dB, "
            f"STFT {scores.stft_distance[-1]:.3f}",
            file=sys.stderr,
        )
    return scores


def stft_distance(decoded: np.ndarray, original: np.ndarray) -> float:
    """The training loss's multi-resolution STFT distance (spectral convergence + log L1)."""
    return float(
        multi_resolution_stft(torch.from_numpy(decoded)[None], torch.from_numpy(original)[None])
    )


def time_ten_seconds(codecs: CodecPair, runs: int) -> tuple[list[float], int]:
    clip = SimClipDataset(seconds=241 / 24, sizes=("256x448",), seed=HELD_OUT_SEED)[0]
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        codecs.decode_video(codecs.encode_video(clip.frames), len(clip.frames))
        codecs.decode_audio(codecs.encode_audio(clip.audio), clip.audio.size)
        timings.append(time.perf_counter() - started)
    return timings, len(clip.frames)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3, help="timed runs of the 10 s clip")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--video", type=Path, default=WEIGHTS_DIR / "video-vae")
    parser.add_argument("--audio", type=Path, default=WEIGHTS_DIR / "audio-codec")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    codecs = CodecPair.from_pretrained(args.video, args.audio)
    load_before = os.getloadavg()[0]
    timings, frames = time_ten_seconds(codecs, args.runs)
    load = (load_before + os.getloadavg()[0]) / 2
    scores = evaluate(codecs, args.clips)
    table = report(scores, args, timings, frames, codecs, load)
    print(table)
    if not args.no_write:
        write_section(MARK_BEGIN, MARK_END, table)


def report(
    scores: Scores,
    args: argparse.Namespace,
    timings: list[float],
    frames: int,
    codecs: CodecPair,
    load: float,
) -> str:
    median = statistics.median
    all_psnr = scores.psnr_db["256x448"] + scores.psnr_db["448x256"]
    errors = scores.onset_errors_ms
    impacts = scores.impact_errors_ms or [float("nan")]
    ours_psnr, peer_psnr = float(np.mean(all_psnr)), float(np.mean(scores.peer_psnr_db))
    ours_stft, peer_stft = median(scores.stft_distance), median(scores.peer_stft_distance)
    stoi_line = (
        f"| STOI over {len(scores.stoi)} speech spans (0..1; ≥ 0.9 is about fully intelligible) "
        f"| {median(scores.stoi):.3f} | {median(scores.peer_stoi):.3f} |"
        if scores.stoi
        else "| STOI | no speech in these clips | |"
    )
    speed = median(timings)
    return "\n".join(
        [
            MARK_BEGIN,
            "### Codecs: video VAE and audio codec round trips on held-out sim clips",
            "",
            f"`benchmarks/codec_round_trips.py --clips {args.clips}`: weights/video-vae (bfloat16 "
            "inference) and weights/audio-codec; clips of 49 frames (2.04 s) at 24 fps, "
            f"half 256x448 and half 448x256, sim seed {HELD_OUT_SEED} (training used seed "
            f"0); {args.threads} torch threads on the shared 2-core CPU. Peers as in the "
            "script's docstring.",
            "",
            "| measure | codec | peer (resampling) |",
            "|---|---|---|",
            f"| **video PSNR**, mean over clips (target ≥ 32 dB) | **{ours_psnr:.2f} dB** | "
            f"{peer_psnr:.2f} dB |",
            f"| video PSNR 256x448 / 448x256 | {np.mean(scores.psnr_db['256x448']):.2f} / "
            f"{np.mean(scores.psnr_db['448x256']):.2f} dB | |",
            f"| video SSIM (luma), mean | {np.mean(scores.ssim):.4f} | |",
            f"| **impact onset error**, median (target ≤ 5 ms) | **{median(impacts):.1f} ms** | |",
            f"| impact onset error, 90th percentile | {np.percentile(impacts, 90):.1f} ms | |",
            f"| impacts kept (within {1000 * ONSET_MATCH_S:.0f} ms) | "
            f"{scores.impacts_kept}/{scores.impacts_found} | |",
            f"| detector floor: original onset vs logged contact, median | "
            f"{median(scores.impact_floor_ms):.1f} ms | |",
            f"| every detected onset (speech, ambience too): error median / 90th pct | "
            f"{median(errors):.1f} / {np.percentile(errors, 90):.1f} ms | "
            f"{median(scores.peer_onset_errors_ms):.1f} ms |",
            f"| every detected onset: kept / extra | "
            f"{scores.onsets_kept}/{scores.onsets_original} / {scores.onsets_extra} | |",
            f"| multi-resolution STFT distance, median (0 = identical) | {ours_stft:.3f} | "
            f"{peer_stft:.3f} |",
            stoi_line,
            f"| **encode + decode, 10 s 256x448 clip + sound** ({frames} frames; target ≤ 5 s; "
            f"median of {len(timings)}, machine load average {load:.1f} on 2 cores) "
            f"| **{speed:.2f} s** | |",
            f"| compression | 4×8×8, {codecs.video.config.latent_channels} channels; audio "
            f"{codecs.audio.config.latents_per_second:.0f} latents/s × "
            f"{codecs.audio.config.latent_channels} | |",
            MARK_END,
        ]
    )


if __name__ == "__main__":
    main()
