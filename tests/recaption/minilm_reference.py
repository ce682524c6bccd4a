"""Writes tests/recaption/data/minilm_reference.npy: what sentence-transformers 6.2.0 (torch
2.13.0, CPU) computes for test_embedding.SENTENCES with the shipped all-MiniLM-L6-v2, the
reference the numpy encoder is held to. sentence-transformers is not installed by reelforge;
to rewrite the file:

    .venv/bin/pip install --no-deps sentence-transformers==6.2.0
    .venv/bin/python -m tests.recaption.minilm_reference
"""

from __future__ import annotations

import numpy as np
from tests.recaption.test_embedding import REFERENCE_PATH, SENTENCES

from reelforge.recaption.embedding import default_model_dir


def main() -> None:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(default_model_dir()), device="cpu")
    vectors = model.encode(SENTENCES, convert_to_numpy=True).astype(np.float32)
    REFERENCE_PATH.parent.mkdir(parents=True, exist_ok=True)
    np.save(REFERENCE_PATH, vectors)
    print(f"wrote {REFERENCE_PATH} {vectors.shape}, max_seq_length {model.max_seq_length}")


if __name__ == "__main__":
    main()
