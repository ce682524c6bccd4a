"""`python -m reelforge.assets install [DIR]`: install the sim asset library and embed its
names (bin/setup)."""

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
        # The drawings' name embeddings (MiniLM), saved beside them: a process that plans
        # by meaning then reads them instead of computing them.
        from reelforge.recaption.assets import asset_matcher

        asset_matcher(target).warm_up()
    except ReelforgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"assets: {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
