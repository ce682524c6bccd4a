"""`reelforge worker --gpus N`: one worker process per GPU, each seeing only its own,
restarted when it dies, all stopped with the supervisor. The GPUs are named through
CUDA_VISIBLE_DEVICES (this machine has none: the children run on the CPU, as they would
with any engine that needs no GPU)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reelforge.errors import InvalidRequest
from reelforge.jobs.gpus import gpus_to_use, visible_gpus


@pytest.mark.parametrize(
    ("named", "gpus"),
    [("3,5", ["3", "5"]), ("0", ["0"]), ("", []), ("-1", []), ("2,-1,4", ["2"])],
)
def test_visible_gpus_follow_cuda_visible_devices(monkeypatch, named, gpus):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", named)
    assert visible_gpus() == gpus


def test_gpus_asked_for_must_be_there(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    assert gpus_to_use("auto") == ["3", "5"]
    assert gpus_to_use("1") == ["3"] and gpus_to_use("0") == []
    for bad, words in (("3", "3, but 2 GPUs are visible"), ("x", "auto or a number")):
        with pytest.raises(InvalidRequest, match=words) as info:
            gpus_to_use(bad)
        assert info.value.param == "gpus"


def test_no_driver_means_no_gpus(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert visible_gpus() == []


def _children(pid: int) -> dict[int, str]:
    """The child processes of `pid` and the GPU each was given."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
            except ProcessLookupError:  # gone since the list was read
                continue
            named = [e for e in environ if e.startswith(b"CUDA_VISIBLE_DEVICES=")]
            found[int(child)] = named[0].split(b"=", 1)[1].decode() if named else ""
    return found


def _wait_for(condition, what: str, log: Path, timeout_s: float = 60):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; log:\n{log.read_text()}")


def test_one_worker_per_gpu_restarted_and_stopped(tmp_path: Path):
    log = tmp_path / "worker.log"
    env = {**os.environ, "REELFORGE_DATA_DIR": str(tmp_path), "CUDA_VISIBLE_DEVICES": "3,5"}
    with log.open("w") as out:
        supervisor = subprocess.Popen(
            [sys.executable, "-m", "reelforge.cli", "worker", "--gpus", "2"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        waiting = re.compile(r"worker \S+ on GPU (\d) waiting for jobs")
        _wait_for(
            lambda: sorted(waiting.findall(log.read_text())) == ["3", "5"],
            "a worker on GPU 3 and one on GPU 5",
            log,
        )
        children = _children(supervisor.pid)
        assert sorted(children.values()) == ["3", "5"], children
        killed = next(pid for pid, gpu in children.items() if gpu == "5")
        os.kill(killed, signal.SIGKILL)
        _wait_for(
            lambda: (
                (now := _children(supervisor.pid))
                and sorted(now.values()) == ["3", "5"]
                and killed not in now
            ),
            "the worker on GPU 5 to be started again",
            log,
        )
        assert "the worker on GPU 5 exited with -9" in log.read_text()
        children = _children(supervisor.pid)
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=60) == 0
        for pid in children:  # every child stopped with it
            assert (
                not Path(f"/proc/{pid}").exists()
                or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
            )
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
