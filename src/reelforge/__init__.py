"""reelforge: open, self-hostable text-to-video with synchronized audio.

The Python entry point is :func:`generate`::

    import reelforge

    result = reelforge.generate("A red ball bounces in a kitchen.", "ball.mp4", seconds=2)
    print(result.video_path)

Importing the package is cheap: the pipeline, its engines and their models load on the
first call.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reelforge.types import Progress, Result

__all__ = ["__version__", "generate"]

__version__ = "0.1.0"


def generate(
    prompt: str,
    output_path: str | Path = "reelforge.mp4",
    *,
    seconds: float | None = None,
    size: str | None = None,
    fps: int | None = None,
    seed: int | None = None,
    engine: str = "sim",
    input_reference: str | Path | None = None,
    creator: str | None = None,
    progress: Progress | None = None,
) -> Result:
    """Make one clip of `prompt` at `output_path` (an .mp4, with a JSON sidecar beside it),
    as `reelforge generate` does, and return what was made.

    Unset options take the CLI's defaults (4 s, 720x1280, 24 fps, a random seed, the
    `sim` engine). Settings come from the environment (``REELFORGE_*``). A bad option
    raises :class:`reelforge.errors.InvalidRequest` naming it (``.param``); a prompt the
    content policy refuses raises :class:`reelforge.safety.ContentPolicyViolation`, with
    its category. `progress`, if given, is called with (stage name, fraction done) as the
    clip is made."""
    from reelforge.deployment import Deployment
    from reelforge.pipeline import generate as run
    from reelforge.types import Request

    options: dict[str, object] = {
        k: v for k, v in (("seconds", seconds), ("size", size), ("fps", fps)) if v is not None
    }
    request = Request(
        prompt=prompt,
        seed=seed,
        engine=engine,
        input_reference=Path(input_reference) if input_reference is not None else None,
        creator=creator,
        **options,  # type: ignore[arg-type]
    )
    return run(
        request, Path(output_path), progress=progress, deployment=Deployment.from_environment()
    )
