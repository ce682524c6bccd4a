"""The abuse cases of issue 21 against a real `reelforge serve`, with the issue's figures
(before the fixes) next to what the server does now. Run by `api_load.py --abuse`.

For each backend (SQLite; PostgreSQL + Redis when their URLs are given) a fresh data
directory, API keys made with `reelforge keys create`, and one `reelforge serve
--no-worker` process with the default limits (the ones an operator gets). A separate
`reelforge worker` process runs only for the cases that need one, so the server's memory
and CPU figures are the API's alone. The cases, in this order (memory and CPU figures
first, before a flood of sockets has touched the server's peak):

1. Hostile JSON: nesting 1,000 and 100,000 levels; a lone surrogate "\\ud800" in a
   prompt, a remix prompt and an edit's video id. The status, and whether the server
   answers a second request on the same connection.
2. The all-zero PNG of 8000x4990 (just under 40 MP) as input_reference, once and then
   4 at once, three rounds: the most the server's VmRSS (/proc/PID/status, read every
   5 ms) rose above where it was, what it kept, and its VmHWM.
3. A 60 s 1080p MP4 to /v1/provenance/verify: the server's CPU seconds (/proc/PID/stat,
   median of 3) and its answer; and, for scale, the longest clip it accepts (24 s).
4. Character uploads of a still PNG named .mp4 and of a 30000x30000 PNG bomb: statuses.
5. Three SDK pollers (the official `openai` client, max_retries=0) at the advised
   `openai-poll-after-ms` for 60 s: their 429s.
6. Slow clients, from the start of the run in background threads: headers that never
   end and a body that never ends, each trickling one byte a second; how long the server
   holds each socket (capped at 130 s, the issue's figure). Then floods of idle sockets
   (1,500 and 5,000 by default: under and over the 2,000-connection cap; the client's
   RLIMIT_NOFILE raised) kept open, reopened as the server drops them, while a
   well-behaved client, one new connection per request at 10 requests/s, measures its
   latency and failures; the same client alone first, as the peer.
7. One user's burst of 127 creates in about 4 s (a worker running): how many are
   accepted before the first 429, and why the rest are refused; then another user's one
   job: how long it waits to start (polled through the API), and how many of the first
   user's jobs were claimed before it (claimed_at in the database).
8. Last, a 32,000-character dialogue prompt in a fresh worker process: its peak RSS
   (VmHWM) and the job's time, with a watchdog that kills the worker above
   --dialogue-rss-cap-mb or after --dialogue-timeout-s.

The machine's load average (os.getloadavg) is recorded with every case: on a shared
2-core machine the CPU and latency figures move with it. Results go to
benchmarks/results/api_abuse.json (one entry per backend, merged with what is there, so
one backend or one case can be rerun) and from there to docs/BENCHMARKS.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import io
import json
import os
import resource
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "api_abuse.json"
MARK_BEGIN, MARK_END = "<!-- api_abuse:begin -->", "<!-- api_abuse:end -->"
BACKEND_TITLES = {"sqlite": "now: SQLite", "postgres": "now: PostgreSQL + Redis"}
CASES = ("json", "png", "verify", "character", "pollers", "flood", "burst", "dialogue")
CLK_TCK = os.sysconf("SC_CLK_TCK")
HOLD_CAP_S = 130.0  # the issue saw sockets held longer than this
USERS = ("probe", "poller", "burster", "other", "talker")


# 1. Processes: the server, a worker, what /proc says about them.


def proc_status_mb(pid: int) -> dict[str, float]:
    """VmHWM (the process's peak resident memory) and VmRSS, in MB."""
    figures = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmHWM", "VmRSS"):
            figures[name] = int(value.split()[0]) / 1024
    return figures


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def fd_limit(pid: int) -> int:
    """The process's soft limit on open files (the server raises it to the hard one)."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise RuntimeError(f"no open-file limit in /proc/{pid}/limits")


def load_1min() -> float:
    return round(os.getloadavg()[0], 2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Backend:
    """Where the server keeps its rows and queue: env for every reelforge process, and
    the database URL the benchmark reads rows from."""

    name: str
    env: dict[str, str]
    database_url: str


@contextlib.contextmanager
def backend(
    name: str, data_dir: Path, pg_url: str | None, redis_url: str | None
) -> Iterator[Backend]:
    env = {**os.environ, "REELFORGE_DATA_DIR": str(data_dir)}
    if name == "sqlite":
        yield Backend(name, env, f"sqlite:///{data_dir / 'reelforge.db'}")
        return
    assert pg_url and redis_url
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    database = f"reelforge_abuse_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    url = make_url(pg_url).set(database=database).render_as_string(hide_password=False)
    env |= {
        "REELFORGE_DATABASE_URL": url,
        "REELFORGE_QUEUE_URL": redis_url,
        "REELFORGE_REDIS_URL": redis_url,
        "REELFORGE_QUEUE_NAME": f"reelforge-abuse-{uuid.uuid4().hex[:8]}",
    }
    try:
        yield Backend("postgres", env, url)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


def make_key(env: dict[str, str], user: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "reelforge.cli", "keys", "create", "--user", user],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return out.stdout.strip()


def start_server(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "reelforge.cli", "serve", "--port", str(port), "--no-worker"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "reelforge.cli", "worker"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


def rows(database_url: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The videos' rows as the worker left them (claimed_at is not in the API)."""
    from sqlalchemy import bindparam, create_engine, text

    engine = create_engine(database_url)
    query = text(
        "SELECT id, status, claimed_at, completed_at, created_at FROM videos WHERE id IN :ids"
    ).bindparams(bindparam("ids", expanding=True))
    try:
        with engine.connect() as connection:
            return {r.id: dict(r._mapping) for r in connection.execute(query, {"ids": ids})}
    finally:
        engine.dispose()


# 2. Inputs an attacker sends, made once per run.


@dataclass
class Inputs:
    zero_png: bytes  # 8000x4990 RGB, all zero: ~150 KB
    bomb_png: bytes  # 30000x30000 1-bit
    still_png: bytes
    long_1080p: bytes  # 60 s
    longest_accepted_1080p: bytes  # 24 s


def make_inputs(folder: Path) -> Inputs:
    from PIL import Image

    def png(image: Any) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        return buffer.getvalue()

    def clip(seconds: int) -> bytes:
        path = folder / f"grey-{seconds}s-1080p.mp4"
        if not path.exists():
            command = (
                "ffmpeg -v error -y"
                f" -f lavfi -i testsrc2=size=1920x1080:rate=24:duration={seconds}"
                f" -f lavfi -i sine=frequency=440:sample_rate=48000:duration={seconds}"
                " -c:v libx264 -preset ultrafast -b:v 2M -c:a aac -shortest"
            )
            subprocess.run([*command.split(), str(path)], check=True, timeout=300)
        return path.read_bytes()

    return Inputs(
        zero_png=png(Image.new("RGB", (8000, 4990))),
        bomb_png=png(Image.new("1", (30000, 30000))),
        still_png=png(Image.new("RGB", (320, 240), (200, 100, 50))),
        long_1080p=clip(60),
        longest_accepted_1080p=clip(24),
    )


# 3. Raw HTTP, to see whether the server keeps the connection after an answer.


def raw_request(method: str, path: str, key: str, body: bytes = b"") -> bytes:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def exchange(sock: socket.socket, request: bytes) -> tuple[int, dict[str, Any]] | None:
    """Send one request and read its answer (status, JSON body); None if the server
    closed the connection instead."""
    try:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            body += chunk
    except OSError:
        return None
    status = int(lines[0].split()[1])
    try:
        return status, json.loads(body) if body else {}
    except ValueError:
        return status, {"raw": body[:200].decode("latin-1")}


# 4. The cases. Each takes the running server and returns its figures.


@dataclass
class Target:
    url: str
    server: subprocess.Popen[bytes]
    backend: Backend
    keys: dict[str, str]
    logs: Path

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def client(self, user: str, timeout: float = 60) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"authorization": f"Bearer {self.keys[user]}"},
            timeout=timeout,
        )


def case_json(t: Target) -> dict[str, Any]:
    """Status, error code and param, and whether the connection still answers."""
    key = t.keys["probe"]
    bodies = {
        "JSON nested 1,000 levels": (
            "/v1/videos",
            '{"prompt": ' + "[" * 1000 + "]" * 1000 + "}",
        ),
        "JSON nested 100,000 levels": (
            "/v1/videos",
            '{"prompt": ' + "[" * 100_000 + "]" * 100_000 + "}",
        ),
        "lone surrogate in a prompt": ("/v1/videos", json.dumps({"prompt": "a cat \ud800"})),
        "lone surrogate in a remix prompt": (
            "/v1/videos/video_x/remix",
            json.dumps({"prompt": "\ud800"}),
        ),
        "lone surrogate in an edit's video id": (
            "/v1/videos/edits",
            json.dumps({"prompt": "ok", "video": {"id": "video_\ud800"}}),
        ),
    }
    out = {}
    for name, (path, body) in bodies.items():
        with socket.create_connection(("127.0.0.1", t.port), timeout=30) as sock:
            answer = exchange(sock, raw_request("POST", path, key, body.encode()))
            again = exchange(sock, raw_request("GET", "/healthz", key))
        error = (answer[1].get("error") or {}) if answer else {}
        out[name] = {
            "status": answer[0] if answer else None,
            "code": error.get("code"),
            "param": error.get("param"),
            "connection_kept": again is not None and again[0] == 200,
        }
    return out


class RssSampler(threading.Thread):
    """The highest VmRSS of a process, read every 5 ms while running: VmHWM keeps the
    process's start-up peak, which hides anything smaller that comes later."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_mb = pid, 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak_mb = max(self.peak_mb, proc_status_mb(self.pid)["VmRSS"])
            time.sleep(0.005)

    def __enter__(self) -> RssSampler:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.done.set()
        self.join()


def case_png(t: Target, inputs: Inputs) -> dict[str, Any]:
    """The all-zero 40 MP PNG as input_reference, once, then 4 at once, three rounds: the
    most the server's resident memory rose above where it was before a request (the
    first round's includes what the first image request loads), what stays after all,
    and how far the process's own peak (VmHWM) moved."""

    def send() -> int:
        with t.client("probe") as http:
            response = http.post(
                "/v1/videos",
                data={"prompt": "a red ball bounces", "seconds": "4", "size": "720x1280"},
                files={"input_reference": ("zero.png", inputs.zero_png, "image/png")},
            )
        return response.status_code

    pid = t.server.pid
    start = proc_status_mb(pid)
    one_mb, four_mb, statuses = [], [], []
    for _ in range(3):
        before = proc_status_mb(pid)["VmRSS"]
        with RssSampler(pid) as one:
            statuses.append(send())
        threads = [threading.Thread(target=lambda: statuses.append(send())) for _ in range(4)]
        with RssSampler(pid) as four:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        one_mb.append(one.peak_mb - before)
        four_mb.append(four.peak_mb - before)
    time.sleep(2)
    settled = proc_status_mb(pid)
    return {
        "png_bytes": len(inputs.zero_png),
        "rounds": 3,
        "statuses": Counter(statuses),
        "growth_one_mb": max(one_mb),
        "growth_four_mb": max(four_mb),
        "growth_each_round_mb": [round(max(a, b)) for a, b in zip(one_mb, four_mb, strict=True)],
        "hwm_growth_mb": settled["VmHWM"] - start["VmHWM"],
        "rss_kept_mb": settled["VmRSS"] - start["VmRSS"],
    }


def case_verify(t: Target, inputs: Inputs, rounds: int = 3) -> dict[str, Any]:
    """Server CPU seconds (median of `rounds`) and the answer, for the 60 s 1080p upload
    and, for scale, the longest one accepted."""
    out = {}
    for name, data in (("60 s", inputs.long_1080p), ("24 s", inputs.longest_accepted_1080p)):
        cpu_each_s, wall_each_s = [], []
        for _ in range(rounds):
            cpu0, t0 = cpu_s(t.server.pid), time.perf_counter()
            with t.client("probe", timeout=300) as http:
                response = http.post(
                    "/v1/provenance/verify", files={"file": ("clip.mp4", data, "video/mp4")}
                )
            cpu_each_s.append(cpu_s(t.server.pid) - cpu0)
            wall_each_s.append(time.perf_counter() - t0)
        body = response.json()
        error = body.get("error") or {}
        out[name] = {
            "mb": round(len(data) / 1e6, 2),
            "status": response.status_code,
            "code": error.get("code"),
            "answer": (error.get("message") or body.get("summary") or "")[:160]
            or json.dumps(body)[:160],
            "rounds": rounds,
            "server_cpu_s": round(statistics.median(cpu_each_s), 2),
            "wall_s": round(statistics.median(wall_each_s), 2),
        }
    return out


def case_character(t: Target, inputs: Inputs) -> dict[str, Any]:
    out = {}
    uploads = (("still PNG named .mp4", inputs.still_png), ("30000x30000 PNG", inputs.bomb_png))
    for name, data in uploads:
        hwm0 = proc_status_mb(t.server.pid)["VmHWM"]
        with t.client("probe") as http:
            response = http.post(
                "/v1/videos/characters",
                data={"name": "Blob"},
                files={"video": ("clip.mp4", data, "video/mp4")},
            )
        error = (response.json().get("error") or {}) if response.status_code != 200 else {}
        out[name] = {
            "status": response.status_code,
            "param": error.get("param"),
            "message": (error.get("message") or "")[:120],
            "server_hwm_growth_mb": proc_status_mb(t.server.pid)["VmHWM"] - hwm0,
        }
    return out


def case_pollers(t: Target, seconds: float) -> dict[str, Any]:
    """Three openai SDK clients polling one video at the advised interval."""
    import openai

    sdk = openai.OpenAI(base_url=f"{t.url}/v1", api_key=t.keys["poller"], max_retries=0)
    video = sdk.videos.create(prompt="a red ball bounces", seconds="4")
    raw = sdk.videos.with_raw_response.retrieve(video.id)
    interval_s = int(raw.headers["openai-poll-after-ms"]) / 1000
    counts: Counter[str] = Counter()
    lock = threading.Lock()

    def poll() -> None:
        mine = openai.OpenAI(base_url=f"{t.url}/v1", api_key=t.keys["poller"], max_retries=0)
        end = time.monotonic() + seconds
        due = time.monotonic()
        while due < end:
            try:
                mine.videos.retrieve(video.id)
                outcome = "ok"
            except openai.RateLimitError:
                outcome = "429"
            except openai.APIError as error:
                outcome = type(error).__name__
            with lock:
                counts[outcome] += 1
            due += interval_s
            time.sleep(max(0.0, due - time.monotonic()))

    threads = [threading.Thread(target=poll) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"interval_ms": interval_s * 1000, "seconds": seconds, "outcomes": dict(counts)}


class SlowClient(threading.Thread):
    """Sends the start of a request, then one byte a second, until the server closes
    the socket (or HOLD_CAP_S)."""

    def __init__(self, port: int, opening: bytes) -> None:
        super().__init__(daemon=True)
        self.port, self.opening = port, opening
        self.held_s: float | None = None

    def run(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        t0 = time.monotonic()
        try:
            sock.sendall(self.opening)
            while time.monotonic() - t0 < HOLD_CAP_S:
                sock.settimeout(1.0)
                try:
                    if not sock.recv(4096):
                        break
                except TimeoutError:
                    sock.sendall(b"a")
        except OSError:
            pass  # reset or broken pipe: the server closed it
        finally:
            self.held_s = time.monotonic() - t0
            sock.close()


def slow_clients(t: Target) -> dict[str, SlowClient]:
    key = t.keys["probe"]
    clients = {
        "unfinished headers": SlowClient(
            t.port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
        ),
        "unfinished body": SlowClient(
            t.port,
            raw_request("POST", "/v1/videos", key).replace(
                b"Content-Length: 0", b"Content-Length: 100000"
            )
            + b'{"prompt": "',
        ),
    }
    for client in clients.values():
        client.start()
    return clients


class Flood(threading.Thread):
    """Keeps `count` idle sockets open to the server: connects them without blocking
    and opens a new one for each the server drops."""

    def __init__(self, port: int, count: int) -> None:
        super().__init__(daemon=True)
        self.port, self.count = port, count
        self.stop_at = 0.0
        self.opened = self.dropped = self.failed_opens = 0
        self.running = threading.Event()

    def _open(self, selector: selectors.DefaultSelector) -> None:
        sock = socket.socket()
        sock.setblocking(False)
        code = sock.connect_ex(("127.0.0.1", self.port))
        if code not in (0, errno.EINPROGRESS):
            sock.close()
            self.failed_opens += 1
            return
        selector.register(sock, selectors.EVENT_READ)
        self.opened += 1

    def run(self) -> None:
        selector = selectors.DefaultSelector()
        for _ in range(self.count):
            self._open(selector)
        self.running.set()
        while time.monotonic() < self.stop_at:
            for handle, _ in selector.select(timeout=0.2):
                sock = handle.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    gone = not sock.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    gone = True
                if gone:
                    selector.unregister(sock)
                    sock.close()
                    self.dropped += 1
                    self._open(selector)
        for handle in list(selector.get_map().values()):
            assert isinstance(handle.fileobj, socket.socket)
            handle.fileobj.close()
        selector.close()


def well_behaved(port: int, seconds: float, server_pid: int) -> dict[str, Any]:
    """GET /healthz on a new connection every 0.1 s (raw sockets: no client library's
    set-up in the latency); latency, failures, the server's open files (sampled)."""
    latencies_ms: list[float] = []
    outcomes: Counter[str] = Counter()
    fds: list[int] = []
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.perf_counter()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                answer = exchange(sock, request)
            outcomes[str(answer[0]) if answer else "closed"] += 1
        except OSError as error:
            outcomes[type(error).__name__] += 1
        latencies_ms.append(1000 * (time.perf_counter() - t0))
        fds.append(open_fds(server_pid))
        time.sleep(max(0.0, 0.1 - (time.perf_counter() - t0)))
    ordered = sorted(latencies_ms)
    return {
        "requests": len(ordered),
        "p50_ms": round(ordered[len(ordered) // 2], 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 1),
        "failed": sum(c for k, c in outcomes.items() if k != "200"),
        "outcomes": dict(outcomes),
        "server_fds_max": max(fds),
    }


def case_flood(t: Target, sizes: list[int], seconds: float) -> dict[str, Any]:
    """The well-behaved client alone, then during a flood of each size, then after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < max(sizes) + 1000:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(sizes) + 4000), hard))
    out: dict[str, Any] = {
        "seconds": seconds,
        "server_fd_limit": fd_limit(t.server.pid),
        "client_fd_limit": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
        "alone": well_behaved(t.port, 10, t.server.pid),
    }
    for sockets in sizes:
        flood = Flood(t.port, sockets)
        flood.stop_at = time.monotonic() + seconds + 60  # stopped by hand below
        flood.start()
        flood.running.wait(60)
        during = well_behaved(t.port, seconds, t.server.pid)
        flood.stop_at = 0
        flood.join(30)
        time.sleep(2)
        out[str(sockets)] = {
            "during": during,
            "after": well_behaved(t.port, 3, t.server.pid),
            "flood_opened": flood.opened,
            "flood_dropped_by_server": flood.dropped,
            "flood_failed_opens": flood.failed_opens,
            "server_rss_mb": round(proc_status_mb(t.server.pid)["VmRSS"]),
        }
    return out


def wait_status(http: httpx.Client, video_id: str, wanted: set[str], within_s: float) -> float:
    """Seconds until the video's status is one of `wanted` (polled every 0.1 s)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < within_s:
        if http.get(f"/v1/videos/{video_id}").json()["status"] in wanted:
            return time.monotonic() - t0
        time.sleep(0.1)
    raise RuntimeError(f"video {video_id} not {wanted} within {within_s} s")


def case_burst(t: Target) -> dict[str, Any]:
    """127 creates by one user in ~4 s with a worker running; then another user's job."""
    worker = start_worker(t.backend.env, t.logs / "worker-burst.log")
    try:
        # 1. The worker is ready once it has finished a job (imports, policy models).
        with t.client("other") as other:
            warm = other.post("/v1/videos", data={"prompt": "a blue cube", "seconds": "4"})
            wait_status(other, warm.json()["id"], {"completed", "failed"}, 180)
            warmed = other.get(f"/v1/videos/{warm.json()['id']}").json()
            if warmed["status"] != "completed":
                raise RuntimeError(f"the worker's first job failed: {warmed.get('error')}")
        # 2. The burst, paced over 4 s.
        statuses: list[tuple[int, str | None]] = []
        accepted: list[str] = []
        with t.client("burster") as http:
            t0 = time.monotonic()
            for i in range(127):
                time.sleep(max(0.0, t0 + i * 4 / 127 - time.monotonic()))
                response = http.post(
                    "/v1/videos", data={"prompt": f"a red ball number {i}", "seconds": "4"}
                )
                code = None
                if response.status_code == 200:
                    accepted.append(response.json()["id"])
                else:
                    code = (response.json().get("error") or {}).get("code")
                statuses.append((response.status_code, code))
            burst_s = time.monotonic() - t0
        first_refused = next((i for i, (s, _) in enumerate(statuses) if s != 200), 127)
        # 3. Another user's job right after.
        with t.client("other") as other:
            submitted_at = time.time()  # the clock claimed_at is on (same host)
            mine = other.post("/v1/videos", data={"prompt": "a green cone", "seconds": "4"})
            mine_id = mine.json()["id"]
            waited_s = wait_status(other, mine_id, {"in_progress", "completed", "failed"}, 300)
            wait_status(other, mine_id, {"completed", "failed"}, 300)
        # 4. The order the worker took them in.
        table = rows(t.backend.database_url, [*accepted, mine_id])
        mine_claimed = table[mine_id]["claimed_at"]
        claimed = [table[v]["claimed_at"] for v in accepted if table[v]["claimed_at"]]
        # Burst jobs the worker started while the other user's job was waiting: with a
        # round-robin pick, none (the one running when it came in is not counted).
        ahead = sum(submitted_at < c < mine_claimed for c in claimed)
        running = sum(c < submitted_at for c in claimed)
        with t.client("burster") as http:  # clear the backlog for the cases after this one
            for v in accepted:
                http.delete(f"/v1/videos/{v}")
        job_s = [
            table[v]["completed_at"] - table[v]["claimed_at"]
            for v in accepted
            if table[v]["status"] == "completed" and table[v]["claimed_at"]
        ]
    finally:
        stop(worker)
    return {
        "burst_s": round(burst_s, 2),
        "accepted": len(accepted),
        "accepted_before_first_refusal": first_refused,
        "refusals": Counter(f"{s} {c}" for s, c in statuses if s != 200),
        "other_wait_to_start_s": round(waited_s, 2),
        "burst_jobs_started_before_other_submitted": running,
        "burst_jobs_started_while_other_waited": ahead,
        "one_job_s_median": round(statistics.median(job_s), 1) if job_s else None,
        "burst_jobs_failed": sum(1 for v in accepted if table[v]["status"] == "failed"),
    }


def dialogue_prompt() -> str:
    """32,000 characters: a scene and one character's very long line."""
    scene = 'A girl stands in a park and says "'
    sentence = "I love the sunny park and the green trees and the birds that sing all day. "
    line = (sentence * (32_000 // len(sentence) + 1))[: 32_000 - len(scene) - 1]
    return scene + line + '"'


@dataclass
class Job:
    """One job watched from submit to its end: the worker's memory, the lease's renewals."""

    status: str = "queued"
    error: Any = None
    killed: str | None = None
    wall_s: float = 0.0
    job_s: float | None = None  # claimed_at → completed_at (the latter whole seconds)
    worker_hwm_mb: float = 0.0
    longest_without_renewal_s: float = 0.0


def watch_job(
    t: Target,
    user: str,
    prompt: str,
    worker: subprocess.Popen[bytes],
    rss_cap_mb: float,
    timeout_s: float,
) -> Job:
    from sqlalchemy import create_engine, text

    job = Job()
    with t.client(user) as http:
        made = http.post("/v1/videos", data={"prompt": prompt, "seconds": "12"})
        if made.status_code != 200:
            return Job(status=str(made.status_code), error=made.text[:200])
        video_id = made.json()["id"]
    engine = create_engine(t.backend.database_url)
    query = text(
        "SELECT status, lease_expires_at, claimed_at, completed_at FROM videos WHERE id = :id"
    )
    t0 = time.monotonic()
    lease, renewed_at, longest = None, None, 0.0
    try:
        with engine.connect() as connection:
            while True:
                row = connection.execute(query, {"id": video_id}).one()
                connection.rollback()  # a fresh snapshot next time
                now = time.monotonic()
                if row.lease_expires_at is not None and row.lease_expires_at != lease:
                    if renewed_at is not None:
                        longest = max(longest, now - renewed_at)
                    lease, renewed_at = row.lease_expires_at, now
                if row.status in ("completed", "failed"):
                    if renewed_at is not None:
                        longest = max(longest, now - renewed_at)
                    break
                memory = proc_status_mb(worker.pid)
                if memory["VmRSS"] > rss_cap_mb:
                    job.killed = f"at {memory['VmRSS']:.0f} MB resident"
                elif now - t0 > timeout_s:
                    job.killed = f"after {timeout_s:.0f} s"
                if job.killed:
                    job.worker_hwm_mb = memory["VmHWM"]
                    worker.kill()
                    worker.wait(20)
                    break
                time.sleep(0.25)
    finally:
        engine.dispose()
    job.wall_s = time.monotonic() - t0
    job.status = row.status if not job.killed else "killed"
    job.longest_without_renewal_s = round(longest, 1)
    if not job.killed:
        job.worker_hwm_mb = proc_status_mb(worker.pid)["VmHWM"]
        with t.client(user) as http:
            job.error = http.get(f"/v1/videos/{video_id}").json().get("error")
    if row.completed_at and row.claimed_at:
        job.job_s = round(row.completed_at - row.claimed_at, 1)
    return job


def case_dialogue(t: Target, rss_cap_mb: float, timeout_s: float) -> dict[str, Any]:
    """A fresh worker: first a 12 s job with a short prompt (the peer), then the
    32,000-character dialogue prompt; peak RSS (VmHWM after each), time, and the longest
    the lease went without a renewal."""
    commit = source(t.backend.env)
    worker = start_worker(t.backend.env, t.logs / "worker-dialogue.log")
    try:
        time.sleep(5)
        idle_hwm = proc_status_mb(worker.pid)["VmHWM"]
        peer = watch_job(
            t,
            "talker",
            'A girl stands in a park and says "Hello!"',
            worker,
            rss_cap_mb,
            timeout_s,
        )
        long = watch_job(t, "talker", dialogue_prompt(), worker, rss_cap_mb, timeout_s)
    finally:
        stop(worker)
    return {
        "commit": commit,
        "prompt_chars": len(dialogue_prompt()),
        "worker_idle_hwm_mb": round(idle_hwm),
        "peer": dataclasses.asdict(peer),
        "dialogue": dataclasses.asdict(long),
    }


# 5. One backend: server up, every case in order, server down.


@dataclass
class Options:
    cases: tuple[str, ...]
    flood_sockets: list[int]
    flood_s: float
    poll_s: float
    dialogue_rss_cap_mb: float
    dialogue_timeout_s: float


@dataclass
class Figures:
    cases: dict[str, Any] = field(default_factory=dict)
    load: dict[str, float] = field(default_factory=dict)  # 1-min load average at each case


def run_backend(
    name: str,
    work: Path,
    inputs: Inputs | None,
    options: Options,
    pg_url: str | None,
    redis_url: str | None,
) -> Figures:
    data_dir = work / name
    data_dir.mkdir(parents=True)
    figures = Figures()
    with backend(name, data_dir, pg_url, redis_url) as where:
        keys = {user: make_key(where.env, user) for user in USERS}
        server, url = start_server(where.env, work / f"server-{name}.log")
        t = Target(url, server, where, keys, work)
        try:
            slow = slow_clients(t) if "flood" in options.cases else {}
            for case in options.cases:
                print(f"[{name}] {case} (load {load_1min()})", file=sys.stderr)
                figures.load[case] = load_1min()
                figures.cases[case] = run_case(case, t, inputs, options)
                print(f"[{name}] {case}: {figures.cases[case]}", file=sys.stderr)
            for label, client in slow.items():
                client.join(HOLD_CAP_S + 10)
                figures.cases.setdefault("slow", {})[label] = round(client.held_s or 0, 1)
        finally:
            stop(server)
    return figures


def run_case(case: str, t: Target, inputs: Inputs | None, options: Options) -> Any:
    if case == "json":
        return case_json(t)
    if case == "pollers":
        return case_pollers(t, options.poll_s)
    if case == "flood":
        return case_flood(t, options.flood_sockets, options.flood_s)
    if case == "burst":
        return case_burst(t)
    if case == "dialogue":
        return case_dialogue(t, options.dialogue_rss_cap_mb, options.dialogue_timeout_s)
    assert inputs is not None
    if case == "png":
        return case_png(t, inputs)
    if case == "verify":
        return case_verify(t, inputs)
    if case == "character":
        return case_character(t, inputs)
    raise ValueError(f"unknown case {case!r}; one of {', '.join(CASES)}")


def merge_results(name: str, figures: Figures, run_s: float, source: str) -> dict[str, Any]:
    """benchmarks/results/api_abuse.json with this backend's cases replaced. A run of
    every case sets the backend's time, source and duration; a run of some cases is
    noted as a rerun of those."""
    stored = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"backends": {}}
    entry = stored["backends"].setdefault(name, {"cases": {}, "load": {}})
    entry["cases"].update(json.loads(json.dumps(figures.cases)))
    entry["load"].update(figures.load)
    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    if set(figures.cases) >= set(CASES):
        entry |= {"measured_at": now, "source": source, "run_s": round(run_s), "reruns": {}}
    else:
        entry.setdefault("reruns", {}).update(dict.fromkeys(figures.cases, f"{now} at {source}"))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")
    return stored


def source(env: dict[str, str]) -> str:
    """Which reelforge the servers run: the commit, and whether it is a clean export
    (a folder with a COMMIT file, put first on PYTHONPATH) or a checkout with changes."""
    imported = subprocess.run(
        [sys.executable, "-c", "import reelforge; print(reelforge.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    src = Path(imported).parents[1]
    if (src.parent / "COMMIT").exists():
        return f"{(src.parent / 'COMMIT').read_text().strip()} (a clean export of the commit)"
    git = ["git", "-C", str(src)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    changed = subprocess.run(
        [*git, "status", "--porcelain", "--", "."], capture_output=True, text=True
    )
    dirty = len(changed.stdout.splitlines())
    return commit.stdout.strip() + (f" with {dirty} files changed in src/" if dirty else "")


def backend_urls(database_url: str | None, redis_url: str | None) -> tuple[str | None, str | None]:
    return (
        database_url or os.environ.get("REELFORGE_TEST_DATABASE_URL"),
        redis_url or os.environ.get("REELFORGE_TEST_REDIS_URL"),
    )


def main(args: Any) -> None:
    """`api_load.py --abuse`: every chosen backend in turn, then the document."""
    import tempfile

    pg_url, redis_url = backend_urls(args.database_url, args.redis_url)
    names = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    if "postgres" in names and not (pg_url and redis_url):
        if args.backend == "postgres":
            raise SystemExit("--backend postgres needs --database-url and --redis-url")
        print("no PostgreSQL/Redis URLs: SQLite only", file=sys.stderr)
        names.remove("postgres")
    cases = tuple(args.cases.split(",")) if args.cases else CASES
    options = Options(
        cases=cases,
        flood_sockets=[int(n) for n in args.flood_sockets.split(",")],
        flood_s=args.flood_s,
        poll_s=args.poll_s,
        dialogue_rss_cap_mb=args.dialogue_rss_cap_mb,
        dialogue_timeout_s=args.dialogue_timeout_s,
    )
    with tempfile.TemporaryDirectory(prefix="reelforge-abuse-") as tmp:
        work = Path(tmp)
        needs_inputs = {"png", "verify", "character"} & set(cases)
        inputs = make_inputs(work) if needs_inputs else None
        for name in names:
            t0 = time.monotonic()
            figures = run_backend(name, work, inputs, options, pg_url, redis_url)
            run_s = time.monotonic() - t0
            if args.no_write:
                print(json.dumps(figures.cases, indent=1, default=str))
            else:
                merge_results(name, figures, run_s, source(dict(os.environ)))
    if not args.no_write:
        from benchmark_doc import write_section

        write_section(MARK_BEGIN, MARK_END, section(json.loads(RESULTS.read_text())))


# 6. The document: one row per figure, the figure next to each backend's.


def answer(case: dict[str, Any]) -> str:
    """A JSON case: "400 `code` naming `param`, connection kept"."""
    naming = f" naming `{case['param']}`" if case.get("param") else ""
    kept = "connection kept" if case["connection_kept"] else "**connection dropped**"
    return f"{case['status']} `{case['code']}`{naming}, {kept}"


def client_figures(run: dict[str, Any]) -> str:
    failures = ", ".join(f"{c}× {k}" for k, c in run["outcomes"].items() if k != "200")
    return (
        f"p50 {run['p50_ms']:.1f} ms, p99 {run['p99_ms']:.1f} ms, "
        f"failed {run['failed']}/{run['requests']}" + (f" ({failures})" if failures else "")
    )


def rows_of(cases: dict[str, Any]) -> dict[str, str]:
    """Each figure of one backend, keyed by the row it belongs to."""
    out: dict[str, str] = {}
    if json_cases := cases.get("json"):
        for name, case in json_cases.items():
            out[name] = answer(case)
    if slow := cases.get("slow"):
        for name, held_s in slow.items():
            never = " (the cap: never dropped)" if held_s >= HOLD_CAP_S else ""
            out[f"{name}, one byte a second"] = f"held {held_s:.1f} s{never}"
    if flood := cases.get("flood"):
        out["a well-behaved client alone (peer)"] = client_figures(flood["alone"])
        for size in (k for k in flood if k.isdigit()):
            run = flood[size]
            out[f"{int(size):,} idle sockets for {flood['seconds']:.0f} s"] = (
                f"well-behaved client: {client_figures(run['during'])}; server's open files "
                f"at most {run['during']['server_fds_max']:,}; afterwards "
                f"{client_figures(run['after'])}"
            )
    if png := cases.get("png"):
        statuses = ", ".join(f"{c}× {s}" for s, c in png["statuses"].items())
        out["40 MP all-zero PNG as input_reference"] = (
            f"{statuses}; resident memory +{png['growth_one_mb']:.0f} MB at most "
            f"(a {png['png_bytes'] / 1000:.0f} KB file)"
        )
        out["the same, 4 at once"] = (
            f"+{png['growth_four_mb']:.0f} MB at most (worst of {png.get('rounds', 1)} "
            f"rounds), {png['rss_kept_mb']:.0f} MB kept, the process's peak (VmHWM) "
            f"+{png['hwm_growth_mb']:.0f} MB"
        )
    if verify := cases.get("verify"):
        for name, run in verify.items():
            what = f"`{run['code']}`" if run["code"] else f"“{run['answer']}”"
            out[f"verify: {name} 1080p upload"] = (
                f"{run['status']} {what}; {run['server_cpu_s']:.2f} CPU-s (median of "
                f"{run.get('rounds', 1)})"
            )
    if character := cases.get("character"):
        for name, run in character.items():
            out[f"character upload: {name}"] = f"{run['status']} naming `{run['param']}`"
    if burst := cases.get("burst"):
        refusals = ", ".join(f"{c}× {k}" for k, c in burst["refusals"].items())
        out["one user's 127 creates"] = (
            f"{burst['accepted_before_first_refusal']} accepted in "
            f"{burst['burst_s']:.1f} s, then 429 ({refusals})"
        )
        out["another user's job, submitted right after"] = (
            f"started after {burst['other_wait_to_start_s']:.1f} s; burst jobs started "
            f"while it waited: {burst['burst_jobs_started_while_other_waited']} (one job: "
            f"{burst['one_job_s_median']} s)"
        )
    if pollers := cases.get("pollers"):
        outcomes = pollers["outcomes"]
        out["3 SDK pollers at the advised interval"] = (
            f"{outcomes.get('429', 0)}× 429 in {sum(outcomes.values())} polls "
            f"({pollers['interval_ms']:.0f} ms, {pollers['seconds']:.0f} s)"
        )
    if dialogue := cases.get("dialogue"):
        long, peer = dialogue["dialogue"], dialogue["peer"]
        ended = long["status"] if not long["killed"] else f"killed {long['killed']}"
        out["32,000-character dialogue prompt"] = (
            f"{ended}: worker peak {long['worker_hwm_mb']:.0f} MB, job {long['job_s']} s, "
            f"longest without a lease renewal {long['longest_without_renewal_s']:.1f} s "
            f"(at {dialogue['commit'].split()[0]}; peer, a one-line prompt: "
            f"{peer['worker_hwm_mb']:.0f} MB, {peer['job_s']} s)"
        )
    return out


BEFORE = {
    "JSON nested 1,000 levels": "500, connection dropped",
    "JSON nested 100,000 levels": "500, connection dropped (≥ 1,000 levels)",
    "lone surrogate in a prompt": "500, connection dropped",
    "lone surrogate in a remix prompt": "500, connection dropped",
    "lone surrogate in an edit's video id": "500, connection dropped",
    "unfinished headers, one byte a second": "held > 130 s",
    "unfinished body, one byte a second": "held > 130 s",
    "a well-behaved client alone (peer)": "",
    "40 MP all-zero PNG as input_reference": "+815 MB",
    "the same, 4 at once": "+3.1 GB, 2.7 GB never returned",
    "verify: 60 s 1080p upload": "15.5 CPU-s",
    "verify: 24 s 1080p upload": "(the longest accepted now; not in the issue)",
    "character upload: still PNG named .mp4": "accepted (19 of 21 still images)",
    "character upload: 30000x30000 PNG": "accepted",
    "one user's 127 creates": "all 127 queued in 3.9 s",
    "another user's job, submitted right after": "waited behind all 127",
    "3 SDK pollers at the advised interval": "`RateLimitError`",
    "32,000-character dialogue prompt": "11.6 GB, 94 s, no heartbeat for 47 s",
}


FLOOD_BEFORE = "24,000 idle sockets exhausted the file descriptors; every request failed"


def notes(stored: dict[str, Any]) -> list[str]:
    """What the table means, from its own figures (the first backend that has them)."""
    first: dict[str, Any] = {}
    for b in BACKEND_TITLES:
        for case, figures in stored["backends"].get(b, {}).get("cases", {}).items():
            first.setdefault(case, figures)
    out = []
    if flood := first.get("flood"):
        sizes = sorted(int(k) for k in flood if k.isdigit())
        top = flood[str(sizes[-1])]["during"]
        under = flood[str(sizes[0])]["during"]
        out.append(
            f"Idle sockets: each is dropped after `header_timeout_s` (10 s), and the flood "
            f"opens a new one for each dropped. Below the connection cap (`max_connections`, "
            f"2,000; {sizes[0]:,} sockets) the other client was answered "
            f"{under['requests'] - under['failed']} times of {under['requests']} "
            f"(p99 {under['p99_ms']:.0f} ms against "
            f"{flood['alone']['p99_ms']:.0f} ms alone); above it "
            f"({sizes[-1]:,} sockets, reopened as fast as the server closes them: "
            f"{flood[str(sizes[-1])]['flood_opened']:,} opened in {flood['seconds']:.0f} s) "
            f"{top['requests'] - top['failed']} of its {top['requests']} requests were "
            f"answered (p50 {top['p50_ms']:.0f} ms, p99 {top['p99_ms']:.0f} ms: its "
            f"connections wait in the accept queue behind the flood's), and at once "
            f"again after the flood stopped. At the cap the server closes the least "
            f"recently active idle connection to make room (service/connections.py), so "
            f"it never held more "
            f"than {top['server_fds_max']:,} descriptors (its limit: "
            f"{flood['server_fd_limit']:,}); a 503 is left for when every connection is "
            f"busy. There is no per-address cap: a flood from many hosts at once is shed "
            f"the same way, oldest first. Not measured: a flood past the server's "
            f"{flood['server_fd_limit']:,} descriptors (the issue's 24,000), which needs "
            f"more sockets than this client may open ({flood['client_fd_limit']:,}) and "
            f"more ephemeral ports than a shared machine should lend."
        )
    if verify := first.get("verify"):
        accepted = verify.get("24 s", {})
        if accepted.get("status") == 200:
            out.append(
                f"`verify` refuses the 60 s upload by its header for almost nothing, but a "
                f"clip within the bounds (24 s of 1080p) still costs "
                f"{accepted['server_cpu_s']:.1f} CPU-s; `verify` has its own limit per "
                f"user (the `verify` class, 10 a minute by default: about one core), "
                f"measured before that limit was added. It does not run as a job."
            )
    if (png := first.get("png")) and len(rounds := png.get("growth_each_round_mb", [])) > 1:
        out.append(
            f"The 40 MP PNG is refused by its header (422 naming `input_reference`). The "
            f"server's memory rose {rounds[0]} MB in the first round (what the image path "
            f"loads on first use) and at most {max(rounds[1:])} MB in the "
            f"{len(rounds) - 1} later ones, 4 at once included. The issue's file was "
            f"154 KB; this Pillow writes the same 8000x4990 all-zero image in "
            f"{png['png_bytes'] / 1000:.0f} KB."
        )
    if "burst" in first:
        out.append(
            "The burst meets the per-user cap of active jobs (`max_active_jobs_per_user`, "
            "20, counted at submit: `too_many_active_jobs`) and then the create limit "
            "(120 a minute: `rate_limit_exceeded`); the other user's job waits for the "
            "job the worker is running, not for the burst (round-robin pick). Job times "
            "are from the rows' claimed_at and completed_at (whole seconds)."
        )
    return out


def section(stored: dict[str, Any]) -> str:
    backends = [b for b in BACKEND_TITLES if b in stored["backends"]]
    figures = {b: rows_of(stored["backends"][b]["cases"]) for b in backends}
    labels = list(dict.fromkeys(label for b in backends for label in figures[b]))
    order = {label: i for i, label in enumerate(BEFORE)}
    labels.sort(key=lambda label: order.get(label, order["a well-behaved client alone (peer)"]))
    lines = [
        MARK_BEGIN,
        "### Abuse cases of issue 21, on `reelforge serve --no-worker` with default limits",
        "",
        "`benchmarks/api_load.py --abuse` (the cases: `benchmarks/api_abuse.py`); one run "
        "per backend, a fresh server and data directory each, `reelforge worker` in its own "
        "process for the cases that need one. The issue's figure (before the fixes) next to "
        "today's. **2-core CPU shared with the client and other work**: the 1-minute load "
        "average at each case is below the table.",
        "",
        "| case | issue's figure (before) | "
        + " | ".join(BACKEND_TITLES[b] for b in backends)
        + " |",
        "|---|---|" + "---|" * len(backends),
    ]
    for label in labels:
        before = BEFORE.get(label) or (FLOOD_BEFORE if "idle sockets" in label else "")
        if before == FLOOD_BEFORE and FLOOD_BEFORE in "\n".join(lines):
            before = "(as above)"
        lines.append(
            f"| {label} | {before} | "
            + " | ".join(figures[b].get(label, "") for b in backends)
            + " |"
        )
    lines.append("")
    for b in backends:
        entry = stored["backends"][b]
        load = ", ".join(f"{c} {entry['load'][c]:.2f}" for c in CASES if c in entry["load"])
        lines.append(
            f"{BACKEND_TITLES[b].removeprefix('now: ')}: measured {entry['measured_at']} "
            f"at {entry['source']}; whole run {entry['run_s']} s"
            + "".join(
                f"; rerun of {', '.join(c for c, w in entry['reruns'].items() if w == when)}: "
                f"{when}"
                for when in dict.fromkeys(entry["reruns"].values())
            )
            + f"; 1-minute load average at each case: {load}."
        )
        lines.append("")
    for note in notes(stored):
        lines += [note, ""]
    lines.append(MARK_END)
    return "\n".join(lines)
