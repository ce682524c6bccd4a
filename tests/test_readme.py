"""The README's commands exist: every `reelforge ...` command it shows names real
subcommands and options, and every script and file it tells people to run is there.
The guides the README sends people to for the details are read with it."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

from reelforge.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
GUIDES = ("README.md", "docs/ENGINES.md", "docs/API.md", "docs/CONFIGURATION.md")
README = "\n".join((ROOT / name).read_text(encoding="utf-8") for name in GUIDES)


def _commands() -> list[str]:
    """Every `reelforge ...` command line in the README's code blocks (continuations
    joined) and in its inline code spans."""
    found: list[str] = []
    fenced = False
    for line in README.replace("\\\n", " ").splitlines():
        line = line.strip()
        if line.startswith("```"):
            fenced = not fenced
        elif fenced and re.match(r"(\S*/)?reelforge ", line):
            found.append(line)
    for span in re.findall(r"`([^`\n]+)`", README):
        if re.match(r"(\S*/)?reelforge (?:[a-z-]+)", span):
            found.append(span)
    return found


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {flag for action in parser._actions for flag in action.option_strings}


def _check(command: str) -> list[str]:
    """What in `command` the CLI does not know (an empty list when all of it exists)."""
    try:
        words = shlex.split(command, comments=True)
    except ValueError:  # an unbalanced quote in a shortened inline example
        words = command.split()
    words = [w for w in words[1:] if w not in ("&&", ">")]
    parser, path, problems = build_parser(), ["reelforge"], []
    for word in words:
        choices = _subparsers(parser)
        if word.startswith("-"):
            flag = word.split("=", 1)[0]
            if re.fullmatch(r"--?[a-z][a-z0-9-]*", flag) and flag not in _options(parser):
                problems.append(f"{' '.join(path)} has no option {flag}")
        elif choices:
            alternatives = word.split("|")  # "list|retry": one of several
            unknown = [w for w in alternatives if w not in choices]
            if unknown:
                problems += [f"{' '.join(path)} has no command {w!r}" for w in unknown]
                break
            word = alternatives[0]
            parser, path = choices[word], [*path, word]
    return problems


def test_the_readme_shows_many_commands() -> None:
    # The parse above must keep finding them: a README rewritten with another fence
    # style would otherwise pass this file vacuously.
    commands = _commands()
    assert len(commands) >= 20
    assert {c.split()[1] for c in commands} >= {"generate", "serve", "eval", "keys", "verify"}


def test_every_readme_command_and_option_exists() -> None:
    problems = [f"{c!r}: {p}" for c in _commands() for p in _check(c)]
    assert not problems, "\n".join(problems)


def test_the_checker_catches_what_does_not_exist() -> None:
    assert _check("reelforge generate 'x' --frames 3") == [
        "reelforge generate has no option --frames"
    ]
    assert _check("reelforge keys burn") == ["reelforge keys has no command 'burn'"]
    assert _check("reelforge serve --port 8000") == []


def test_every_script_and_file_the_readme_names_exists() -> None:
    paths = set(re.findall(r"(?<![\w/.-])((?:bin|benchmarks|docs|tests|\.ci)/[\w./-]*\w)", README))
    assert len(paths) >= 5
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert not missing, f"the README names files that are not in the repository: {missing}"
