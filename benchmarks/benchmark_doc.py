"""Each benchmark owns one marked section of docs/BENCHMARKS.md and rewrites only that."""

from __future__ import annotations

from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "BENCHMARKS.md"


def write_section(begin: str, end: str, table: str, doc: Path = DOC) -> None:
    """Replace the text between `begin` and `end` (the table includes both markers), or
    append the table if the section is new."""
    text = doc.read_text() if doc.exists() else "# Benchmarks\n\n"
    if begin in text:
        head, rest = text.split(begin, 1)
        text = head + table + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + table + "\n"
    doc.write_text(text)
