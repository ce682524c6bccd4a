"""The `reelforge` command line.

Every failure a user can cause prints one readable line naming the field; nothing is left
half-written. Exit statuses: 0 done; 1 a failure of the engine or the system; 2 a bad
argument or input; 3 bad settings or a broken installation; 4 refused by the content
policy; 130 interrupted. Bare `reelforge` prints the help.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from reelforge import __version__
from reelforge.errors import InvalidRequest as InvalidRequestError
from reelforge.errors import ReelforgeError
from reelforge.logs import configure_logging
from reelforge.settings import Settings, load_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from reelforge.db.keys import KeyInfo

from reelforge.types import (
    DEFAULT_FPS,
    DEFAULT_SECONDS,
    DEFAULT_SIZE,
    MAX_SECONDS,
    MAX_SEED,
    MIN_SECONDS,
    SUPPORTED_FPS,
    SUPPORTED_SIZES,
    Request,
    Result,
)


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line, with exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _number(field: str, kind: type[int] | type[float]) -> Callable[[str], int | float]:
    def parse(text: str) -> int | float:
        try:
            return kind(text)
        except ValueError:
            noun = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"{field} must be {noun}, got {text!r}") from None

    parse.__name__ = field
    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="reelforge",
        description="Generate short video clips with sound.",
        epilog="exit status: 0 done, 1 engine or system failure, 2 bad argument or input, "
        "3 bad settings, 4 refused by the content policy, 130 interrupted",
    )
    parser.add_argument("--version", action="version", version=f"reelforge {__version__}")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    gen = commands.add_parser("generate", help="generate a clip from a text prompt")
    gen.add_argument("prompt", help="what the clip should show and sound like")
    gen.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="where to write the MP4 (a JSON sidecar is written next to it); "
        "default: ./<first words of the prompt>-<seed>.mp4",
    )
    gen.add_argument(
        "--seconds",
        type=_number("seconds", float),
        default=DEFAULT_SECONDS,
        help=f"clip length in seconds, {MIN_SECONDS:g}..{MAX_SECONDS:g} (default %(default)s)",
    )
    gen.add_argument("--size", default=DEFAULT_SIZE, help=_SIZE_HELP)
    gen.add_argument(
        "--fps",
        type=_number("fps", int),
        default=DEFAULT_FPS,
        help=f"frames per second: {', '.join(map(str, SUPPORTED_FPS))} (default %(default)s)",
    )
    gen.add_argument(
        "--seed",
        type=_number("seed", int),
        default=None,
        help=f"0..{MAX_SEED}; the same seed gives the same scene (default: a random one)",
    )
    gen.add_argument("--engine", default=None, help="sim (default) or dit")
    gen.add_argument(
        "--model-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="--engine ltx2: a diffusers-format LTX-2 snapshot on disk (default: "
        "REELFORGE_LTX2_DIR); nothing is downloaded",
    )
    gen.add_argument(
        "--input-reference",
        type=Path,
        default=None,
        metavar="IMAGE",
        help="start from this image (PNG, JPEG, WebP), fitted to --size",
    )
    gen.add_argument(
        "--creator",
        default=None,
        metavar="HANDLE",
        help="the handle in the visible watermark and the provenance record "
        "(default: your login name)",
    )
    gen.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    serve = commands.add_parser("serve", help="run the OpenAI-compatible HTTP API")
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to listen on; 0.0.0.0 for every interface (default %(default)s)",
    )
    serve.add_argument(
        "--port", type=_number("port", int), default=8000, help="(default %(default)s)"
    )
    serve.add_argument(
        "--no-worker",
        action="store_true",
        help="do not run a job worker in this process (run `reelforge worker`)",
    )

    worker = commands.add_parser("worker", help="run a job worker (for separate worker processes)")
    worker.add_argument(
        "--gpus",
        default="auto",
        help="run jobs on this many GPUs, one job per GPU, each in a worker process of its "
        "own: auto (every visible GPU) or a number; with 0 or 1 this process is the "
        "worker (default %(default)s)",
    )

    verify = commands.add_parser(
        "verify", help="check a video's C2PA manifest and watermarks, and trace it"
    )
    verify.add_argument("file", type=Path, help="the video file (MP4, MOV, WebM, ...)")
    verify.add_argument("--json", action="store_true", help="print the full report as JSON")

    rights = commands.add_parser(
        "rights", help="the rights registry: protected names and their licences"
    )
    rights_commands = rights.add_subparsers(
        dest="rights_command", required=True, parser_class=_Parser
    )
    register = rights_commands.add_parser(
        "register", help="protect a name: only its holder and licensees may use it"
    )
    register.add_argument("--holder", required=True, help="the holder's user name")
    register.add_argument("--name", required=True, help='e.g. "Captain Comet"')
    register.add_argument("--kind", required=True, help="character, brand, work, artist or name")
    register.add_argument("--alias", action="append", default=[], help="another spelling")
    register.add_argument(
        "--cased", action="store_true", help="match only when written with capitals"
    )
    licence = rights_commands.add_parser("license", help="let a user use a registered name")
    licence.add_argument("--holder", required=True)
    licence.add_argument("--name", required=True)
    licence.add_argument("--to", required=True, help="the licensee's user name")

    cameo = commands.add_parser("cameo", help="public figures' consent through their cameos")
    cameo_commands = cameo.add_subparsers(dest="cameo_command", required=True, parser_class=_Parser)
    figure = cameo_commands.add_parser(
        "verify-figure", help="record that a user is a listed public figure (operator)"
    )
    figure.add_argument("--user", required=True)
    figure.add_argument("--figure", required=True, help='the listed name, e.g. "Serena Williams"')
    allow = cameo_commands.add_parser("allow", help="let someone use a user's cameos")
    allow.add_argument("--user", required=True, help="the cameos' owner")
    allow.add_argument("--to", required=True, help='a user name, or "everyone"')
    revoke = cameo_commands.add_parser("revoke", help="withdraw a permission")
    revoke.add_argument("--user", required=True)
    revoke.add_argument("--to", required=True)
    audit = cameo_commands.add_parser(
        "audit", help="verify a cameo's hash-chained consent log (exit 1 on a break)"
    )
    audit.add_argument("handle", help="the cameo's @handle")

    keys = commands.add_parser("keys", help="manage API keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True, parser_class=_Parser)
    create = key_commands.add_parser("create", help="create an API key for a user")
    create.add_argument("--user", required=True, help="user name (created if new)")
    listing = key_commands.add_parser("list", help="list API keys (never the keys themselves)")
    listing.add_argument("--user", help="only this user's keys")
    listing.add_argument("--all", action="store_true", help="revoked keys too")
    listing.add_argument("--json", action="store_true", help="print JSON Lines, one key a line")
    revoke_key = key_commands.add_parser("revoke", help="revoke an API key (at once)")
    revoke_key.add_argument("key_id", help="the key's id, as `keys list` shows it")
    rotate = key_commands.add_parser(
        "rotate", help="a new key for the same user; the old one is revoked"
    )
    rotate.add_argument("key_id", help="the key's id, as `keys list` shows it")

    hooks = commands.add_parser("webhooks", help="webhook deliveries not yet delivered")
    hook_commands = hooks.add_subparsers(
        dest="webhooks_command", required=True, parser_class=_Parser
    )
    hook_list = hook_commands.add_parser(
        "list", help="pending and failed deliveries, with attempts and last error"
    )
    hook_list.add_argument("--failed", action="store_true", help="only those given up on")
    hook_list.add_argument("--json", action="store_true", help="print JSON Lines")
    hook_retry = hook_commands.add_parser(
        "retry", help="send an undelivered event again now, with a fresh 24 h of retries"
    )
    hook_retry.add_argument("event_id", help="the event's id, as `webhooks list` shows it")

    users = commands.add_parser("users", help="people who sign in to the app on the web")
    user_commands = users.add_subparsers(dest="users_command", required=True, parser_class=_Parser)
    make_user = user_commands.add_parser(
        "create", help="create a person (the first admin is made this way); prints the user id"
    )
    make_user.add_argument("handle", help="3-30 of a-z, 0-9 and _")
    role_flag = make_user.add_mutually_exclusive_group()
    role_flag.add_argument("--admin", action="store_true", help="with the admin role")
    role_flag.add_argument("--moderator", action="store_true", help="with the moderator role")
    make_user.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (otherwise it is asked for)",
    )
    set_role = user_commands.add_parser("role", help="set a person's role")
    set_role.add_argument("handle")
    set_role.add_argument("role", help="user, moderator or admin")

    ev = commands.add_parser("eval", help="generate a prompt suite with an engine and measure it")
    ev.add_argument("--engine", default=None, help="sim (default) or dit")
    ev.add_argument(
        "--suite",
        type=Path,
        default=None,
        help="suite file (JSON Lines), 'everyday' for the packaged everyday suite, or "
        "'pairs' for the pair test (16 prompt pairs that differ in one attribute: are they "
        "told apart?); default: the packaged core suite",
    )
    ev.add_argument(
        "--n", type=_number("n", int), default=None, help="evaluate only the first N prompts"
    )
    ev.add_argument(
        "--out",
        type=Path,
        default=Path("eval-report"),
        help="directory for report.json, summary.md and plots (default %(default)s)",
    )
    ev.add_argument(
        "--seconds",
        type=_number("seconds", float),
        default=4.0,
        help=f"each clip's length, {MIN_SECONDS:g}..{MAX_SECONDS:g} (default %(default)s)",
    )
    ev.add_argument("--size", default="720x1280", help=_SIZE_HELP)
    ev.add_argument("--keep-clips", action="store_true", help="keep the generated MP4s")
    ev.add_argument(
        "--cameos",
        action="store_true",
        help="give each prompt with a character a cameo (a random likeness: the sim draws "
        "it, a learned engine gets its portrait and voice) and report how often the clip "
        "shows it",
    )
    ev.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run in --out: only the prompts it did not finish",
    )
    ev.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    from reelforge.models_cli import add_arguments as add_models_arguments

    add_models_arguments(commands)
    from reelforge.engines.dit.config import add_train_arguments

    add_train_arguments(
        commands.add_parser("train", help="train the dit engine (codecs or transformer)")
    )
    return parser


_SIZE_HELP = f"WxH, one of {', '.join(SUPPORTED_SIZES)} (default %(default)s)"


# Commands whose start is long and makes mostly objects that live as long as the process.
SLOW_STARTS = ("generate", "serve", "worker")


def main(argv: Sequence[str] | None = None) -> int:
    # Starting makes about a million long-lived objects (modules, the ORM's tables, the
    # API's models, the policy's indexes, the asset catalogue) and little garbage: the
    # collector's passes over them took 0.1 s of `generate`'s 1 s start and 0.2 s of the
    # 1.8 s a server took to answer. It stays off while one of SLOW_STARTS starts, until
    # `_started`.
    gc.disable()
    try:
        return _command(argv)
    finally:
        _started()


def _started() -> None:
    """The command has started: the collector back on, what start-up made frozen out of
    its passes (none of it is garbage). Frozen once per process: a process that runs
    `main` again (a test) would otherwise freeze its later garbage too."""
    if not gc.isenabled():
        if gc.get_freeze_count() == 0:
            gc.freeze()
        gc.enable()


def _command(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command not in SLOW_STARTS:
        _started()
    if args.command is None:  # bare `reelforge`: what it can do
        parser.print_help()
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    prefix = f"reelforge {args.command}"
    debug = False
    try:
        settings = load_settings()
        debug = settings.debug
        configure_logging(settings.log_format, settings.log_level)
        if args.command == "generate":
            return _generate(args, settings)
        if args.command == "eval":
            return _eval(args, settings)
        if args.command == "serve":
            return _serve(args, settings)
        if args.command == "worker":
            return _worker(args, settings)
        if args.command == "keys":
            return _keys(args, settings)
        if args.command == "users":
            return _users(args, settings)
        if args.command == "webhooks":
            return _webhooks(args, settings)
        if args.command == "verify":
            return _verify(args, settings)
        if args.command == "rights":
            return _rights(args, settings)
        if args.command == "cameo":
            return _cameo(args, settings)
        if args.command == "models":
            from reelforge.models_cli import run as run_models

            return run_models(args, settings)
        if args.command == "train":
            from reelforge.engines.dit.train import run_from_arguments

            return run_from_arguments(args)
    except ReelforgeError as error:
        print(f"{prefix}: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(f"{prefix}: interrupted; nothing was written", file=sys.stderr)
        return 130
    except Exception as error:  # a bug or the system failing: one line, not a traceback
        if debug:
            raise
        print(
            f"{prefix}: internal error: {type(error).__name__}: {error} "
            "(REELFORGE_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return 1
    parser.error(f"unknown command {args.command!r}")


def _generate(args: argparse.Namespace, settings: Settings) -> int:
    from reelforge import pipeline  # heavy imports only once the arguments are good
    from reelforge.recaption.understood import understood

    if args.model_dir is not None:  # for this run only
        settings = settings.model_copy(update={"ltx2_dir": args.model_dir})
    request = Request(
        prompt=args.prompt,
        seconds=args.seconds,
        size=args.size,
        fps=args.fps,
        seed=args.seed,
        engine=args.engine or settings.default_engine,
        input_reference=args.input_reference,
        creator=args.creator or _login_name(),
    )
    output = args.output
    if output is None:
        slug = "-".join(re.findall(r"[a-z0-9]+", request.prompt.lower())[:6]) or "clip"
        seed_part = request.seed if request.seed is not None else "random"
        output = Path(f"{slug}-{seed_part}.mp4")
    if args.quiet:
        result = pipeline.generate(request, output, settings=settings, progress=_after_start)
    else:
        result = _with_progress_bar(request, output, settings)
    timings = result.timings_s
    clip_s = result.clip.duration_s
    print(
        f"wrote {result.video_path} ({clip_s:.2f} s, {result.clip.width}x{result.clip.height}, "
        f"{result.clip.fps} fps, seed {result.seed}) in {timings['total_s']:.1f} s; "
        f"sidecar {result.sidecar_path.name}",
        file=sys.stderr,
    )
    print(result.video_path)
    summary = understood(result.plan)
    print(summary.line(), file=sys.stderr)
    if summary.nothing:
        print(
            "warning: nothing in the prompt was understood (the sim reads English nouns "
            "and verbs, and names of things in 15 other languages); the clip shows a "
            "default scene",
            file=sys.stderr,
        )
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from reelforge.service.app import create_app
    from reelforge.service.connections import connection_cap, protocol_for

    if not 1 <= args.port <= 65535:
        raise InvalidRequestError(f"port must be 1..65535, got {args.port}", param="port")
    app = create_app(settings, run_worker=not args.no_worker)
    _started()
    cap = connection_cap(settings.max_connections)
    print(f"reelforge: serving on http://{args.host}:{args.port}/v1", file=sys.stderr)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        log_config=None,  # configure_logging's handler (text or JSON) stays in place
        http=protocol_for(settings.header_timeout_s, settings.body_timeout_s, cap),
        limit_concurrency=cap + 1,  # reached only when no connection is idle
    )
    return 0


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    import signal
    import threading

    from reelforge.jobs.gpus import gpus_to_use, supervise

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    gpus = gpus_to_use(args.gpus)
    if len(gpus) > 1:
        print(f"reelforge: one worker on each of GPUs {', '.join(gpus)}", file=sys.stderr)
        signal.signal(signal.SIGINT, lambda *_: stop.set())  # the children stop too
        _started()
        return supervise(gpus, stop)

    from reelforge.deployment import Deployment
    from reelforge.jobs.queue import JobQueue
    from reelforge.jobs.worker import Worker

    worker = Worker(Deployment(settings), JobQueue(settings))
    _started()
    on = f" on GPU {gpus[0]}" if gpus else ""
    print(f"reelforge: worker {worker.worker_id}{on} waiting for jobs", file=sys.stderr)
    try:
        worker.run(stop)
    except KeyboardInterrupt:
        stop.set()
    return 0


def _keys(args: argparse.Namespace, settings: Settings) -> int:
    """Keys are printed once, on stdout (so `$(reelforge keys create ...)` captures only
    the key); what happened goes to stderr."""
    from reelforge.db import keys
    from reelforge.db.session import make_engine, session_factory, transaction

    factory = session_factory(make_engine(settings))
    if args.keys_command == "list":
        user = _key_user(args.user) if args.user is not None else None
        with transaction(factory) as session:
            rows = keys.list_keys(session, user_name=user, include_revoked=args.all)
        _print_keys(rows, as_json=args.json)
        return 0
    if args.keys_command == "revoke":
        with transaction(factory) as session:
            info, already = keys.revoke_key(session, args.key_id)
        state = "was already revoked" if already else "is revoked"
        print(f"API key {info.id} ({info.prefix}..., {info.user}) {state}", file=sys.stderr)
        return 0
    if args.keys_command == "rotate":
        with transaction(factory) as session:
            key, new, old = keys.rotate_key(session, args.key_id)
        print(
            f"API key {old.id} of {old.user} is revoked; its replacement {new.id} is shown "
            "only once",
            file=sys.stderr,
        )
        print(key)
        return 0
    name = _key_user(args.user)
    with transaction(factory) as session:
        key = keys.create_key(session, name)
    print(f"created an API key for {name}; it is shown only once", file=sys.stderr)
    print(key)
    return 0


def _webhooks(args: argparse.Namespace, settings: Settings) -> int:
    """The outbox as the operator sees it (outbox.py): never a secret."""
    from reelforge import outbox
    from reelforge.db.session import make_engine, session_factory, transaction

    factory = session_factory(make_engine(settings))
    if args.webhooks_command == "retry":
        with transaction(factory) as session:
            retried = outbox.retry(session, args.event_id)
        if retried is None:
            raise InvalidRequestError(
                f"event_id: no undelivered webhook {args.event_id!r}", param="event_id"
            )
        print(f"webhook {args.event_id} is due again now", file=sys.stderr)
        return 0
    with transaction(factory) as session:
        rows = outbox.list_deliveries(session, failed_only=args.failed)
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    print("ID\tKIND\tSTATE\tATTEMPTS\tLAST_STATUS\tLAST_ERROR\tURL")
    for row in rows:
        print(
            f"{row['id']}\t{row['kind']}\t{row['state']}\t{row['attempts']}\t"
            f"{row['last_status'] or '-'}\t{row['last_error'] or '-'}\t{row['url']}"
        )
    return 0


def _key_user(text: str) -> str:
    name = text.strip()
    if not name or len(name) > 80:
        raise InvalidRequestError(f"user must be 1..80 characters, got {len(name)}", param="user")
    return name


def _print_keys(rows: Sequence[KeyInfo], *, as_json: bool) -> None:
    import dataclasses

    if as_json:
        for row in rows:
            print(json.dumps(dataclasses.asdict(row)))
        return
    table = [("ID", "USER", "PREFIX", "CREATED (UTC)", "REVOKED")]
    for row in rows:
        created = time.strftime("%Y-%m-%d %H:%M", time.gmtime(row.created_at))
        table.append((row.id, row.user, row.prefix, created, "yes" if row.revoked else "no"))
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    for line in table:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        )
    if len(table) == 1:
        print("(no keys)", file=sys.stderr)


def _users(args: argparse.Namespace, settings: Settings) -> int:
    """The same rules as signing up on the web (social/accounts.py)."""
    from sqlalchemy.exc import IntegrityError

    from reelforge.db.session import make_engine, session_factory, transaction
    from reelforge.social.accounts import (
        check_handle,
        check_password,
        check_role,
        create_person,
        handle_taken,
        set_role,
    )

    if args.users_command == "role":
        check_role(args.role)
        with transaction(session_factory(make_engine(settings))) as session:
            set_role(session, args.handle, args.role)
        print(f"@{args.handle} is now {args.role}", file=sys.stderr)
        return 0
    check_handle(args.handle)  # before asking for a password
    password = _new_password(args.password_stdin)
    check_password(password)
    role = "admin" if args.admin else "moderator" if args.moderator else "user"
    try:
        with transaction(session_factory(make_engine(settings))) as session:
            user = create_person(session, args.handle, password, role=role)
    except IntegrityError:  # someone took the handle at the same moment
        raise handle_taken(args.handle) from None
    print(f"created @{user.name} ({role})", file=sys.stderr)
    print(user.id)
    return 0


def _new_password(from_stdin: bool) -> str:
    """The password from stdin (one line; its newline is not part of it), or asked for
    twice on the terminal."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise InvalidRequestError(
            "password: give --password-stdin, or run in a terminal to be asked for it",
            param="password",
        )
    import getpass

    password = getpass.getpass("password: ")
    if getpass.getpass("again: ") != password:
        raise InvalidRequestError("password: the two entries differ", param="password")
    return password


def _eval_pairs(args: argparse.Namespace, settings: Settings, engine: str) -> int:
    """`reelforge eval --suite pairs`: the pair test (eval/pairs.py), with the blank and
    noise peers judged in the same run."""
    from reelforge import pipeline
    from reelforge.deployment import Deployment
    from reelforge.eval.pairs import PAIRS, run_pairs

    pairs = PAIRS[: args.n] if args.n is not None else PAIRS
    # As for the suites: the visible mark would be judged as part of the picture.
    deployment = Deployment(settings.model_copy(update={"visible_watermark": False}))

    def make_clip(prompt: str, seed: int, path: Path) -> None:
        request = Request(
            prompt=prompt, seconds=args.seconds, size=args.size, seed=seed, engine=engine
        )
        pipeline.generate(request, path, deployment=deployment)

    def progress(done: int, total: int, current: str) -> None:
        if not args.quiet:
            print(f"pairs {done}/{total} {current}", file=sys.stderr, flush=True)

    report = run_pairs(make_clip, args.out, pairs, progress, (args.size, args.seconds, 24))
    summary = report["summary"]
    low, high = summary["ci95"]
    peers = ", ".join(f"{k} {v['share']:.2f}" for k, v in report["peers"].items())
    print(
        f"pairs told apart by {engine}: {summary['told_apart']} of {summary['pairs']} "
        f"({summary['share']:.2f}, 95 % interval {low:.2f}-{high:.2f}; usable from 0.75); "
        f"peers: {peers}; report in {args.out}",
        file=sys.stderr,
    )
    print(args.out / "pairs.json")
    return 0


def _eval(args: argparse.Namespace, settings: Settings) -> int:
    from reelforge.engines import get_engine
    from reelforge.errors import InvalidRequest
    from reelforge.eval.runner import EvalOptions, run_suite
    from reelforge.eval.suite import (
        default_everyday_path,
        default_suite_path,
        is_everyday_suite,
        load_everyday_suite,
        load_suite,
    )

    engine = args.engine or settings.default_engine
    get_engine(engine, settings)  # an unknown engine fails now, not after loading the suite
    Request(prompt="check", seconds=args.seconds, size=args.size, engine=engine)
    if args.suite is not None and str(args.suite) == "pairs" and not args.suite.exists():
        return _eval_pairs(args, settings, engine)
    suite = args.suite or default_suite_path()
    if str(suite) == "everyday" and not suite.exists():
        suite = default_everyday_path()
    prompts = load_everyday_suite(suite) if is_everyday_suite(suite) else load_suite(suite)
    if args.n is not None:
        if args.n < 1:
            raise InvalidRequest(f"n must be at least 1, got {args.n}", param="n")
        prompts = prompts[: args.n]
    out = args.out
    if out.exists() and not out.is_dir():
        raise InvalidRequest(f"out {str(out)!r} exists and is not a directory", param="out")
    options = EvalOptions(
        engine=engine,
        seconds=args.seconds,
        size=args.size,
        keep_clips=args.keep_clips,
        cameos=args.cameos,
    )
    if args.quiet:
        report = run_suite(prompts, options, out, settings, resume=args.resume)
    elif not sys.stderr.isatty():  # a log file: one line a prompt, with the time left
        report = run_suite(prompts, options, out, settings, _progress_lines(), args.resume)
    else:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        columns = (TextColumn("{task.description:<16}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, transient=True, console=Console(stderr=True)) as bar:
            task = bar.add_task("eval", total=len(prompts))

            def on_progress(done: int, total: int, current: str) -> None:
                bar.update(task, completed=done, description=current)

            report = run_suite(prompts, options, out, settings, on_progress, args.resume)
    summary = report["summary"]
    cameo = (
        f"; cameo identity {summary['cameo_identity']:.3f} of {summary['cameo_clips']} clips"
        if summary["cameo_identity"] is not None
        else ""
    )
    if summary.get("everyday_prompts"):
        drawn, verbs = summary["things_drawn_median"], summary["verbs_realised_mean"]
        scores = (
            f"things drawn {'n/a' if drawn is None else f'{drawn:.3f}'} (median), verbs "
            f"realised {'n/a' if verbs is None else f'{verbs:.3f}'} (mean)"
        )
    else:
        scores = f"faithfulness {summary['faithfulness']:.3f}"
    print(
        f"evaluated {len(prompts)} prompts with {engine}: {scores}{cameo}; report in {out}",
        file=sys.stderr,
    )
    print(out / "summary.md")
    return 0


def _progress_lines() -> Callable[[int, int, str], None]:
    """An eval progress callback that writes one plain line per prompt to stderr: done and
    total, the prompt now starting, the time taken and an estimate of the time left (from
    the prompts measured in this run; those a resumed run skips take no time)."""
    started = last = time.monotonic()
    durations: list[float] = []

    def on_progress(done: int, total: int, current: str) -> None:
        nonlocal last
        now = time.monotonic()
        if done and now - last > 0.05:
            durations.append(now - last)
        last = now
        left = (
            f", about {sum(durations) / len(durations) * (total - done) / 60:.0f} min left"
            if durations
            else ""
        )
        print(
            f"eval {done}/{total} {current} ({(now - started) / 60:.1f} min{left})",
            file=sys.stderr,
            flush=True,
        )

    return on_progress


def _with_progress_bar(request: Request, output: Path, settings: Settings) -> Result:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from reelforge import pipeline

    columns = (
        TextColumn("{task.description:<10}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task("starting", total=1.0)

        def on_progress(stage: str, fraction: float) -> None:
            _after_start(stage, fraction)
            bar.update(task, completed=fraction, description=stage)

        return pipeline.generate(request, output, progress=on_progress, settings=settings)


def _after_start(stage: str, fraction: float) -> None:
    """A generate's progress: the collector back on once the engine has started."""
    if stage != "recaption":
        _started()


def _login_name() -> str | None:
    """The user's login name as a handle, or None (the pipeline's default) if unknown."""
    import getpass

    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        return None
    return name if name.isprintable() and " " not in name and 0 < len(name) <= 32 else None


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    """Print what the file's provenance says. Exit 0 whatever it says (the report is the
    answer); a file that cannot be read is an error (one line, non-zero)."""
    from reelforge.deployment import Deployment
    from reelforge.provenance.verify import verify_file

    report = verify_file(args.file, settings, registry=Deployment(settings).registry)
    if args.json:
        print(json.dumps(report.public(), indent=2))
        return 0
    public = report.public()
    c2pa = public["c2pa"]
    print(f"{args.file}: {report.summary}")
    print(f"  container: {public['container']}")
    print(f"  C2PA: {c2pa['state']}" + (f" (signer {c2pa['signer']})" if c2pa["signer"] else ""))
    for problem in c2pa["problems"]:
        print(f"    {problem}")
    if public["media_problem"]:
        print(f"  media: {public['media_problem']}")
    for kind in ("video", "audio"):
        found = public["watermark"][kind]
        if found is None:
            print(f"  {kind} watermark: no {kind} track")
        else:
            state = f"payload {found['payload']}" if found["detected"] else "not found"
            print(f"  {kind} watermark: {state} (p = {found['p_value']:.2g})")
    record = public["record"]
    if record is not None:
        print(
            f"  record: video {record['video_id'] or '(local clip)'} by "
            f"{record['creator'] or 'unknown'}, engine {record['engine']}"
            + (f", remix of {record['parent_video_id']}" if record["parent_video_id"] else "")
        )
    elif report.payload is not None:
        print(f"  record: payload {report.payload} is not in this installation's registry")
    consent = (c2pa["consent"] if c2pa["state"] in ("Valid", "Trusted") else None) or {}
    for cameo in consent.get("cameos", []):
        print(
            f"  consent: cameo {cameo.get('cameo_id')} (@{cameo.get('handle')}) cast under "
            f"grant {cameo.get('grant')}, policy {consent.get('policy_version')}"
        )
    return 0


def _rights(args: argparse.Namespace, settings: Settings) -> int:
    from reelforge.db.policy import DatabaseRightsRegistry
    from reelforge.deployment import Deployment

    registry = DatabaseRightsRegistry(Deployment(settings).factory)
    if args.rights_command == "register":
        entry = registry.register(
            args.holder, args.name, kind=args.kind, aliases=args.alias, cased=args.cased
        )
        print(f"registered {entry.kind} {entry.name!r} for {entry.holder}")
    else:
        registry.grant_licence(args.holder, args.to, args.name)
        print(f"{args.to} may now use {args.name!r}")
    return 0


def _cameo(args: argparse.Namespace, settings: Settings) -> int:
    from reelforge.db.policy import EVERYONE, DatabaseConsent
    from reelforge.deployment import Deployment
    from reelforge.safety.figures import read_public_figures
    from reelforge.safety.resources import FIGURES_PATH

    factory = Deployment(settings).factory
    if args.cameo_command == "audit":
        return _cameo_audit(args.handle, factory)
    consent = DatabaseConsent(factory)
    if args.cameo_command == "verify-figure":
        wanted = args.figure.strip().casefold()
        figures = read_public_figures(FIGURES_PATH)
        match = next(
            (
                f
                for f in figures
                if wanted in (f["key"], f["name"].casefold())
                or wanted in (a.casefold() for a in f.get("aliases", []))
            ),
            None,
        )
        if match is None:
            raise InvalidRequestError(
                f"figure {args.figure!r} is not in the public figures list", param="figure"
            )
        consent.verify_figure(args.user, match["key"])
        print(f"{args.user} is verified as {match['name']} ({match['key']})")
        return 0
    grantee = EVERYONE if args.to.strip().casefold() == "everyone" else args.to.strip()
    if args.cameo_command == "allow":
        consent.allow(args.user, grantee)
        print(f"{args.to} may now use {args.user}'s cameos")
    else:
        consent.revoke(args.user, grantee)
        print(f"{args.to} may no longer use {args.user}'s cameos")
    return 0


def _cameo_audit(handle: str, factory: sessionmaker[Session]) -> int:
    """Print the consent log's size and "chain intact", or each break (exit 1)."""
    from sqlalchemy import select

    from reelforge.cameos import consent_log
    from reelforge.db.models import Cameo

    handle = handle.strip().lower().removeprefix("@")
    with factory() as db:
        cameo = db.scalar(select(Cameo).where(Cameo.handle == handle))
        if cameo is None:
            raise InvalidRequestError(f"no cameo @{handle}", param="handle")
        chain = consent_log.entries(db, cameo.id)
        problems = consent_log.verify_chain(chain)
    state = " (deleted)" if cameo.deleted_at is not None else ""
    print(f"@{handle}{state}: {len(chain)} consent log entries")
    for problem in problems:
        print(f"break: {problem}")
    if problems:
        print(f"chain broken: {len(problems)} problem(s)")
        return 1
    print("chain intact")
    return 0


def run() -> NoReturn:
    """The `reelforge` command: `main`, then exit without tearing the interpreter down.

    Freeing every loaded module (numpy, skia, SQLAlchemy, the policy's tables) took about
    0.15 s at the end of each `reelforge generate`. When nothing but this thread is left,
    the exit handlers run and the streams are flushed, then the process ends at once; with
    other threads alive it exits the ordinary way, which waits for them."""
    code = main()
    if threading.active_count() == 1:
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
