"""The policy's tuned encoder: the adapter `tune.py` trains is applied exactly by the numpy
encoder the policy runs, and the shipped one is small and in use."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from reelforge.errors import ConfigError
from reelforge.recaption.embedding import SentenceEncoder, shared_encoder, with_adapter
from reelforge.safety.resources import ADAPTER_PATH, policy_encoder
from reelforge.safety.tune import TuneConfig, TunedLayer, _pooled


@pytest.fixture(scope="module")
def weights() -> dict[str, np.ndarray]:
    encoder = shared_encoder(None)
    stored = load_file(str(encoder.model_dir / "model.safetensors"))
    return {k: v.astype(np.float32) for k, v in stored.items() if v.dtype.kind == "f"}


def test_with_adapter_adds_low_rank_updates_and_replaces_whole_tensors() -> None:
    base = {"w": np.ones((3, 4), np.float32), "b": np.zeros(3, np.float32)}
    a, b = np.arange(8, dtype=np.float32).reshape(2, 4), np.full((3, 2), 0.5, np.float32)
    merged = with_adapter(base, {"w.lora_a": a, "w.lora_b": b, "b": np.ones(3, np.float16)})
    np.testing.assert_allclose(merged["w"], 1 + b @ a)
    np.testing.assert_array_equal(merged["b"], np.ones(3))
    assert base["w"].sum() == 12  # the caller's weights are untouched


@pytest.mark.parametrize(
    ("adapter", "message"),
    [
        ({"x": np.ones(3, np.float32)}, "unknown tensor 'x'"),
        ({"w.lora_a": np.ones((2, 4), np.float32)}, "lacks w.lora_b"),
        ({"b": np.ones(5, np.float32)}, "b is (5,)"),
        ({"w.lora_a": np.ones((2, 4)), "w.lora_b": np.ones((1, 2))}, "w is (1, 4)"),
        ({"w.lora_a": np.ones((2, 4)), "w.lora_b": np.ones((3, 3))}, "do not multiply"),
    ],
)
def test_with_adapter_refuses_what_does_not_fit(adapter: dict, message: str) -> None:
    base = {"w": np.ones((3, 4), np.float32), "b": np.zeros(3, np.float32)}
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        with_adapter(base, adapter)


def test_the_trained_layers_and_the_numpy_encoder_agree(weights: dict[str, np.ndarray]) -> None:
    """Training (torch) and inference (numpy, through `with_adapter`) compute the same
    embedding for the same tuned tensors, so what is trained is what runs."""
    encoder = shared_encoder(None)
    config = TuneConfig(rank=4)
    layers = [
        TunedLayer(weights, f"encoder.layer.{i}.", encoder.num_heads, config) for i in range(6)
    ]
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for layer in layers:  # as if trained: nonzero updates, biases and norms moved
            for p in [*layer.low_rank.values(), *layer.whole.values()]:
                p.add_(0.02 * torch.randn(p.shape, generator=generator))
    texts = ["a chef flips a pancake", "two cars crash at an intersection in the rain"]
    with torch.no_grad():
        trained = _pooled(
            torch.nn.ModuleList(layers),
            [torch.from_numpy(t) for t in encoder.token_embeddings(texts[:1])],
        )
        second = _pooled(
            torch.nn.ModuleList(layers),
            [torch.from_numpy(t) for t in encoder.token_embeddings(texts[1:])],
        )
    adapter = {k: v for layer in layers for k, v in layer.adapter().items()}
    tuned = SentenceEncoder(
        tokenizer=encoder._tokenizer,
        weights=with_adapter(weights, adapter),
        config={"hidden_size": 384, "num_attention_heads": 12, "num_hidden_layers": 6},
        max_seq_length=encoder.max_seq_length,
        model_dir=encoder.model_dir,
    )
    served = tuned.encode(texts)
    np.testing.assert_allclose(served[0], trained[0].numpy(), atol=2e-4)
    np.testing.assert_allclose(served[1], second[0].numpy(), atol=2e-4)
    assert float(served[0] @ encoder.encode(texts[:1])[0]) < 0.9999  # the adapter took effect


def test_the_shipped_adapter_is_small_and_the_policy_reads_through_it() -> None:
    assert ADAPTER_PATH.stat().st_size < 2_000_000
    adapter = load_file(str(ADAPTER_PATH))
    ranks = {v.shape[0] for k, v in adapter.items() if k.endswith(".lora_a")}
    assert ranks == {16} and len([k for k in adapter if k.endswith(".lora_a")]) == 36
    text = ["a red ball bounces across a kitchen floor"]
    tuned, plain = policy_encoder().encode(text)[0], shared_encoder(None).encode(text)[0]
    assert 0.3 < float(tuned @ plain) < 0.9999
