"""A memory budget per job (issue 21: one prompt took 11.6 GB of a worker).

`Settings.job_memory_budget_mb` bounds what one job may add to its process's resident
memory (RSS). The worker enforces it in two steps:

1. Before rendering, `estimate_peak_mb` of the request: what its frames and sound need
   (the frames in flight while an engine streams them, as the sim does, or the whole clip
   held by an engine that returns it at once; the mixed sound of its seconds), plus a
   fixed share for the scene, speech and encoders. Measured on the sim (720x1280, 4-20 s):
   80-120 MB over the job's start, against an estimate of 105-155 MB. A job estimated
   above the budget fails at once, nothing rendered.
2. While it renders, `MemoryWatch` samples the process's RSS every SAMPLE_S. When it has
   grown past the budget over the RSS at the job's start, the watch raises
   `JobMemoryExceeded` in the job's thread (an asynchronous exception: delivered at the
   thread's next Python bytecode, so within one numpy call), and the worker fails the job
   and deletes its files; its temp folder goes with the `with` block around it. What the
   estimate leaves out is caught here: the models a process loads with its first job
   (about 250 MB), input the estimate cannot see.

Growth, not the total: a worker process runs one job at a time (`Worker.run` is a loop),
but the server can run a worker thread inside its own process (`create_app(run_worker=
True)`), whose memory is the API's too; there the API's requests during the job count
against it. Separate worker processes (`reelforge worker`) measure the job alone.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)

SAMPLE_S = 0.1
MB = 1024 * 1024
FIXED_MB = 64  # scene, simulation, speech, encoder state
FRAMES_IN_FLIGHT = 8  # RGBA frames a streaming engine and the encoder hold at once
AUDIO_MB_PER_S = 3.0  # the mix, its stems and the marked copy: 48 kHz stereo float32
HELD_CLIP_COPIES = 2  # an engine's clip (uint8 RGB) and the marked copy
STREAMING_ENGINES = frozenset({"sim"})  # engines whose frames are drawn as they are encoded
_STATM = Path("/proc/self/statm")
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class JobMemoryExceeded(BaseException):
    """Raised in a job's thread by MemoryWatch. A BaseException, so that no `except
    Exception` on the way (a fallback, a retry) mistakes it for an ordinary failure."""


def estimate_peak_mb(engine: str, width: int, height: int, seconds: float, fps: int) -> float:
    """MB of resident memory a job of this engine, size, length and frame rate adds to
    its process at its peak (step 1 of the module's docstring)."""
    frame_mb = width * height * 4 / MB  # (H, W, 4) uint8
    frames_mb = FRAMES_IN_FLIGHT * frame_mb
    if engine not in STREAMING_ENGINES:
        frame_count = round(seconds * fps)
        frames_mb += HELD_CLIP_COPIES * frame_count * width * height * 3 / MB
    return FIXED_MB + frames_mb + AUDIO_MB_PER_S * seconds


def rss_mb() -> float | None:
    """This process's resident memory in MB; None where /proc is not there."""
    try:
        return int(_STATM.read_text().split()[1]) * _PAGE_BYTES / MB
    except (OSError, IndexError, ValueError):
        return None


class MemoryWatch:
    """While inside `with MemoryWatch(budget_mb):`, the entering thread gets
    JobMemoryExceeded once the process's RSS has grown more than `budget_mb` over its RSS
    at entry (step 2). `start_mb`, `peak_mb` and `exceeded` say what was seen."""

    def __init__(self, budget_mb: float, sample_s: float = SAMPLE_S) -> None:
        self.budget_mb, self.sample_s = budget_mb, sample_s
        self.start_mb = self.peak_mb = 0.0
        self.exceeded = False
        self._armed = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._job_thread = 0
        self._sampler = threading.Thread(target=self._sample, daemon=True, name="memory-watch")

    @property
    def growth_mb(self) -> float:
        return self.peak_mb - self.start_mb

    def __enter__(self) -> MemoryWatch:
        start = rss_mb()
        if start is None:
            log.warning("no /proc/self/statm: the job memory budget is not watched")
            return self
        self.start_mb = self.peak_mb = start
        self._job_thread = threading.get_ident()
        self._armed = True
        self._sampler.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        with self._lock:
            self._armed = False
            if self.exceeded:  # raised, or still pending: cancel it and raise it here
                _raise_in(self._job_thread, None)
        self._stop.set()
        if self._sampler.is_alive():
            self._sampler.join()
        if self.exceeded and not isinstance(error, JobMemoryExceeded):
            raise JobMemoryExceeded()

    def _sample(self) -> None:
        while not self._stop.wait(self.sample_s):
            now = rss_mb()
            if now is None:
                return
            self.peak_mb = max(self.peak_mb, now)
            if now - self.start_mb <= self.budget_mb:
                continue
            with self._lock:
                if self._armed and not self.exceeded:
                    self.exceeded = True
                    _raise_in(self._job_thread, JobMemoryExceeded)
            return


def _raise_in(thread_id: int, exception: type[BaseException] | None) -> None:
    """Make `thread_id` raise `exception` at its next bytecode; None cancels a pending one."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exception) if exception else None
    )
