"""The feeds: For You, an explainable ranker, and Following, newest first.

For You, for one viewer and one page:

1. Candidates. The newest WINDOW_SIZE posts that are posted and not removed (one query on
   `ix_posts_feed`), plus up to FOLLOWED_EXTRA of the newest posts of creators the viewer
   follows. The window is kept per process and database for WINDOW_TTL_S, and rebuilt at
   once when a newer post appears (a one-row query on the same index each request), so a
   new post is visible at once and counters are at most WINDOW_TTL_S old. Embeddings never
   change, so they are cached by post id. Out go the posts the viewer has seen (a `views`
   row), posts of people they blocked or who blocked them, of creators they hid, posts they
   marked "see less", their own posts, and those this session already served (the cursor).
2. Terms, each in [0, 1] (steering in [-1, 1]); `age` is now − posted_at:
   * freshness = 0.5 ^ (age / 24 h);
   * engagement = 1 − exp(−x / 20), x = (likes + 3·comments + 5·remixes + 0.5·full views)
     · 0.5 ^ (age / 72 h): the counters on the row, worth less as the post ages (counters
     carry no times, so the post's age stands in for theirs);
   * interests = max(0, cos(post, v)), v = mean embedding of the posts the viewer liked or
     watched to the end − mean embedding of those they marked "see less" (0 without any);
   * trust = (1 − 0.5·exp(−account age / 30 days)) · 0.5 ^ upheld reports against the
     creator (their posts, comments or profile): 0.5 for a new account, → 1 with age,
     halved by each upheld report;
   * steering: the viewer's text ("more cats and cooking, no sports") split into positive
     and negative phrases; max cosine to a positive − max cosine to a negative (each ≥ 0).
3. score = 0.25·freshness + 0.35·engagement + 0.30·interests + 0.10·trust + 0.30·steering.
4. The page. Slots 3, 6 and 9 of every 10 are exploration: fresh (under 48 h), low-exposure
   (fewer than 50 views) posts the ranker did not pick, in an order fixed per viewer (a
   hash of viewer and post), so new posts get seen without one order for all.
   The other slots take the ranked order (ties by id). At most CREATOR_CAP items of one
   creator per page. The chosen posts are read fresh, and any taken down or unposted since
   the window was read is replaced. Everything is deterministic for a given state.
5. Every item carries its why: source, score, each term with weight, value and a detail
   ("posted 3 h ago"), and one sentence.

Anonymous viewers get the same ranking without the personal terms (no interests, no
steering, no seen filter). Following is a keyset page on (posted_at, video_id).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    any_,
    bindparam,
    case,
    false,
    func,
    literal_column,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from reelforge.db.models import (
    Block,
    Comment,
    Follow,
    HiddenCreator,
    Like,
    Post,
    Report,
    SeeLess,
    User,
    Video,
    View,
)
from reelforge.errors import InvalidRequest
from reelforge.service.api.schemas import Page, PostOut, Why, WhyTerm
from reelforge.social.embedding import DIM, encode, from_blobs
from reelforge.social.present import post_outs

WEIGHTS = {"freshness": 0.25, "engagement": 0.35, "interests": 0.30, "trust": 0.10}
STEERING_WEIGHT = 0.30
FRESHNESS_HALF_LIFE_S = 24 * 3600
ENGAGEMENT_HALF_LIFE_S = 72 * 3600
ENGAGEMENT_SCALE = 20.0  # x at which engagement reaches 1 − 1/e
LIKE_W, COMMENT_W, REMIX_W, COMPLETED_W = 1.0, 3.0, 5.0, 0.5
TRUST_AGE_SCALE_S = 30 * 86400
WINDOW_SIZE = 1000
FOLLOWED_EXTRA = 200
FOLLOWED_MAX_AGE_S = 7 * 86400
WINDOW_TTL_S = 10.0
EMBEDDING_CACHE_ROWS = 20_000  # ≈ 30 MiB of float32 rows per database
EXPLORATION_SLOTS = frozenset({2, 5, 8})  # of every 10
EXPLORATION_MAX_AGE_S = 48 * 3600
EXPLORATION_MAX_VIEWS = 49
CREATOR_CAP = 2
MAX_SERVED = 500  # ids a For You cursor remembers (≈ 4 KB); the session ends there
DIGEST_BYTES = 6
CURSOR_VERSION = b"\x01"


# 1. Candidates -----------------------------------------------------------------------


@dataclass
class Candidates:
    """Posts to rank, one row each: (N,) arrays and an (N, 384) embedding matrix."""

    ids: list[str]
    creators: list[str]
    posted_at: np.ndarray  # (N,) int64, Unix s
    counts: np.ndarray  # (N, 5) int64: likes, comments, remixes, full views, views
    creator_since: np.ndarray  # (N,) int64: the creator's account creation, Unix s
    upheld: np.ndarray  # (N,) int64: upheld reports against the creator
    embeddings: np.ndarray  # (N, 384) float32, unit norm or zero
    digests: list[bytes]  # what a cursor remembers of each id
    keys: np.ndarray  # (N,) uint64: the digests as numbers, for the exploration order

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def index(self) -> set[str]:
        return set(self.ids)

    def concat(self, other: Candidates) -> Candidates:
        if not len(other):
            return self
        return Candidates(
            self.ids + other.ids,
            self.creators + other.creators,
            np.concatenate([self.posted_at, other.posted_at]),
            np.concatenate([self.counts, other.counts]),
            np.concatenate([self.creator_since, other.creator_since]),
            np.concatenate([self.upheld, other.upheld]),
            np.concatenate([self.embeddings, other.embeddings]),
            self.digests + other.digests,
            np.concatenate([self.keys, other.keys]),
        )


@dataclass
class _Window:
    candidates: Candidates
    head: tuple[int, str] | None  # the newest post when it was read
    upheld_by_creator: dict[str, int]
    read_at: float  # monotonic s


@dataclass
class _DatabaseCache:
    """What one process keeps about one database."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    window: _Window | None = None
    embeddings: OrderedDict[str, np.ndarray] = field(default_factory=OrderedDict)
    creator_since: dict[str, int] = field(default_factory=dict)  # account creation, Unix s


_caches: dict[str, _DatabaseCache] = {}
_caches_lock = threading.Lock()


def reset_caches() -> None:
    """Forget every window, embedding and steering parse (tests; the benchmark's cold
    runs)."""
    with _caches_lock:
        _caches.clear()
    parse_steering.cache_clear()


def _cache_for(db: Session) -> _DatabaseCache:
    key = db.get_bind().engine.url.render_as_string(hide_password=True)
    with _caches_lock:
        return _caches.setdefault(key, _DatabaseCache())


_LIGHT = (
    Post.video_id,
    Post.user_id,
    Post.posted_at,
    Post.like_count,
    Post.comment_count,
    Post.remix_count,
    Post.completed_count,
    Post.view_count,
)


def _visible() -> list[ColumnElement[bool]]:
    # `= true`, not `IS true`: PostgreSQL only uses ix_posts_feed for an equality.
    return [Post.posted == true(), Post.removed == false()]


def _light_query(*extra: Any) -> Select[*tuple[Any, ...]]:
    return (
        select(*_LIGHT, *extra)
        .where(*_visible())
        .order_by(Post.posted_at.desc(), Post.video_id.desc())
    )


def _head(db: Session) -> tuple[int, str] | None:
    row = db.execute(
        select(Post.posted_at, Post.video_id)
        .where(*_visible())
        .order_by(Post.posted_at.desc(), Post.video_id.desc())
        .limit(1)
    ).first()
    return (int(row[0]), str(row[1])) if row else None


def _upheld_by_creator(db: Session) -> dict[str, int]:
    """Upheld reports against each creator's posts, comments and profile (few rows: only
    upheld reports are read, through ix_reports_status)."""
    upheld = [Report.status == "upheld"]
    parts = [
        select(Post.user_id, func.count())
        .join(Report, Report.target_id == Post.video_id)
        .where(Report.target_type == "post", *upheld)
        .group_by(Post.user_id),
        select(Comment.user_id, func.count())
        .join(Report, Report.target_id == Comment.id)
        .where(Report.target_type == "comment", *upheld)
        .group_by(Comment.user_id),
        select(User.id, func.count())
        .join(Report, Report.target_id == User.name)
        .where(Report.target_type == "profile", *upheld)
        .group_by(User.id),
    ]
    out: Counter[str] = Counter()
    for user_id, count in db.connection().execute(union_all(*parts)):
        out[str(user_id)] += int(count)
    return dict(out)


def _embeddings(db: Session, cache: _DatabaseCache, ids: Sequence[str]) -> np.ndarray:
    """(len(ids), 384), from the cache or one query for the missing ones."""
    with cache.lock:
        missing = [i for i in dict.fromkeys(ids) if i not in cache.embeddings]
    postgresql = db.get_bind().dialect.name == "postgresql"
    for start in range(0, len(missing), 5000):
        chunk = missing[start : start + 5000]
        # PostgreSQL: one array parameter, not an IN list compiled anew for every length
        match = (
            Post.video_id == any_(bindparam("ids", chunk, type_=ARRAY(String)))
            if postgresql
            else Post.video_id.in_(chunk)
        )
        _remember(cache, _blob_rows(db, select(Post.video_id, Post.embedding).where(match)))
    out = np.zeros((len(ids), DIM), np.float32)
    with cache.lock:
        for i, video_id in enumerate(ids):
            vector = cache.embeddings.get(video_id)
            if vector is None:  # evicted meanwhile, or not a post: it matches nothing
                continue
            cache.embeddings.move_to_end(video_id)
            out[i] = vector
    return out


def _blob_rows(db: Session, query: Select[*tuple[Any, ...]]) -> Sequence[Sequence[Any]]:
    """Rows holding embeddings. PostgreSQL sends them in its binary format: bytea as raw
    bytes rather than hex text, which halves what a cold window costs."""
    connection = db.connection()
    if connection.dialect.name != "postgresql":
        return connection.execute(query).all()
    compiled = query.compile(
        dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
    )
    driver: Any = connection.connection.driver_connection  # psycopg, in this transaction
    with driver.cursor() as cursor:
        cursor.execute(str(compiled), compiled.params, binary=True)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
    return rows


def _remember(cache: _DatabaseCache, rows: Sequence[Sequence[Any]]) -> None:
    """Cache (video_id, embedding blob) rows, the least recently used leaving first."""
    blobs = [row[1] for row in rows]
    if all(blob is not None and len(blob) == DIM * 4 for blob in blobs):
        # one buffer for all: 2,000 rows decode in 0.1 ms instead of 3
        vectors = np.frombuffer(b"".join(blobs), "<f4").reshape(len(blobs), DIM)
    else:
        vectors = from_blobs(blobs)  # (len(rows), 384), missing ones as zero rows
    with cache.lock:
        cache.embeddings.update((str(row[0]), vectors[i]) for i, row in enumerate(rows))
        while len(cache.embeddings) > EMBEDDING_CACHE_ROWS:
            cache.embeddings.popitem(last=False)


def _candidates(
    db: Session, cache: _DatabaseCache, rows: Sequence[Sequence[object]], upheld: dict[str, int]
) -> Candidates:
    ids = [str(row[0]) for row in rows]
    creators = [str(row[1]) for row in rows]
    digests = [digest(video_id) for video_id in ids]
    numbers = np.array([row[2:] for row in rows], np.int64).reshape(len(rows), 7)
    return Candidates(
        ids=ids,
        creators=creators,
        posted_at=numbers[:, 0],
        counts=numbers[:, 1:6],
        creator_since=numbers[:, 6],
        upheld=np.array([upheld.get(c, 0) for c in creators], np.int64),
        embeddings=_embeddings(db, cache, ids),
        digests=digests,
        keys=np.array([int.from_bytes(d, "little") for d in digests], np.uint64),
    )


def _window(db: Session, cache: _DatabaseCache) -> _Window:
    """The newest WINDOW_SIZE visible posts, reused while fresh and nothing newer exists."""
    window = cache.window
    head = _head(db) if window is not None else None  # cold: the window's first row says
    if (
        window is not None
        and window.head == head
        and time.monotonic() - window.read_at < WINDOW_TTL_S
    ):
        return window
    upheld = _upheld_by_creator(db)
    query = _light_query(User.created_at).join(User, User.id == Post.user_id)
    if window is None:
        # Cold: the embeddings come with the rows (1.5 MB for 1,000), not by an IN list of
        # 1,000 ids; later reads only fetch the embeddings of posts new to the window.
        rows = _blob_rows(db, query.add_columns(Post.embedding).limit(WINDOW_SIZE))
        _remember(cache, [(row[0], row[-1]) for row in rows])
        rows = [row[:-1] for row in rows]
    else:
        rows = db.connection().execute(query.limit(WINDOW_SIZE)).all()
    if window is None and rows:
        head = (int(rows[0][2]), str(rows[0][0]))  # ordered newest first, like _head
    with cache.lock:
        cache.creator_since.update((str(row[1]), int(row[-1])) for row in rows)
    window = _Window(_candidates(db, cache, rows, upheld), head, upheld, time.monotonic())
    cache.window = window
    return window


def _followed_rows(
    db: Session, cache: _DatabaseCache, window: _Window, followees: set[str], now: int
) -> list[Sequence[Any]]:
    """The newest posts (under FOLLOWED_MAX_AGE_S) of followed creators that the window
    does not already hold: ix_posts_creator_time ranges, one per creator. The creators'
    account ages come from the process's cache (they never change), not a join: joining
    users made PostgreSQL hash all of them for 200 rows."""
    if not followees:
        return []
    recent = Post.posted_at >= now - FOLLOWED_MAX_AGE_S
    query = _light_query().where(Post.user_id.in_(sorted(followees)), recent)
    rows = db.connection().execute(query.limit(FOLLOWED_EXTRA)).all()
    known = window.candidates.index
    rows = [row for row in rows if row[0] not in known]
    since = _creator_since(db, cache, {str(row[1]) for row in rows})
    return [(*row, since.get(str(row[1]), now)) for row in rows]


def _creator_since(db: Session, cache: _DatabaseCache, creators: set[str]) -> dict[str, int]:
    with cache.lock:
        missing = sorted(c for c in creators if c not in cache.creator_since)
    if missing:
        query = select(User.id, User.created_at).where(User.id.in_(missing))
        found = {str(user_id): int(at) for user_id, at in db.connection().execute(query)}
        with cache.lock:
            cache.creator_since.update(found)
    with cache.lock:
        return {c: cache.creator_since[c] for c in creators if c in cache.creator_since}


@dataclass
class Viewer:
    """What the ranker knows about the person asking (nothing for an anonymous one)."""

    id: str | None = None
    steering: str = ""
    steering_vectors: bytes | None = None  # users.steering_vectors, saved with the text
    follows: set[str] = field(default_factory=set)
    blocked: set[str] = field(default_factory=set)  # either way
    hidden: set[str] = field(default_factory=set)
    see_less: set[str] = field(default_factory=set)
    liked: set[str] = field(default_factory=set)
    completed: set[str] = field(default_factory=set)
    seen: set[str] = field(default_factory=set)


def _viewer(db: Session, viewer_id: str) -> Viewer:
    """Everything about the viewer in one round trip: each part is a primary-key (or
    ix_blocks_blocked) range."""

    def kind(name: str) -> ColumnElement[str]:
        return literal_column(f"'{name}'", String)  # inline: PostgreSQL types it in a union

    parts = [
        select(kind("follows"), Follow.followee_id).where(Follow.follower_id == viewer_id),
        select(kind("blocked"), Block.blocked_id).where(Block.user_id == viewer_id),
        select(kind("blocked"), Block.user_id).where(Block.blocked_id == viewer_id),
        select(kind("hidden"), HiddenCreator.creator_id).where(HiddenCreator.user_id == viewer_id),
        select(kind("see_less"), SeeLess.video_id).where(SeeLess.user_id == viewer_id),
        select(kind("liked"), Like.video_id).where(Like.user_id == viewer_id),
        select(
            case((View.completed.is_(True), kind("completed")), else_=kind("seen")), View.video_id
        ).where(View.user_id == viewer_id),
    ]
    viewer = Viewer(id=viewer_id)
    steering = (
        db.connection()
        .execute(select(User.steering, User.steering_vectors).where(User.id == viewer_id))
        .first()
    )
    if steering is not None:
        viewer.steering, viewer.steering_vectors = steering[0] or "", steering[1]
    for part, value in db.connection().execute(union_all(*parts)):
        getattr(viewer, part).add(value)
    viewer.seen |= viewer.completed
    return viewer


# 2. Terms ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Steering:
    """A steering text as phrases (as written) and their embeddings (P, 384), (Q, 384)."""

    positive: tuple[str, ...]
    negative: tuple[str, ...]
    positive_vectors: np.ndarray
    negative_vectors: np.ndarray


_NEGATIVE_CUE = re.compile(
    r"^(?:no|not|less|fewer|without|stop|never|avoid|skip|hide|nothing|none|"
    r"don'?t|do not|no more|less of|fewer of|stop showing(?: me)?)\b\s*",
    re.IGNORECASE,
)
_POSITIVE_CUE = re.compile(
    r"^(?:more|more of|show me|i want|i like|lots of|plenty of|some)\b\s*", re.IGNORECASE
)
_CLAUSES = re.compile(r"[,;.!?\n]+|\bbut\b", re.IGNORECASE)
_JOINS = re.compile(r"\b(?:and|or|nor|&|plus)\b|/", re.IGNORECASE)


def split_steering(text: str) -> tuple[list[str], list[str]]:
    """("more cats and cooking, no sports") → (["more cats", "cooking"], ["no sports"]).

    Commas, semicolons, full stops and "but" start a clause, positive unless it opens with
    a negative cue (no, not, less, fewer, without, stop, never, avoid, ...); "and", "or",
    "&" and "/" join phrases that keep their clause's sign. Phrases are kept as written."""
    positive: list[str] = []
    negative: list[str] = []
    for clause in _CLAUSES.split(text):
        negate = False
        for index, phrase in enumerate(p.strip() for p in _JOINS.split(clause)):
            if not phrase:
                continue
            if _NEGATIVE_CUE.match(phrase):
                negate = True
            elif index == 0 or _POSITIVE_CUE.match(phrase):
                negate = False
            (negative if negate else positive).append(phrase)
    return positive, negative


def _topic(phrase: str) -> str:
    """What a phrase is about, without its cue ("no more sports" → "sports")."""
    stripped = _NEGATIVE_CUE.sub("", phrase, count=1)
    stripped = _POSITIVE_CUE.sub("", stripped, count=1).strip()
    return stripped or phrase


def steering_blob(text: str) -> bytes | None:
    """The embeddings of a steering text's phrases' topics, positive then negative, as
    stored in users.steering_vectors when the text is saved (None: no phrases)."""
    positive, negative = split_steering(text)
    if not positive and not negative:
        return None
    return encode([_topic(p) for p in positive + negative]).astype("<f4").tobytes()


@lru_cache(maxsize=1024)
def parse_steering(text: str, blob: bytes | None = None) -> Steering:
    """Parsed once per text and process; embedded from `blob` (saved with the text) when
    it matches the phrases, else by the encoder."""
    positive, negative = split_steering(text)
    phrases = len(positive) + len(negative)
    if blob is not None and len(blob) == phrases * DIM * 4:
        vectors = np.frombuffer(blob, "<f4").reshape(phrases, DIM)
    else:
        vectors = encode([_topic(p) for p in positive + negative])  # (P + Q, 384)
    return Steering(
        tuple(positive), tuple(negative), vectors[: len(positive)], vectors[len(positive) :]
    )


@dataclass
class Terms:
    """(N,) arrays, one per term, and what the details need."""

    freshness: np.ndarray
    engagement: np.ndarray
    interests: np.ndarray
    trust: np.ndarray
    steering: np.ndarray
    steering_positive: np.ndarray  # (N,) index of the best positive phrase, or -1
    steering_negative: np.ndarray  # (N,) index of the best negative phrase, or -1
    positive_max: np.ndarray
    negative_max: np.ndarray

    def score(self, steer: bool) -> np.ndarray:
        total = (
            WEIGHTS["freshness"] * self.freshness
            + WEIGHTS["engagement"] * self.engagement
            + WEIGHTS["interests"] * self.interests
            + WEIGHTS["trust"] * self.trust
        )
        return total + STEERING_WEIGHT * self.steering if steer else total


def interest_vector(liked: np.ndarray, less: np.ndarray) -> np.ndarray | None:
    """Unit mean of what the viewer liked or finished minus the mean of what they asked to
    see less of; None when there is nothing to go on."""
    vector = np.zeros(DIM, np.float32)
    if len(liked):
        vector += liked.mean(axis=0)
    if len(less):
        vector -= less.mean(axis=0)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 1e-6 else None


def _best(similarity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, P) cosines → (max clipped at 0, argmax or -1 when P = 0)."""
    if similarity.shape[1] == 0:
        n = similarity.shape[0]
        return np.zeros(n, np.float32), np.full(n, -1)
    return np.clip(similarity.max(axis=1), 0.0, 1.0), similarity.argmax(axis=1)


def _cosines(rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """(N, 384) × (384, K) → (N, K) without BLAS: a 2,000-row product takes 0.1 ms either
    way, but a threaded BLAS on a busy server (40 request threads) spins its threads and
    was measured taking 8 ms."""
    return np.einsum("nd,dk->nk", rows, columns)


def compute_terms(
    candidates: Candidates,
    now: int,
    interests: np.ndarray | None,
    steering: Steering | None,
) -> Terms:
    age_s = np.maximum(0, now - candidates.posted_at).astype(np.float64)  # (N,)
    likes, comments, remixes, completed = (candidates.counts[:, i] for i in range(4))
    raw = LIKE_W * likes + COMMENT_W * comments + REMIX_W * remixes + COMPLETED_W * completed
    decayed = raw * 0.5 ** (age_s / ENGAGEMENT_HALF_LIFE_S)
    account_age_s = np.maximum(0, now - candidates.creator_since).astype(np.float64)
    trust = (1 - 0.5 * np.exp(-account_age_s / TRUST_AGE_SCALE_S)) * 0.5**candidates.upheld
    n = len(candidates)
    interest = (
        np.clip(_cosines(candidates.embeddings, interests[:, None])[:, 0], 0.0, 1.0)
        if interests is not None
        else np.zeros(n)
    )
    if steering is not None:
        embeddings = candidates.embeddings  # (N, 384)
        positive_max, positive_at = _best(_cosines(embeddings, steering.positive_vectors.T))
        negative_max, negative_at = _best(_cosines(embeddings, steering.negative_vectors.T))
    else:
        positive_max, negative_max = np.zeros(n), np.zeros(n)
        positive_at, negative_at = np.full(n, -1), np.full(n, -1)
    return Terms(
        freshness=0.5 ** (age_s / FRESHNESS_HALF_LIFE_S),
        engagement=1 - np.exp(-decayed / ENGAGEMENT_SCALE),
        interests=interest,
        trust=trust,
        steering=positive_max - negative_max,
        steering_positive=positive_at,
        steering_negative=negative_at,
        positive_max=positive_max,
        negative_max=negative_max,
    )


# 4. The page -------------------------------------------------------------------------


def digest(video_id: str) -> bytes:
    return hashlib.blake2b(video_id.encode(), digest_size=DIGEST_BYTES).digest()


def encode_served(served: Sequence[bytes]) -> str:
    raw = CURSOR_VERSION + b"".join(served)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_served(cursor: str) -> list[bytes]:
    """The digests of the ids already served; InvalidRequest naming `cursor` otherwise."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    body = raw[1:]
    if (
        raw[:1] != CURSOR_VERSION
        or len(body) % DIGEST_BYTES
        or len(body) > MAX_SERVED * DIGEST_BYTES
    ):
        raise InvalidRequest(
            "cursor is not a cursor this feed returned", param="cursor", code="invalid_cursor"
        )
    return [body[i : i + DIGEST_BYTES] for i in range(0, len(body), DIGEST_BYTES)]


def _explore_order(c: Candidates, pool: np.ndarray, viewer_id: str | None) -> list[int]:
    """`pool` in an order fixed per viewer: each post's digest mixed with the viewer's
    (xor, then a multiplicative hash, wrapping at 64 bits), vectorised."""
    salt = hashlib.blake2b((viewer_id or "").encode(), digest_size=8).digest()
    mixed = (c.keys[pool] ^ np.uint64(int.from_bytes(salt, "little"))) * _GOLDEN
    return [int(i) for i in pool[np.argsort(mixed, kind="stable")]]


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _take(
    order: Sequence[int],
    count: int,
    creators: Sequence[str],
    per_creator: Counter[str],
    used: set[int],
) -> list[int]:
    """The first `count` of `order` not yet used whose creator is under the cap."""
    picked: list[int] = []
    for index in order:
        if len(picked) == count:
            break
        if index in used or per_creator[creators[index]] >= CREATOR_CAP:
            continue
        picked.append(index)
        used.add(index)
        per_creator[creators[index]] += 1
    return picked


def assemble(
    ranked: Sequence[int], explore: Sequence[int], creators: Sequence[str], limit: int
) -> list[tuple[int, str]]:
    """A page of (candidate index, source): exploration in slots 3, 6, 9 of every 10, the
    ranked order elsewhere; the ranker picks first, so exploration only gets what it did
    not pick; a short exploration pool leaves its slots to the ranking."""
    is_exploration = [i % 10 in EXPLORATION_SLOTS for i in range(limit)]
    per_creator: Counter[str] = Counter()
    used: set[int] = set()
    top = _take(ranked, is_exploration.count(False), creators, per_creator, used)
    explored = _take(explore, is_exploration.count(True), creators, per_creator, used)
    more = _take(ranked, limit - len(top) - len(explored), creators, per_creator, used)
    top_iter, explored_iter, more_iter = iter(top), iter(explored), iter(more)
    page: list[tuple[int, str]] = []
    for slot_is_exploration in is_exploration:
        pick = next(explored_iter, None) if slot_is_exploration else next(top_iter, None)
        source = "exploration" if slot_is_exploration and pick is not None else "ranked"
        if pick is None:
            pick = next(top_iter, None) if slot_is_exploration else None
            pick = pick if pick is not None else next(more_iter, None)
        if pick is not None:
            page.append((pick, source))
    return page


# 5. Why ------------------------------------------------------------------------------


def _ago(seconds: float) -> str:
    if seconds < 3600:
        return f"{max(1, int(seconds // 60))} min ago"
    if seconds < 2 * 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"


def _plural(count: int, word: str, words: str | None = None) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {words or word + 's'}"


def _quote(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return f"'{text if len(text) <= limit else text[: limit - 1] + '…'}'"


@dataclass
class _Explainer:
    """Detail strings for the few chosen items."""

    now: int
    viewer: Viewer
    steering: Steering | None
    liked_ids: list[str]  # rows of liked_vectors
    liked_vectors: np.ndarray  # (L, 384)
    texts: dict[str, str]  # liked post id → what it is about

    def terms(self, c: Candidates, t: Terms, i: int) -> list[WhyTerm]:
        age_s = max(0, self.now - int(c.posted_at[i]))
        likes, comments, remixes, completed, _ = (int(x) for x in c.counts[i])
        activity = [
            _plural(likes, "like"),
            _plural(comments, "comment"),
            _plural(remixes, "remix", "remixes"),
            _plural(completed, "full view"),
        ]
        account_days = max(0, self.now - int(c.creator_since[i])) // 86400
        upheld = int(c.upheld[i])
        reports = "no upheld reports" if upheld == 0 else _plural(upheld, "upheld report")
        out = [
            WhyTerm(
                name="freshness",
                weight=WEIGHTS["freshness"],
                value=float(t.freshness[i]),
                detail=f"posted {_ago(age_s)}",
            ),
            WhyTerm(
                name="engagement",
                weight=WEIGHTS["engagement"],
                value=float(t.engagement[i]),
                detail=", ".join(activity),
            ),
            WhyTerm(
                name="interests",
                weight=WEIGHTS["interests"],
                value=float(t.interests[i]),
                detail=self._interest_detail(c, i),
            ),
            WhyTerm(
                name="trust",
                weight=WEIGHTS["trust"],
                value=float(t.trust[i]),
                detail=f"account {_plural(int(account_days), 'day')} old, {reports}",
            ),
        ]
        if self.steering is not None:
            out.append(
                WhyTerm(
                    name="steering",
                    weight=STEERING_WEIGHT,
                    value=float(t.steering[i]),
                    detail=self._steering_detail(t, i),
                )
            )
        return out

    def _interest_detail(self, c: Candidates, i: int) -> str:
        if self.viewer.id is None:
            return "not signed in: no personal interests"
        if not self.liked_ids:
            return "nothing liked or watched to the end yet"
        closest = self.liked_ids[int(np.argmax(self.liked_vectors @ c.embeddings[i]))]
        how = "you liked" if closest in self.viewer.liked else "you watched to the end"
        return f"like {_quote(self.texts.get(closest, closest))}, which {how}"

    def _steering_detail(self, t: Terms, i: int) -> str:
        assert self.steering is not None
        if t.positive_max[i] >= t.negative_max[i] and t.steering_positive[i] >= 0:
            return f"matches {_quote(self.steering.positive[int(t.steering_positive[i])])}"
        if t.steering_negative[i] >= 0:
            return f"against {_quote(self.steering.negative[int(t.steering_negative[i])])}"
        return "no steering phrase applies"


def why_text(source: str, terms: list[WhyTerm], views: int) -> str:
    """One sentence: the two terms that added most, and steering when it held back."""
    by_name = {term.name: term for term in terms}
    if source == "exploration":
        return (
            f"Exploration: a new post few have seen yet ({_plural(views, 'view')}, "
            f"{by_name['freshness'].detail}), shown beside the ranking to give it a chance."
        )
    ranked = sorted(terms, key=lambda term: -term.weight * term.value)
    reasons = [f"{term.name} ({term.detail})" for term in ranked[:2] if term.value > 0]
    text = "Ranked for you mostly by " + " and ".join(reasons) if reasons else "Ranked for you"
    steering = by_name.get("steering")
    if steering is not None and steering.value < 0:
        text += f"; steering held it back ({steering.detail})"
    return text + "."


# The For You page --------------------------------------------------------------------


def _eligible(c: Candidates, viewer: Viewer, served: set[bytes]) -> np.ndarray:
    """(N,) bool: the candidates this viewer may be shown now."""
    unwanted_creators = viewer.blocked | viewer.hidden
    if viewer.id is not None:
        unwanted_creators = unwanted_creators | {viewer.id}
    unwanted_posts = viewer.seen | viewer.see_less
    return np.array(
        [
            creator not in unwanted_creators
            and video_id not in unwanted_posts
            and video_digest not in served
            for video_id, creator, video_digest in zip(c.ids, c.creators, c.digests, strict=True)
        ],
        bool,
    )


def _orders(
    c: Candidates, score: np.ndarray, eligible: np.ndarray, viewer_id: str | None, now: int
) -> tuple[list[int], list[int]]:
    """The ranked order (score, then id) and the exploration pool's order."""
    ids = np.array(c.ids)
    indices = np.flatnonzero(eligible)
    ranked = indices[np.lexsort((ids[indices], -score[indices]))].tolist()
    low_exposure = c.counts[:, 4] <= EXPLORATION_MAX_VIEWS
    fresh = (now - c.posted_at) <= EXPLORATION_MAX_AGE_S
    pool = np.flatnonzero(eligible & low_exposure & fresh)
    return ranked, _explore_order(c, pool, viewer_id)


def _fresh_posts(db: Session, ids: Sequence[str]) -> dict[str, Post]:
    """The chosen posts as they are now: the window may be up to WINDOW_TTL_S old."""
    posts = db.scalars(select(Post).where(Post.video_id.in_(ids), *_visible()))
    return {post.video_id: post for post in posts}


def _liked_texts(db: Session, ids: Sequence[str]) -> dict[str, str]:
    rows = db.execute(
        select(Post.video_id, Post.caption, Video.prompt)
        .join(Video, Video.id == Post.video_id)
        .where(Post.video_id.in_(ids))
    )
    return {video_id: caption.strip() or prompt for video_id, caption, prompt in rows}


def for_you(
    db: Session,
    viewer_id: str | None,
    cursor: str | None = None,
    limit: int = 10,
    now: int | None = None,
) -> Page[PostOut]:
    """One page of For You for `viewer_id` (None: anonymous); see the module docstring."""
    now = int(time.time()) if now is None else now
    served = decode_served(cursor) if cursor else []
    cache = _cache_for(db)
    # 1. Candidates and the viewer
    window = _window(db, cache)
    viewer = _viewer(db, viewer_id) if viewer_id is not None else Viewer()
    extra_rows = _followed_rows(db, cache, window, viewer.follows, now)
    liked_ids = sorted(viewer.liked | viewer.completed)
    # one query for every embedding not yet cached; the calls below find them cached
    _embeddings(
        db, cache, [str(row[0]) for row in extra_rows] + liked_ids + sorted(viewer.see_less)
    )
    extras = _candidates(db, cache, extra_rows, window.upheld_by_creator)
    candidates = window.candidates.concat(extras)
    # 2. Terms and 3. the score
    liked_vectors = _embeddings(db, cache, liked_ids)
    less_vectors = _embeddings(db, cache, sorted(viewer.see_less))
    steering = (
        parse_steering(viewer.steering, viewer.steering_vectors)
        if viewer.steering.strip()
        else None
    )
    if steering is not None and not (steering.positive or steering.negative):
        steering = None
    terms = compute_terms(candidates, now, interest_vector(liked_vectors, less_vectors), steering)
    score = terms.score(steering is not None)
    # 4. The page, its posts read fresh
    eligible = _eligible(candidates, viewer, set(served))
    page, posts = _page(db, candidates, score, eligible, viewer_id, limit, now)
    # 5. Why
    explainer = _Explainer(now, viewer, steering, liked_ids, liked_vectors, {})
    if viewer_id is not None and liked_ids:
        closest = {
            liked_ids[int(np.argmax(liked_vectors @ candidates.embeddings[i]))] for i, _ in page
        }
        explainer.texts = _liked_texts(db, sorted(closest))
    whys = {}
    for index, source in page:
        item_terms = explainer.terms(candidates, terms, index)
        whys[candidates.ids[index]] = Why(
            source=source,  # type: ignore[arg-type]
            score=float(score[index]),
            terms=item_terms,
            text=why_text(source, item_terms, int(candidates.counts[index, 4])),
        )
    ordered = [posts[candidates.ids[index]] for index, _ in page]
    served += [candidates.digests[index] for index, _ in page]
    eligible[[index for index, _ in page]] = False
    # A page the creator cap left short is not the end: what remains comes next.
    more = bool(eligible.any()) and len(served) + limit <= MAX_SERVED
    return Page[PostOut](
        data=post_outs(db, ordered, viewer_id, whys),
        next_cursor=encode_served(served) if more else None,
    )


def _page(
    db: Session,
    candidates: Candidates,
    score: np.ndarray,
    eligible: np.ndarray,
    viewer_id: str | None,
    limit: int,
    now: int,
) -> tuple[list[tuple[int, str]], dict[str, Post]]:
    """Assemble a page; a post taken down or unposted since the window was read is dropped
    (marked ineligible) and the page assembled again."""
    for _ in range(3):
        ranked, pool = _orders(candidates, score, eligible, viewer_id, now)
        page = assemble(ranked, pool, candidates.creators, limit)
        posts = _fresh_posts(db, [candidates.ids[index] for index, _ in page])
        gone = [index for index, _ in page if candidates.ids[index] not in posts]
        if not gone:
            return page, posts
        eligible[gone] = False
    return [(index, source) for index, source in page if index not in gone], posts


# Following ---------------------------------------------------------------------------


def _following_cursor(cursor: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        posted_at, video_id = raw.split(":", 1)
        if not video_id or len(video_id) > 40:
            raise ValueError(video_id)
        return int(posted_at), video_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidRequest(
            "cursor is not a cursor this feed returned", param="cursor", code="invalid_cursor"
        ) from None


def following(
    db: Session, viewer_id: str, cursor: str | None = None, limit: int = 10, now: int | None = None
) -> Page[PostOut]:
    """Posts of the people `viewer_id` follows, newest first (keyset on posted_at, id),
    without anyone blocked either way."""
    now = int(time.time()) if now is None else now
    blocked = union_all(
        select(Block.blocked_id).where(Block.user_id == viewer_id),
        select(Block.user_id).where(Block.blocked_id == viewer_id),
    )
    query = (
        select(Post)
        .join(Follow, and_(Follow.followee_id == Post.user_id, Follow.follower_id == viewer_id))
        .where(*_visible(), Post.user_id.not_in(blocked))
        .order_by(Post.posted_at.desc(), Post.video_id.desc())
        .limit(limit + 1)
    )
    if cursor:
        posted_at, video_id = _following_cursor(cursor)
        query = query.where(
            or_(
                Post.posted_at < posted_at,
                and_(Post.posted_at == posted_at, Post.video_id < video_id),
            )
        )
    posts = list(db.scalars(query))
    page, more = posts[:limit], len(posts) > limit
    whys = {post.video_id: _following_why(post, now) for post in page}
    next_cursor = None
    if more:
        last = page[-1]
        next_cursor = base64.urlsafe_b64encode(f"{last.posted_at}:{last.video_id}".encode())
    return Page[PostOut](
        data=post_outs(db, page, viewer_id, whys),
        next_cursor=next_cursor.decode().rstrip("=") if next_cursor else None,
    )


def _following_why(post: Post, now: int) -> Why:
    age_s = max(0, now - post.posted_at)
    freshness = math.pow(0.5, age_s / FRESHNESS_HALF_LIFE_S)
    detail = f"posted {_ago(age_s)}"
    return Why(
        source="following",
        score=freshness,
        terms=[WhyTerm(name="freshness", weight=1.0, value=freshness, detail=detail)],
        text=f"From someone you follow, newest first ({detail}).",
    )
