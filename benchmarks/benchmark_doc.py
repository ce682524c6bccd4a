"""Each benchmark owns one marked section of docs/BENCHMARKS.md and rewrites only that."""

from __future__ import annotations

from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "BENCHMARKS.md"


def write_section(begin: str, end: str, table: str) -> None:
    """Replace the text between `begin` and `end` (the table includes both markers), or
    append the table if the section is new."""
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n\n"
    if begin in text:
        head, rest = text.split(begin, 1)
        text = head + table + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + table + "\n"
    DOC.write_text(text)
