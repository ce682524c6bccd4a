"""load_image bounds what an uploaded image may cost (issue 21): refused by its header, or
decoded at the scale the frame needs, in bounded memory."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reelforge.errors import MediaError
from reelforge.media.images import MAX_IMAGE_PIXELS, load_image


def _png(width: int, height: int, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height)).save(buffer, "PNG")
    return buffer.getvalue()


def _peak_rss_mb(image_path: Path, threads: int) -> tuple[float, float, list[str]]:
    """Peak RSS of a fresh process before and after `threads` concurrent load_image calls
    on the file, and what each call gave ("ok" or the error)."""
    script = textwrap.dedent(
        f"""
        import sys, threading
        from reelforge.media.images import load_image
        def peak_mb():  # VmHWM: this process's own peak (ru_maxrss inherits the parent's)
            for line in open("/proc/self/status"):
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        data = open({str(image_path)!r}, "rb").read()
        before = peak_mb()
        results = []
        def one():
            try:
                frame = load_image(data, 1280, 720)
                results.append("ok" if frame.shape == (720, 1280, 3) else str(frame.shape))
            except Exception as error:
                results.append(f"{{type(error).__name__}}: {{error}}")
        workers = [threading.Thread(target=one) for _ in range({threads})]
        [w.start() for w in workers]
        [w.join() for w in workers]
        after = peak_mb()
        print(before, after, "|".join(results))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split(" ", 2)
    return float(out[0]), float(out[1]), out[2].strip().split("|")


def test_an_all_zero_png_of_40_megapixels_is_refused_by_its_header(tmp_path: Path) -> None:
    path = tmp_path / "zero.png"
    path.write_bytes(_png(8000, 4990))  # just under the 40 MP cap, ~150 KB on disk
    before, after, results = _peak_rss_mb(path, threads=4)
    assert all("MediaError" in r and "megapixels" in r for r in results), results
    assert after - before < 100, f"peak RSS grew {after - before:.0f} MB"


def test_a_large_jpeg_is_decoded_downscaled_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (4000, 6000, 3), dtype=np.uint8)  # 24 MP
    Image.fromarray(noise).save(path, "JPEG", quality=80)
    del noise
    before, after, results = _peak_rss_mb(path, threads=4)
    assert results == ["ok"] * 4
    # At full size one decode alone is 96 MB (4 bytes a pixel); at the draft scale ~15 MB.
    assert after - before < 150, f"peak RSS grew {after - before:.0f} MB"


def test_a_header_over_the_pixel_cap_is_refused() -> None:
    # 30000x30000 by its header: refused before a pixel is decoded.
    with pytest.raises(MediaError, match="megapixels"):
        load_image(_png(30000, 30000, mode="1"), 640, 360)


def test_an_image_just_under_the_cap_in_the_decode_budget_is_fitted() -> None:
    frame = load_image(_png(4000, 3000, mode="P"), 640, 360)
    assert frame.shape == (360, 640, 3)


def test_a_format_that_is_not_accepted_is_refused() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64)).save(buffer, "PPM")
    with pytest.raises(MediaError, match="PPM images are not accepted"):
        load_image(buffer.getvalue(), 64, 64)


def test_the_pixel_cap_is_pillows_too() -> None:
    assert Image.MAX_IMAGE_PIXELS == MAX_IMAGE_PIXELS
