"""Optional parts of reelforge and the packages each needs.

The base install (`requirements-runtime.lock`, what `bin/quickstart` installs) generates and
serves clips with the sim engine. Cameo and character face checks, the learned engines and
the benchmarks' plots need more; `bin/setup` installs all of it (`requirements.lock`). A
feature whose packages are missing answers with `NotInstalled`, naming the extra, instead
of an ImportError from deep inside it.
"""

from __future__ import annotations

import importlib.util

from reelforge.errors import ConfigError

__all__ = ["EXTRAS", "NotInstalled", "require"]

# extra -> the importable modules it provides (pyproject.toml's optional dependencies).
EXTRAS: dict[str, tuple[str, ...]] = {
    "cameos": ("torch", "facenet_pytorch", "pocketsphinx"),
    # A learned engine's clips are transcribed (media/transcribe.py) for the clip check.
    "dit": ("torch", "pocketsphinx"),
    "ltx2": ("torch", "diffusers", "transformers", "accelerate", "pocketsphinx"),
    "bench": ("matplotlib",),
}


class NotInstalled(ConfigError):
    """A feature's optional packages are not installed on this machine. The API answers
    503 with the message, which says nothing but which feature and packages."""

    status = 503
    public = True


def require(extra: str, feature: str) -> None:
    """Raise NotInstalled, naming `feature` and `extra`, unless every module of `extra`
    can be imported."""
    missing = [name for name in EXTRAS[extra] if importlib.util.find_spec(name) is None]
    if missing:
        raise NotInstalled(
            f"{feature} is not available here: it needs reelforge's `{extra}` extra "
            f"({', '.join(missing)} not installed; bin/setup installs every extra)",
            code="not_installed",
        )
