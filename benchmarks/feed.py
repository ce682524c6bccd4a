"""The feeds at scale: For You (page of 10) and Following, p50 and p99, warm and cold, on
SQLite and PostgreSQL. Target (issue 18): p99 ≤ 50 ms on PostgreSQL for both.

Data, from a seeded numpy RNG: 10k users (accounts 1-400 days old, 10 % with a steering
text from a small set), 100k posted videos (Video + Post rows; creators drawn ∝ rank^-0.5,
posted over the last 30 days, prompts from a small vocabulary, random unit 384-d
embeddings, 0.5 % removed and 0.5 % unposted, counters matching the rows below), 1M
views (40 % to the end), 200k likes, about 20 follows per user (followees ∝ rank^-0.5),
and a few blocks, hidden creators, see-less marks and 50 upheld reports. Loaded with
executemany in one transaction (SQLite) or COPY (PostgreSQL), then ANALYZE.

Measured: the database work of one request, what the route hands to `run_db`: a session
from the pool, `social.feed.for_you` / `following` (queries, ranking, serialising the 10
items to the API's models) and the JSON the route sends; not the HTTP stack. Viewers are
drawn at random from all users, page 1 each.

* warm: after 20 unmeasured requests, in one process whose engine, connection pool and
  ranker caches (candidate window, embeddings, steering parses) are in use;
* cold: before each measured request the ranker's caches are emptied (the candidate
  window, embeddings, account ages, steering parses) and, on PostgreSQL, the pooled
  connection runs DISCARD ALL (no prepared plans or session state), so every row the
  ranker uses is read from the database again. What stays warm belongs to the running
  server rather than to the data: its open connections, SQLAlchemy's compiled
  statements, the loaded MiniLM encoder (which a request no longer uses: steering
  phrases are embedded when saved), the OS page cache and PostgreSQL's shared buffers;
* new process (reported, not the target): cold, and also a fresh engine (no compiled
  statements) and a new connection, i.e. a new PostgreSQL backend with empty catalog
  caches: the first request a newly started server process answers.

    .venv/bin/python benchmarks/feed.py [--database-url URL] [--small] [--no-write]

The numbers in docs/BENCHMARKS.md: `bin/services start DIR` exported the URL, then this
command without options, on the project's 2-core machine (other jobs running).

PostgreSQL comes from --database-url or REELFORGE_TEST_DATABASE_URL (`bin/services start
DIR` provides one); the benchmark makes and drops a scratch database there. Without one,
PostgreSQL is skipped with a message. Results: benchmarks/results/feed.json and a section
of docs/BENCHMARKS.md (not in --small mode, or with --no-write).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, create_engine, make_url
from sqlalchemy.orm import Session

from benchmark_doc import write_section
from reelforge.db.session import make_engine, session_factory
from reelforge.service.api.schemas import Page, PostOut
from reelforge.settings import Settings
from reelforge.social import feed

MARK_BEGIN, MARK_END = "<!-- feed:begin -->", "<!-- feed:end -->"
RESULTS = Path(__file__).resolve().parent / "results" / "feed.json"
TARGET_P99_MS = 50.0
DAY_S = 86400
ADJECTIVES = ["red", "small", "happy", "old", "shiny", "fluffy", "giant", "tiny", "golden", "noisy"]
NOUNS = [
    "cat",
    "dog",
    "car",
    "chef",
    "robot",
    "dragon",
    "bird",
    "horse",
    "rocket",
    "guitar",
    "train",
    "kitten",
]
VERBS = ["jumps", "runs", "cooks", "dances", "flies", "sings", "drives", "sleeps", "spins", "plays"]
PLACES = ["in a kitchen", "on a beach", "in space", "in the city", "in a forest", "on a stage"]
STEERING = [
    "more cats and cooking, no sports",
    "more dragons",
    "no cars, more birds",
    "less robots",
    "more music and dancing",
]


@dataclass(frozen=True)
class Size:
    users: int
    posts: int
    views: int
    likes: int
    follows_per_user: int


SIZES = {
    "full": Size(users=10_000, posts=100_000, views=1_000_000, likes=200_000, follows_per_user=20),
    "small": Size(users=1_000, posts=10_000, views=100_000, likes=20_000, follows_per_user=20),
}


# 1. Data ----------------------------------------------------------------------------------


def _pairs(rng: np.random.Generator, count: int, rows: int, cols: int) -> np.ndarray:
    """About `count` distinct (row, col) pairs, (M, 2) int64."""
    codes = np.unique(rng.integers(0, rows, count) * cols + rng.integers(0, cols, count))
    return np.stack([codes // cols, codes % cols], axis=1)


def generate(size: Size, now: int, seed: int = 0) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, as tuples in the column order of COLUMNS."""
    rng = np.random.default_rng(seed)
    users = [f"user_{i:06d}" for i in range(size.users)]
    videos = [f"video_{i:08d}" for i in range(size.posts)]
    popularity = 1 / np.sqrt(np.arange(1, size.users + 1))
    popularity /= popularity.sum()
    created = now - rng.integers(DAY_S, 400 * DAY_S, size.users)
    steering = [
        STEERING[int(rng.integers(len(STEERING)))] if rng.random() < 0.1 else "" for _ in users
    ]
    # As PUT /api/me/settings saves them: the text and its phrases' embeddings.
    vectors = {text: feed.steering_blob(text) for text in {*STEERING, ""}}
    creator = rng.choice(size.users, size.posts, p=popularity)
    posted_at = now - rng.integers(0, 30 * DAY_S, size.posts)
    words = [rng.integers(0, len(vocab), size.posts) for vocab in (ADJECTIVES, NOUNS, VERBS)]
    places = rng.integers(0, len(PLACES), size.posts)
    prompts = [
        f"a {ADJECTIVES[a]} {NOUNS[n]} {VERBS[v]} {PLACES[p]}"
        for a, n, v, p in zip(*words, places, strict=True)
    ]
    embeddings = rng.standard_normal((size.posts, 384)).astype(np.float32)  # (P, 384)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    removed = rng.random(size.posts) < 0.005
    unposted = rng.random(size.posts) < 0.005
    views = _pairs(rng, size.views, size.users, size.posts)
    completed = rng.random(len(views)) < 0.4
    likes = _pairs(rng, size.likes, size.users, size.posts)
    follows = np.stack(
        [
            np.repeat(np.arange(size.users), size.follows_per_user),
            rng.choice(size.users, size.users * size.follows_per_user, p=popularity),
        ],
        axis=1,
    )
    follows = np.unique(follows[follows[:, 0] != follows[:, 1]], axis=0)
    view_count = np.bincount(views[:, 1], minlength=size.posts)
    completed_count = np.bincount(views[completed, 1], minlength=size.posts)
    like_count = np.bincount(likes[:, 1], minlength=size.posts)
    comment_count = rng.poisson(1.0, size.posts)
    remix_count = rng.poisson(0.2, size.posts)
    few = max(1, size.users // 100)
    blocks = _pairs(rng, few * 2, size.users, size.users)
    hidden = _pairs(rng, few * 2, size.users, size.users)
    see_less = _pairs(rng, few * 5, size.users, size.posts)
    reported = rng.choice(size.posts, 50, replace=False)
    return {
        "users": [
            (users[i], f"u{i:06d}", int(created[i]), steering[i], vectors[steering[i]])
            for i in range(size.users)
        ],
        "videos": [
            (videos[i], users[creator[i]], prompts[i], int(posted_at[i]) - 60, i)
            for i in range(size.posts)
        ],
        "posts": [
            (
                videos[i],
                users[creator[i]],
                prompts[i],
                not unposted[i],
                int(posted_at[i]),
                bool(removed[i]),
                int(like_count[i]),
                int(comment_count[i]),
                int(remix_count[i]),
                int(view_count[i]),
                int(completed_count[i]),
                embeddings[i].astype("<f4").tobytes(),
            )
            for i in range(size.posts)
        ],
        "views": [
            (users[u], videos[v], 3000 if c else 800, bool(c), now, now)
            for (u, v), c in zip(views.tolist(), completed.tolist(), strict=True)
        ],
        "likes": [(users[u], videos[v], now) for u, v in likes.tolist()],
        "follows": [(users[a], users[b], now) for a, b in follows.tolist()],
        "blocks": [(users[a], users[b], now) for a, b in blocks.tolist() if a != b],
        "hidden_creators": [(users[a], users[b], now) for a, b in hidden.tolist() if a != b],
        "see_less": [(users[u], videos[v], now) for u, v in see_less.tolist()],
        "reports": [
            (f"report_{i:04d}", users[0], "post", videos[v], "harmful", "upheld", now)
            for i, v in enumerate(reported.tolist())
        ],
    }


COLUMNS = {
    "users": "id name created_at steering steering_vectors",
    "videos": "id user_id prompt created_at sequence",
    "posts": (
        "video_id user_id caption posted posted_at removed like_count comment_count "
        "remix_count view_count completed_count embedding"
    ),
    "views": "user_id video_id watched_ms completed created_at updated_at",
    "likes": "user_id video_id created_at",
    "follows": "follower_id followee_id created_at",
    "blocks": "user_id blocked_id created_at",
    "hidden_creators": "user_id creator_id created_at",
    "see_less": "user_id video_id created_at",
    "reports": "id reporter_id target_type target_id reason status created_at",
}
# NOT NULL columns the rows above leave out, with the value every row gets.
FIXED: dict[str, dict[str, Any]] = {
    "users": {
        "display_name": "",
        "bio": "",
        "role": "user",
        "failed_logins": 0,
        "locked_until": 0,
        "muted_notifications": "",
        "suspended": False,
    },
    "videos": {
        "status": "completed",
        "progress": 100,
        "model": "sora-2",
        "engine": "sim",
        "size": "720x1280",
        "seconds": "4",
        "seed": 1,
        "attempts": 0,
        "kind": "create",
    },
    "posts": {"allow_remix": True, "allow_download": True, "comments_on": True, "depth": 0},
    "reports": {"details": ""},
}


def _rows(table: str, rows: list[tuple[Any, ...]]) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
    fixed = FIXED.get(table, {})
    columns = COLUMNS[table].split() + list(fixed)
    extra = tuple(fixed.values())
    return columns, (row + extra for row in rows)


# 2. Loading -------------------------------------------------------------------------------


def load_sqlite(engine: Engine, data: dict[str, list[tuple[Any, ...]]]) -> None:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for table in COLUMNS:  # parents first
            columns, rows = _rows(table, data[table])
            marks = ", ".join("?" for _ in columns)
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
            cursor.executemany(sql, list(rows))
        raw.commit()
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def load_postgresql(engine: Engine, data: dict[str, list[tuple[Any, ...]]]) -> None:
    raw = engine.raw_connection()
    try:
        cursor: Any = raw.cursor()
        for table in COLUMNS:
            columns, rows = _rows(table, data[table])
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        raw.commit()
    finally:
        raw.close()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")  # fresh visibility map: index-only scans


# 3. Measuring -----------------------------------------------------------------------------

Request = Callable[[Session, str], Page[PostOut]]
Timing = tuple[float, int]  # ms, items on the page


def for_you_request(db: Session, viewer: str) -> Page[PostOut]:
    return feed.for_you(db, viewer, None, 10)


def following_request(db: Session, viewer: str) -> Page[PostOut]:
    return feed.following(db, viewer, None, 10)


def _timed(engine: Engine, request: Request, viewer: str) -> Timing:
    factory = session_factory(engine)
    started = time.perf_counter()
    with factory() as db:
        page = request(db, viewer)
        page.model_dump_json()  # what the route sends
    return (time.perf_counter() - started) * 1000, len(page.data)


def measure_warm(engine: Engine, request: Request, viewers: list[str]) -> list[Timing]:
    for viewer in viewers[:20]:
        _timed(engine, request, viewer)
    return [_timed(engine, request, viewer) for viewer in viewers[20:]]


def measure_cold(
    engine: Engine | Callable[[], Engine], request: Request, viewers: list[str]
) -> list[Timing]:
    """Each request with empty ranker caches and a DISCARDed connection: of `engine`'s
    pool, or of a new engine from the callable (a new process's first request)."""
    times = []
    for viewer in viewers:
        feed.reset_caches()
        current = engine() if callable(engine) else engine
        with current.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            if current.dialect.name == "postgresql":
                connection.exec_driver_sql("DISCARD ALL")
        times.append(_timed(current, request, viewer))
        if callable(engine):
            current.dispose()
    return times


def summary(timings: list[Timing]) -> dict[str, float]:
    values = np.array([ms for ms, _ in timings])
    return {
        "n": len(values),
        "p50_ms": round(float(np.percentile(values, 50)), 2),
        "p99_ms": round(float(np.percentile(values, 99)), 2),
        "max_ms": round(float(values.max()), 2),
        "mean_items": round(float(np.mean([items for _, items in timings])), 2),
    }


def run_backend(
    name: str,
    url: str,
    data: dict[str, list[tuple[Any, ...]]],
    users: list[str],
    args: argparse.Namespace,
) -> dict[str, Any]:
    settings = Settings(database_url=url, data_dir=Path(tempfile.gettempdir()))
    engine = make_engine(settings)  # the app's engine, schema by the migrations
    started = time.perf_counter()
    (load_sqlite if name == "sqlite" else load_postgresql)(engine, data)
    load_s = time.perf_counter() - started
    print(f"{name}: loaded in {load_s:.1f} s", file=sys.stderr)
    rng = np.random.default_rng(1)
    viewers = [users[i] for i in rng.integers(0, len(users), args.requests + 20)]
    cold_viewers = [users[i] for i in rng.integers(0, len(users), args.cold)]

    def fresh() -> Engine:
        return create_engine(url, **_engine_options(engine))

    out: dict[str, Any] = {"load_s": round(load_s, 1)}
    for feed_name, request in (("for_you", for_you_request), ("following", following_request)):
        feed.reset_caches()
        out[feed_name] = {
            "warm": summary(measure_warm(engine, request, viewers)),
            "cold": summary(measure_cold(engine, request, cold_viewers)),
            "new_process": summary(measure_cold(fresh, request, cold_viewers)),
        }
    engine.dispose()
    return out


def _engine_options(engine: Engine) -> dict[str, Any]:
    """A fresh engine like the app's (its SQLite pragmas are per database file or per
    connection; synchronous only matters for writes)."""
    if engine.dialect.name == "sqlite":
        return {"connect_args": {"check_same_thread": False, "timeout": 30}}
    return {}


# 4. Backends and report -------------------------------------------------------------------


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'feed.db'}"


def scratch_postgresql(base_url: str) -> tuple[str, Callable[[], None]]:
    """A new database next to `base_url`'s, and how to drop it."""
    name = f"reelforge_feed_{secrets.token_hex(4)}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    url = make_url(base_url).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()

    return url, drop


def table(results: dict[str, Any], size: Size) -> str:
    lines = [
        f"{size.users:,} users, {size.posts:,} posts, {size.views:,} views, "
        f"{size.likes:,} likes, ~{size.follows_per_user} follows a user; one request's "
        "database work, ranking and JSON (benchmarks/feed.py; cold: empty ranker caches and "
        "DISCARD ALL on the pooled connection; new process: also a fresh engine and a new "
        "connection, not a target).",
        "",
        "| backend | feed | warm p50 | warm p99 | cold p50 | cold p99 | new process p50 "
        "| new process p99 | target p99 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for backend, by_feed in results["backends"].items():
        for feed_name in ("for_you", "following"):
            runs = by_feed[feed_name]
            target = f"≤ {TARGET_P99_MS:g} ms" if backend == "postgresql" else "-"
            cells = [
                f"{runs[run][stat]:.1f} ms"
                for run in ("warm", "cold", "new_process")
                for stat in ("p50_ms", "p99_ms")
            ]
            lines.append(
                f"| {backend} | {feed_name.replace('_', ' ')} | {' | '.join(cells)} | {target} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("REELFORGE_TEST_DATABASE_URL"))
    parser.add_argument("--small", action="store_true", help="1k users, 10k posts")
    parser.add_argument("--requests", type=int, default=None, help="warm requests per feed")
    parser.add_argument("--cold", type=int, default=None, help="cold requests per feed")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    size = SIZES["small" if args.small else "full"]
    args.requests = args.requests or (100 if args.small else 500)
    args.cold = args.cold or (20 if args.small else 100)
    now = int(time.time())
    started = time.perf_counter()
    data = generate(size, now)
    print(f"generated in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    users = [row[0] for row in data["users"]]
    results: dict[str, Any] = {"size": size.__dict__, "machine": platform.machine()}
    results["cpus"], results["backends"] = os.cpu_count(), {}
    with tempfile.TemporaryDirectory(prefix="reelforge-feed-") as folder:
        results["backends"]["sqlite"] = run_backend(
            "sqlite", sqlite_url(Path(folder)), data, users, args
        )
    if args.database_url and make_url(args.database_url).get_backend_name() == "postgresql":
        url, drop = scratch_postgresql(args.database_url)
        try:
            results["backends"]["postgresql"] = run_backend("postgresql", url, data, users, args)
        finally:
            drop()
    else:
        print(
            "postgresql: skipped (no --database-url or REELFORGE_TEST_DATABASE_URL; "
            "`bin/services start DIR` provides one)",
            file=sys.stderr,
        )
    report = table(results, size)
    print(report)
    if not args.small and not args.no_write:
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        write_section(
            MARK_BEGIN, MARK_END, "\n".join([MARK_BEGIN, "## Feeds", "", report, "", MARK_END])
        )
    return results


if __name__ == "__main__":
    main()
