"""The API docs at `/docs`, served from this machine: swagger-ui from a local copy.

FastAPI's own `/docs` loads swagger-ui's script and style from a CDN, so offline (and on
any instance whose users must not be tracked by a third host) it is a blank page. Instead
`bin/setup` runs `python -m reelforge.service.api_docs install`, which fetches the npm
package `swagger-ui-dist` at a pinned version with `npm pack`, checks its sha512 against
the integrity recorded here, and unpacks the two files the page needs (plus the licence)
into the virtual environment's `share/reelforge/swagger-ui` — the same way the sim's
drawings are installed (`reelforge.assets.install`, docs/ASSETS.md). The web UI serves
that folder at `/static/swagger/`.

Without the copy, `/docs` is still a working page: the web UI's own `docs.js` lists every
route of `/openapi.json` (method, path, summary), with one line naming the install command.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

from reelforge.assets.install import NpmPackage, _pack, _unpack, _verify
from reelforge.errors import ConfigError, ReelforgeError

SWAGGER_UI = NpmPackage(
    name="swagger-ui-dist",
    version="5.35.0",
    integrity="sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3"
    "sU8yVUQ==",
    folder="swagger-ui",
    members=("LICENSE", "NOTICE", "package.json", "swagger-ui-bundle.js", "swagger-ui.css"),
)
STAMP = "installed.json"
INSTALL_COMMAND = "python -m reelforge.service.api_docs install"


def default_swagger_dir() -> Path:
    """Inside the virtual environment, beside the sim's asset library."""
    return Path(sys.prefix) / "share" / "reelforge" / SWAGGER_UI.folder


def is_installed(folder: Path) -> bool:
    stamp = folder / STAMP
    try:
        return bool(json.loads(stamp.read_text()) == {SWAGGER_UI.name: SWAGGER_UI.integrity})
    except (OSError, ValueError):
        return False


def install(folder: Path) -> None:
    """Fetch, verify and unpack swagger-ui-dist; a no-op when this version is there."""
    if is_installed(folder):
        return
    npm = shutil.which("npm")
    if npm is None:
        raise ConfigError("npm is needed to install the API docs' swagger-ui", param="npm")
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent) as work:
        tarball = _pack(npm, SWAGGER_UI, Path(work))
        _verify(tarball, SWAGGER_UI)
        staging = Path(work) / "unpacked"
        _unpack(tarball, SWAGGER_UI, staging)
        (staging / STAMP).write_text(json.dumps({SWAGGER_UI.name: SWAGGER_UI.integrity}))
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "install" or len(argv) > 2:
        print(f"usage: {INSTALL_COMMAND} [DIR]", file=sys.stderr)
        return 2
    target = Path(argv[1]) if len(argv) == 2 else default_swagger_dir()
    try:
        install(target)
    except ReelforgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"swagger-ui: {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
