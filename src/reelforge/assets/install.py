"""Install the sim world's drawings from the npm registry: pinned, checksummed, offline after.

The asset library is three npm packages, all MIT-licensed (docs/ASSETS.md):
- `@iconify-json/fluent-emoji-flat`: Microsoft's Fluent Emoji in the flat style, as SVG
  bodies on a 32x32 grid, with a codepoint → name table;
- `emojibase-data`: Unicode CLDR labels, keywords, groups and subgroups of every emoji, in
  English and 27 other languages (non-English prompts are read through these);
- `emojilib`: everyday English keywords per emoji ("frisbee", "trolley", "bull"), which
  CLDR's are sparse in.

`bin/setup` runs `python -m reelforge.assets install`: `npm pack` fetches each tarball at its
pinned version, its sha512 must equal the integrity recorded here (a changed or tampered
tarball stops the install), and the files the catalogue reads are unpacked into the assets
directory, then renamed into place whole. Nothing is fetched at run time: a missing
directory is an error that names this command.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from reelforge.errors import ConfigError


@dataclass(frozen=True)
class NpmPackage:
    name: str
    version: str
    integrity: str  # "sha512-<base64>", as the registry publishes it
    folder: str  # where it is unpacked inside the assets directory
    members: tuple[str, ...]  # path prefixes inside the tarball's `package/` to keep


PACKAGES = (
    NpmPackage(
        name="@iconify-json/fluent-emoji-flat",
        version="1.2.6",
        integrity="sha512-RY47RgPb47fYUiyrA64sIOL0+UU02s29sXpNBbIQRBUlPlfNFTKUmZDERGuxDs/"
        "7yNGWqQYvuaSYM1M4fRXlUw==",
        folder="fluent-emoji-flat",
        members=("icons.json", "chars.json", "info.json", "package.json", "README.md"),
    ),
    NpmPackage(
        name="emojibase-data",
        version="17.0.0",
        integrity="sha512-Yvgb5AWoHViHV/gq1qr5ZAarcBip+B27/ZLRsUJkbgAEaLlZ/fof9g882LTpmEpyhBNEC0m2"
        "SEmItljHsTygjA==",
        folder="emojibase-data",
        members=("LICENSE", "package.json", "meta/groups.json", "*/data.json"),
    ),
    NpmPackage(
        name="emojilib",
        version="4.0.3",
        integrity="sha512-KbWiYre9aRSaPbHrHZIz9zmoM+21LAsK1VFJtnTh1VCtWE/rNMDviGhQTmselFl95dhqtGl"
        "Y22iH0leG5BuW0g==",
        folder="emojilib",
        members=("LICENSE", "package.json", "dist/emoji-en-US.json"),
    ),
)
STAMP = "installed.json"


def default_assets_dir() -> Path:
    """Inside the virtual environment, beside the packages that use it."""
    return Path(sys.prefix) / "share" / "reelforge" / "assets"


def is_installed(assets_dir: Path) -> bool:
    stamp = assets_dir / STAMP
    if not stamp.is_file():
        return False
    try:
        recorded = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    return recorded == {p.name: p.integrity for p in PACKAGES}


def require_installed(assets_dir: Path) -> None:
    if not is_installed(assets_dir):
        raise ConfigError(
            f"the sim asset library is not installed in {assets_dir} "
            "(run bin/setup, or: python -m reelforge.assets install)",
            param="assets_dir",
        )


def install(assets_dir: Path) -> None:
    """Fetch, verify and unpack every package; a no-op when the same versions are there."""
    if is_installed(assets_dir):
        return
    npm = shutil.which("npm")
    if npm is None:
        raise ConfigError("npm is needed to install the sim asset library", param="npm")
    assets_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=assets_dir.parent) as work:
        staging = Path(work) / "assets"
        staging.mkdir()
        for package in PACKAGES:
            tarball = _pack(npm, package, Path(work))
            _verify(tarball, package)
            _unpack(tarball, package, staging / package.folder)
        (staging / STAMP).write_text(json.dumps({p.name: p.integrity for p in PACKAGES}))
        if assets_dir.exists():
            shutil.rmtree(assets_dir)
        staging.rename(assets_dir)


def _pack(npm: str, package: NpmPackage, into: Path) -> Path:
    spec = f"{package.name}@{package.version}"
    done = subprocess.run(
        [npm, "pack", spec, "--pack-destination", str(into), "--json", "--silent"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise ConfigError(f"npm pack {spec} failed: {done.stderr.strip()[-300:]}", param="npm")
    filename = json.loads(done.stdout)[0]["filename"]
    return into / Path(filename).name


def _verify(tarball: Path, package: NpmPackage) -> None:
    digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if f"sha512-{digest}" != package.integrity:
        raise ConfigError(
            f"{package.name}@{package.version}: checksum mismatch "
            f"(expected {package.integrity}, got sha512-{digest})",
            param="integrity",
        )


def _unpack(tarball: Path, package: NpmPackage, folder: Path) -> None:
    folder.mkdir(parents=True)
    with tarfile.open(tarball) as archive:
        for member in archive.getmembers():
            inner = member.name.removeprefix("package/")
            if member.isfile() and any(_matches(inner, pattern) for pattern in package.members):
                archive.extract(member, folder, filter="data")
    for path in list((folder / "package").iterdir()):
        path.rename(folder / path.name)
    (folder / "package").rmdir()


def _matches(path: str, pattern: str) -> bool:
    if pattern.startswith("*/"):
        parts = path.split("/")
        return len(parts) == 2 and parts[1] == pattern[2:]
    return path == pattern
