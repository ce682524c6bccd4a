"""Data files shipped with the policy, and the text tools built from them, loaded once per
process (shipped.py) and only when first needed."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from reelforge.errors import ConfigError
from reelforge.recaption.embedding import SentenceEncoder, default_model_dir
from reelforge.safety.figures import FigureIndex, read_public_figures
from reelforge.safety.lexicon import Lexicon, lexicon_words, read_lexicon
from reelforge.safety.normalize import Normalizer
from reelforge.shipped import shared

__all__ = [
    "ADAPTER_PATH",
    "CLASSIFIER_PATH",
    "DATA_DIR",
    "EXEMPLARS_PATH",
    "FIGURES_PATH",
    "LEXICON_PATH",
    "TextTools",
    "file_digest",
    "policy_encoder",
    "text_tools",
]

DATA_DIR = Path(__file__).resolve().parent / "data"
LEXICON_PATH = DATA_DIR / "lexicon.json"
FIGURES_PATH = DATA_DIR / "public_figures.json"
EXEMPLARS_PATH = DATA_DIR / "exemplars.json"
CLASSIFIER_PATH = DATA_DIR / "classifier.npz"
# The sentence encoder's tuned tensors (tune.py): the classifier reads MiniLM through them.
ADAPTER_PATH = DATA_DIR / "encoder_adapter.safetensors"


@dataclass(frozen=True)
class TextTools:
    normalizer: Normalizer
    lexicon: Lexicon
    figures: FigureIndex


def file_digest(*paths: Path) -> str:
    """sha256 over the bytes of `paths`, in order (first 16 hex digits)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def encoder_words(model_dir: Path | None) -> frozenset[str]:
    """Whole words in the sentence encoder's WordPiece vocabulary (about 23k common English
    words, numbers and codes such as "3d"): tokens the normaliser must never 'repair'."""
    path = (model_dir or default_model_dir()) / "tokenizer.json"
    try:
        vocab = json.loads(path.read_text(encoding="utf-8"))["model"]["vocab"]
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"cannot read the tokenizer vocabulary {path}: {exc}") from exc
    return frozenset(w for w in vocab if w.isalnum() and w.isascii())


def build_text_tools(model_dir: Path | None, figures_path: Path | None) -> TextTools:
    lexicon_data = read_lexicon(LEXICON_PATH)
    normalizer = Normalizer(encoder_words(model_dir), lexicon_words(lexicon_data))
    figures = read_public_figures(figures_path or FIGURES_PATH)
    return TextTools(
        normalizer, Lexicon(lexicon_data, normalizer), FigureIndex(figures, normalizer)
    )


def text_tools(model_dir: Path | None = None, figures_path: Path | None = None) -> TextTools:
    """The normaliser, lexicon and public-figure index (one per process, built on first
    use)."""
    return shared(
        "policy text tools",
        (model_dir, figures_path),
        lambda: build_text_tools(model_dir, figures_path),
    )


def policy_encoder(model_dir: Path | None = None) -> SentenceEncoder:
    """The sentence encoder the classifier reads: MiniLM with the policy's tuned adapter
    (one per process, built on first use; other users of MiniLM keep the plain one)."""
    return shared(
        "policy sentence encoder",
        model_dir,
        lambda: SentenceEncoder.load(model_dir, adapter=ADAPTER_PATH),
    )
