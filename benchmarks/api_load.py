"""Load on `reelforge serve`: 50 concurrent clients on localhost.

Targets (the issue): POST /v1/videos p99 ≤ 50 ms with the job's row committed before the
response, GET /v1/videos/{id} p99 ≤ 20 ms, zero 5xx.

Each run starts a fresh `python -m reelforge.cli serve --no-worker` (no generation competes
for the CPU; the POST still commits its row before answering) on a copy of a data directory
holding --users API keys made with `reelforge keys create`, with a rate limit high enough
never to answer 429. 50 asyncio clients (one httpx.AsyncClient each: one keep-alive
connection) warm up, then run three phases one after another, each client sending its
requests back to back:

* peer: GET /healthz (no database, no auth): what the HTTP stack alone costs;
* POST /v1/videos, multipart like the openai SDK (prompt, seconds, size);
* GET /v1/videos/{id} of ids its user created.

Per-request latency is measured in the client; requests/s is a phase's requests over its
wall time. The server's CPU time per request comes from /proc. After the phases the server
is SIGKILLed and the SQLite file is read: every POST answered 200 must have its row.
The load generator shares the machine's cores with the server, so its own CPU time (about
as much as the server's) is part of every figure. Medians over --runs runs go to
docs/BENCHMARKS.md.

    .venv/bin/python benchmarks/api_load.py [--runs 3] [--clients 50] [--no-write]

`--abuse` runs the abuse cases of issue 21 instead (benchmarks/api_abuse.py: hostile
JSON, slow clients and a socket flood, image and upload bombs, one user's burst, pollers,
a huge dialogue prompt), on SQLite and on PostgreSQL + Redis (--database-url/--redis-url
or $REELFORGE_TEST_DATABASE_URL/$REELFORGE_TEST_REDIS_URL). It is a mode of its own, not
a phase after the load: it wants the default limits (the load phases raise the rate
limit out of the way), a worker for some cases, and a server whose memory peak no load
phase has touched; and at about 5 minutes a backend it would triple a load run.

    .venv/bin/python benchmarks/api_load.py --abuse [--backend sqlite|postgres|both]
        [--cases json,png,...] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

import api_abuse
from benchmark_doc import write_section

MARK_BEGIN, MARK_END = "<!-- api_load:begin -->", "<!-- api_load:end -->"
PROMPT = "Three red rubber balls bounce on the floor of a gym; a girl says {n}"
POST_TARGET_MS, GET_TARGET_MS = 50.0, 20.0
PHASES = ("healthz", "post", "get")
LABELS = {
    "healthz": "peer: `GET /healthz` (no DB, no auth)",
    "post": "`POST /v1/videos` (multipart, row committed)",
    "get": "`GET /v1/videos/{id}`",
}
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli_env(data_dir: Path) -> dict[str, str]:
    return dict(
        os.environ,
        REELFORGE_DATA_DIR=str(data_dir),
        REELFORGE_RATE_LIMIT_PER_MINUTE="1000000",
        REELFORGE_DAILY_GENERATION_QUOTA="0",
    )


def make_keys(data_dir: Path, users: int) -> list[str]:
    """One key per user, made by the CLI as an operator would."""
    keys = []
    for i in range(users):
        out = subprocess.run(
            [sys.executable, "-m", "reelforge.cli", "keys", "create", "--user", f"load{i}"],
            env=cli_env(data_dir),
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        keys.append(out.stdout.strip())
    return keys


def start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "reelforge.cli", "serve", "--port", str(port), "--no-worker"],
        env=cli_env(data_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not start")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


@dataclass
class Phase:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)  # transport errors, no status
    wall_s: float = 0.0
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0

    @property
    def count(self) -> int:
        return len(self.latencies_ms)

    def pct(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]  # nearest rank

    def summary(self) -> dict[str, float]:
        n = self.count
        return {
            "p50": self.pct(50),
            "p95": self.pct(95),
            "p99": self.pct(99),
            "max": max(self.latencies_ms),
            "rps": n / self.wall_s,
            "server_cpu_ms": 1000 * self.server_cpu_s / n,
            "client_cpu_ms": 1000 * self.client_cpu_s / n,
            "non_2xx": sum(c for s, c in self.statuses.items() if not 200 <= s < 300)
            + sum(self.errors.values()),
            "5xx": sum(c for s, c in self.statuses.items() if s >= 500),
        }


def post_files(n: int) -> dict[str, tuple[None, str]]:
    # Parts without a filename: what the SDK's multipart form looks like for plain fields.
    return {
        "prompt": (None, PROMPT.format(n=n)),
        "seconds": (None, "4"),
        "size": (None, "720x1280"),
    }


class Client:
    def __init__(self, url: str, key: str, user: int, seed: int) -> None:
        self.http = httpx.AsyncClient(
            base_url=url,
            headers={"authorization": f"Bearer {key}"},
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            timeout=60,
        )
        self.user = user
        self.rng = random.Random(seed)
        self.sent = 0
        self.interval_s = 0.0  # 0: back to back; else the mean gap of Poisson arrivals
        self.next_at = self.until = 0.0

    def pace(self, interval_s: float, until: float) -> None:
        self.interval_s = interval_s
        self.next_at = time.perf_counter()
        self.until = until

    async def turn(self) -> float | None:
        """When the next request is due; None when the phase is over. Paced latency counts
        from the due time, not from when the previous answer let the client go on, so a
        slow server cannot hide its backlog."""
        if not self.interval_s:
            return time.perf_counter()
        self.next_at += self.rng.expovariate(1 / self.interval_s)
        if self.next_at > self.until:
            return None
        delay = self.next_at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        return self.next_at

    async def timed(
        self, phase: Phase | None, due: float, method: str, path: str, **kw: Any
    ) -> httpx.Response | None:
        try:
            response = await self.http.request(method, path, **kw)
        except httpx.HTTPError as e:
            if phase is not None:
                phase.latencies_ms.append(1000 * (time.perf_counter() - due))
                phase.errors[type(e).__name__] += 1
            return None
        if phase is not None:
            phase.latencies_ms.append(1000 * (time.perf_counter() - due))
            phase.statuses[response.status_code] += 1
        return response

    async def healthz(self, phase: Phase | None, n: int) -> None:
        for _ in range(n):
            if (due := await self.turn()) is None:
                return
            await self.timed(phase, due, "GET", "/healthz")

    async def post(self, phase: Phase | None, n: int, accepted: dict[int, list[str]]) -> None:
        for _ in range(n):
            if (due := await self.turn()) is None:
                return
            self.sent += 1
            response = await self.timed(
                phase, due, "POST", "/v1/videos", files=post_files(self.sent)
            )
            if response is not None and response.status_code == 200:
                body = response.json()
                assert body["status"] == "queued", body
                accepted[self.user].append(body["id"])

    async def get(self, phase: Phase | None, n: int, ids: list[str]) -> None:
        if not ids:
            raise RuntimeError(f"no POST of key {self.user} was accepted: nothing to GET")
        for _ in range(n):
            if (due := await self.turn()) is None:
                return
            await self.timed(phase, due, "GET", f"/v1/videos/{self.rng.choice(ids)}")


async def load(
    url: str, keys: list[str], args: argparse.Namespace, pid: int
) -> tuple[dict[tuple[str, str], Phase], list[str]]:
    clients = [Client(url, keys[i % len(keys)], i % len(keys), seed=i) for i in range(args.clients)]
    accepted: dict[int, list[str]] = {u: [] for u in range(len(keys))}
    # Warm-up: connections open, imports and caches of every route touched.
    await asyncio.gather(*(c.healthz(None, args.warmup) for c in clients))
    await asyncio.gather(*(c.post(None, args.warmup, accepted) for c in clients))
    await asyncio.gather(*(c.get(None, args.warmup, accepted[c.user]) for c in clients))
    counts = {
        "closed": {"healthz": args.healthz, "post": args.posts, "get": args.gets},
        "paced": dict.fromkeys(PHASES, 10**9),  # until the phase's time is up
    }
    work = {
        "healthz": lambda c, p, n: c.healthz(p, n),
        "post": lambda c, p, n: c.post(p, n, accepted),
        "get": lambda c, p, n: c.get(p, n, accepted[c.user]),
    }
    phases: dict[tuple[str, str], Phase] = {}
    for mode in modes(args):
        for name in PHASES:
            phase = phases[mode, name] = Phase()
            cpu0, own0, t0 = cpu_s(pid), time.process_time(), time.perf_counter()
            for c in clients:
                if mode == "paced":
                    c.pace(args.clients / args.paced_rps, until=t0 + args.paced_s)
                else:
                    c.pace(0.0, until=0.0)
            await asyncio.gather(*(work[name](c, phase, counts[mode][name]) for c in clients))
            phase.wall_s = time.perf_counter() - t0
            phase.server_cpu_s = cpu_s(pid) - cpu0
            phase.client_cpu_s = time.process_time() - own0
    await asyncio.gather(*(c.http.aclose() for c in clients))
    return phases, [i for ids in accepted.values() for i in ids]


def modes(args: argparse.Namespace) -> tuple[str, ...]:
    return ("closed", "paced") if args.paced_rps > 0 else ("closed",)


def rows_after_kill(process: subprocess.Popen[bytes], data_dir: Path) -> set[str]:
    """SIGKILL the server (no clean shutdown), then read the ids the database holds."""
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=20)
    db = sqlite3.connect(str(data_dir / "reelforge.db"))
    try:
        return {row[0] for row in db.execute("SELECT id FROM videos")}
    finally:
        db.close()


def run_once(
    template: Path, keys: list[str], args: argparse.Namespace, run: int
) -> tuple[dict[tuple[str, str], Phase], int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        shutil.copytree(template, data_dir)
        process, url = start_server(data_dir)
        try:
            phases, accepted = asyncio.run(load(url, keys, args, process.pid))
        except BaseException:
            process.kill()
            raise
        rows = rows_after_kill(process, data_dir)
    lost = [i for i in accepted if i not in rows]
    for (mode, name), phase in phases.items():
        s = phase.summary()
        print(
            f"run {run + 1} {mode:6} {name:7}: n={phase.count} p50 {s['p50']:.1f} "
            f"p95 {s['p95']:.1f} p99 {s['p99']:.1f} max {s['max']:.1f} ms, "
            f"{s['rps']:.0f} req/s, server CPU {s['server_cpu_ms']:.2f} ms/req, "
            f"client CPU {s['client_cpu_ms']:.2f} ms/req, "
            f"statuses {dict(phase.statuses)} {dict(phase.errors)}",
            file=sys.stderr,
        )
    print(
        f"run {run + 1}: {len(accepted)} POSTs accepted, {len(accepted) - len(lost)} rows "
        f"in the database after SIGKILL",
        file=sys.stderr,
    )
    return phases, len(accepted), len(lost)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--users", type=int, default=10, help="API keys the clients share")
    parser.add_argument("--posts", type=int, default=40, help="POSTs per client, back to back")
    parser.add_argument("--gets", type=int, default=200, help="GETs per client, back to back")
    parser.add_argument("--healthz", type=int, default=200, help="peer GETs per client")
    parser.add_argument(
        "--paced-rps",
        type=float,
        default=100.0,
        help="then the same clients again, paced: this many requests/s offered in all, "
        "Poisson arrivals (0: skip)",
    )
    parser.add_argument("--paced-s", type=float, default=20.0, help="seconds per paced phase")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up requests per kind")
    parser.add_argument("--no-write", action="store_true", help="print only")
    abuse = parser.add_argument_group("abuse cases of issue 21 (benchmarks/api_abuse.py)")
    abuse.add_argument(
        "--abuse", action="store_true", help="run the abuse cases instead of the load phases"
    )
    abuse.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    abuse.add_argument(
        "--database-url", help="PostgreSQL server (default: $REELFORGE_TEST_DATABASE_URL)"
    )
    abuse.add_argument("--redis-url", help="Redis (default: $REELFORGE_TEST_REDIS_URL)")
    abuse.add_argument("--cases", help=f"comma-separated, of: {','.join(api_abuse.CASES)}")
    abuse.add_argument(
        "--flood-sockets",
        default="1500,5000",
        help="idle sockets in each flood: under and over the server's 2,000-connection cap",
    )
    abuse.add_argument("--flood-s", type=float, default=30.0)
    abuse.add_argument("--poll-s", type=float, default=60.0)
    abuse.add_argument("--dialogue-rss-cap-mb", type=float, default=6000.0)
    abuse.add_argument("--dialogue-timeout-s", type=float, default=180.0)
    args = parser.parse_args()
    if args.abuse:
        api_abuse.main(args)
        return
    keys_of = [(mode, name) for mode in modes(args) for name in PHASES]
    summaries: dict[tuple[str, str], list[dict[str, float]]] = {k: [] for k in keys_of}
    statuses: dict[tuple[str, str], Counter[int]] = {k: Counter() for k in keys_of}
    counts: dict[tuple[str, str], int] = {}
    accepted_total = lost_total = 0
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "template"
        keys = make_keys(template, args.users)
        for run in range(args.runs):
            phases, accepted, lost = run_once(template, keys, args, run)
            accepted_total += accepted
            lost_total += lost
            for k in keys_of:
                summaries[k].append(phases[k].summary())
                statuses[k].update(phases[k].statuses)
                statuses[k][-1] += sum(phases[k].errors.values())  # -1: no answer at all
                counts[k] = phases[k].count

    def m(mode: str, name: str, key: str) -> float:
        return statistics.median(s[key] for s in summaries[mode, name])

    def other(k: tuple[str, str]) -> str:
        bad = {s: c for s, c in statuses[k].items() if c and not 200 <= s < 300}
        if not bad:
            return "0"
        return ", ".join(f"{c}× {'no answer' if s == -1 else s}" for s, c in sorted(bad.items()))

    fivexx = sum(c for k in keys_of for s, c in statuses[k].items() if s >= 500 or s == -1)
    lines = [
        MARK_BEGIN,
        f"### `reelforge serve --no-worker` under {args.clients} concurrent clients, localhost",
        "",
        f"`benchmarks/api_load.py --runs {args.runs}`; medians of the runs (a fresh server "
        f"each run); latency seen by the client. {args.clients} asyncio clients (httpx, one "
        f"keep-alive connection each, {len(keys)} API keys), after {args.warmup} warm-up "
        f"requests of each kind, run one phase per endpoint; SQLite in WAL mode, one uvicorn "
        f"process. **2-core CPU shared by the load generator and the server**: the client's "
        f"own CPU time per request is in the tables and is part of every latency.",
        "",
    ]
    header = [
        "| endpoint | requests / run | p50 | p95 | p99 | max | **req/s** | non-2xx "
        "| server CPU / req | client CPU / req |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    titles = {
        "closed": "**Back to back** (closed loop: each client sends its next request as soon "
        "as the last is answered; the server's capacity):",
        "paced": f"**Paced**: the same clients offering {args.paced_rps:.0f} requests/s in "
        f"all (Poisson arrivals, {args.paced_s:.0f} s per endpoint); latency counts from "
        f"when a request was due, so a backlog shows:",
    }
    for mode in modes(args):
        lines += [titles[mode], "", *header]
        for name in PHASES:
            lines.append(
                f"| {LABELS[name]} | {counts[mode, name]} "
                f"| {m(mode, name, 'p50'):.1f} ms | {m(mode, name, 'p95'):.1f} ms "
                f"| {m(mode, name, 'p99'):.1f} ms | {m(mode, name, 'max'):.1f} ms "
                f"| **{m(mode, name, 'rps'):.0f}** | {other((mode, name))} "
                f"| {m(mode, name, 'server_cpu_ms'):.2f} ms "
                f"| {m(mode, name, 'client_cpu_ms'):.2f} ms |"
            )
        lines.append("")
    cols = modes(args)
    names = {"closed": "back to back", "paced": f"paced, {args.paced_rps:.0f} req/s"}

    def row(label: str, fmt: str, value: Any) -> str:
        return f"| {label} | " + " | ".join(fmt.format(value(mode)) for mode in cols) + " |"

    def met(mode: str) -> str:
        ok = m(mode, "post", "p99") <= POST_TARGET_MS and m(mode, "get", "p99") <= GET_TARGET_MS
        return "yes" if ok and fivexx == 0 and lost_total == 0 else "**no**"

    lines += [
        "| measure (medians) | " + " | ".join(names[c] for c in cols) + " |",
        "|---|" + "---|" * len(cols),
        row(
            f"**POST p99** (target ≤ {POST_TARGET_MS:.0f} ms)",
            "**{:.1f} ms**",
            lambda c: m(c, "post", "p99"),
        ),
        row(
            f"**GET p99** (target ≤ {GET_TARGET_MS:.0f} ms)",
            "**{:.1f} ms**",
            lambda c: m(c, "get", "p99"),
        ),
        row(
            "ratio: POST p50 / healthz p50",
            "{:.2f}",
            lambda c: m(c, "post", "p50") / m(c, "healthz", "p50"),
        ),
        row(
            "ratio: GET p50 / healthz p50",
            "{:.2f}",
            lambda c: m(c, "get", "p50") / m(c, "healthz", "p50"),
        ),
        row(
            "server CPU per request: (POST − healthz), (GET − healthz)",
            "{}",
            lambda c: (
                f"{m(c, 'post', 'server_cpu_ms') - m(c, 'healthz', 'server_cpu_ms'):.2f} "
                f"ms, {m(c, 'get', 'server_cpu_ms') - m(c, 'healthz', 'server_cpu_ms'):.2f} ms"
            ),
        ),
        row("every target met", "{}", met),
        "",
        f"5xx or no answer, all runs and phases (target 0): **{fivexx}**. POSTs answered 200 "
        f"whose row is in the SQLite file after the server is SIGKILLed, all runs: "
        f"**{accepted_total - lost_total} / {accepted_total}**. Back to back, a closed loop "
        f"obeys Little's law: mean latency = {args.clients} clients / req/s, so a p99 of "
        f"{GET_TARGET_MS:.0f} ms needs well over {args.clients / GET_TARGET_MS * 1000:.0f} "
        f"req/s, beyond even `/healthz` on this machine "
        f"({m('closed', 'healthz', 'rps'):.0f} req/s); the ratios to `/healthz` are the "
        f"figures that carry to other machines.",
        MARK_END,
    ]
    table = "\n".join(lines)
    print(table)
    if not args.no_write:
        write_section(MARK_BEGIN, MARK_END, table)


if __name__ == "__main__":
    main()
