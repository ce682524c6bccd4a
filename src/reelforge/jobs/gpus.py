"""One job per GPU: `reelforge worker` on a machine with N GPUs runs N worker processes.

A learned engine runs one generation per device at a time (its weights fill the GPU), so
a worker on a machine with N GPUs supervises N child workers, each started with
CUDA_VISIBLE_DEVICES naming its one GPU (to the child it is `cuda`, device 0). Each
child is an ordinary worker: it claims jobs under its own lease, so the queue, fairness
and exactly-once rules are the same as for workers on separate machines. Processes rather
than threads: one CUDA context each, and a child that dies (out of memory, a driver
fault) takes no other GPU's job with it; the supervisor starts it again after a back-off,
and its job is taken over when its lease expires.

The GPUs are counted without importing torch: CUDA_VISIBLE_DEVICES when it is set, else
the lines of `nvidia-smi -L`; no NVIDIA driver means no GPUs and one plain worker.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from reelforge.errors import InvalidRequest

log = logging.getLogger(__name__)

RESTART_FIRST_S = 1.0  # a child that exits is started again after this, doubling ...
RESTART_MAX_S = 60.0  # ... up to this
HEALTHY_AFTER_S = 60.0  # a child that ran this long starts its back-off afresh
STOP_GRACE_S = 30.0  # after SIGTERM, children get this long before they are killed


def visible_gpus() -> list[str]:
    """The GPUs this process may use, as CUDA_VISIBLE_DEVICES would name them."""
    named = os.environ.get("CUDA_VISIBLE_DEVICES")
    if named is not None:
        # CUDA stops at the first invalid entry; "-1" or "" hides every GPU.
        gpus: list[str] = []
        for entry in (e.strip() for e in named.split(",")):
            if not entry or entry.startswith("-"):
                break
            gpus.append(entry)
        return gpus
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        listed = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return []
    lines = [line for line in listed.stdout.splitlines() if line.startswith("GPU ")]
    return [str(i) for i in range(len(lines))] if listed.returncode == 0 else []


def gpus_to_use(requested: str) -> list[str]:
    """`--gpus`: "auto" (every visible GPU) or a count, at most the visible ones;
    InvalidRequest naming `gpus` for anything else."""
    visible = visible_gpus()
    if requested == "auto":
        return visible
    try:
        count = int(requested)
    except ValueError:
        raise InvalidRequest(
            f"--gpus must be auto or a number, got {requested!r}", param="gpus"
        ) from None
    if count < 0:
        raise InvalidRequest(f"--gpus must be auto or at least 0, got {count}", param="gpus")
    if count > len(visible):
        raise InvalidRequest(
            f"--gpus {count}, but {len(visible)} GPU{'s' * (len(visible) != 1)} "
            f"{'is' if len(visible) == 1 else 'are'} visible",
            param="gpus",
        )
    return visible[:count]


@dataclass
class _Child:
    gpu: str
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    backoff_s: float = RESTART_FIRST_S
    restart_at: float = 0.0
    restarts: int = field(default=0)


def supervise(gpus: list[str], stop: threading.Event, poll_s: float = 0.5) -> int:
    """Run one child worker per GPU until `stop` is set; restart children that exit.
    Then SIGTERM every child, kill those still running after STOP_GRACE_S, and return 0."""
    children = [_Child(gpu) for gpu in gpus]
    try:
        while not stop.is_set():
            now = time.monotonic()
            for child in children:
                if child.process is not None and child.process.poll() is not None:
                    code = child.process.returncode
                    if now - child.started >= HEALTHY_AFTER_S:
                        child.backoff_s = RESTART_FIRST_S
                    log.warning(
                        "the worker on GPU %s exited with %s; starting it again in %.0f s",
                        child.gpu,
                        code,
                        child.backoff_s,
                    )
                    print(
                        f"reelforge: the worker on GPU {child.gpu} exited with {code}; "
                        f"starting it again in {child.backoff_s:.0f} s",
                        file=sys.stderr,
                        flush=True,
                    )
                    child.process = None
                    child.restart_at = now + child.backoff_s
                    child.backoff_s = min(RESTART_MAX_S, 2 * child.backoff_s)
                    child.restarts += 1
                if child.process is None and now >= child.restart_at:
                    child.process = _start(child.gpu)
                    child.started = now
            stop.wait(poll_s)
    finally:
        _stop_all([c.process for c in children if c.process is not None])
    return 0


def _start(gpu: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": gpu}
    command = [sys.executable, "-m", "reelforge.cli", "worker", "--gpus", "1"]
    return subprocess.Popen(command, env=env)  # its output is the supervisor's


def _stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
