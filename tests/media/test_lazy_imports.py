"""`reelforge.media` loads a submodule on first use: rendering, training and the dit
engine run where PyAV is not installed (the GPU machine's image, docs/TRAINING.md)."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_the_engines_and_training_do_not_import_pyav():
    code = (
        "import sys\n"
        "import reelforge.engines.dit.engine, reelforge.engines.dit.train\n"
        "import reelforge.engines.dit.references, reelforge.engines.sim\n"
        "from reelforge.media import resample\n"
        "assert 'av' not in sys.modules, 'PyAV was imported'\n"
        "from reelforge.media import encode_mp4\n"
        "assert 'av' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_an_unknown_name_is_an_attribute_error():
    import reelforge.media

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        reelforge.media.nope  # noqa: B018
