"""`python -m reelforge.assets install [DIR]`: install the sim asset library (bin/setup)."""

from __future__ import annotations

import sys
from pathlib import Path

from reelforge.assets.install import default_assets_dir, install
from reelforge.errors import ReelforgeError


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "install" or len(argv) > 2:
        print("usage: python -m reelforge.assets install [DIR]", file=sys.stderr)
        return 2
    target = Path(argv[1]) if len(argv) == 2 else default_assets_dir()
    try:
        install(target)
    except ReelforgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"assets: {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
