"""The text-encoder interface the text stage uses: check a file pair, then make a prompt encoder.

Each kind (Gemma 3 for LTX-2 / 2.3, Gemma 4 for LTX-2.5) is one entry of `TEXT_ENCODERS`
(`ltxmlx.text_encoders`). Both return the same `PromptEncoder`: batched, de-duplicated, cached on
disk under an identity covering every input of the embeddings, the models freed after use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import mlx.core as mx

from ltxmlx.text_encoders.gemma.prompt_encoder import PromptEncoder


class CheckFn(Protocol):
    def __call__(self, text_encoder: str | Path, transformer: str | Path) -> None: ...


class PromptEncoderFn(Protocol):
    def __call__(
        self,
        text_encoder: str | Path,
        transformer: str | Path,
        *,
        cache_dir: str | Path | None,
        dtype: mx.Dtype,
        max_length: int,
        batch_size: int,
        quantization: str = "none",
        quant_cache_dir: str | Path | None = None,
    ) -> PromptEncoder: ...


class QuantizedFilesFn(Protocol):
    def __call__(self, text_encoder: str | Path, transformer: str | Path, dtype: mx.Dtype, quantization: str,
                 quant_cache_dir: str | Path | None) -> dict[str, Path]: ...


@dataclass(frozen=True)
class TextEncoderKind:
    """name: registry key; summary: what `text_encoder` must be.

    check(text_encoder, transformer): reads headers / configs only (no weights) and raises one clear
        CheckpointError / ConfigError when the pair cannot work together (wrong kind of file, version
        mismatch).
    load(text_encoder, transformer, *, cache_dir, dtype, max_length, batch_size, quantization,
        quant_cache_dir): the pair's PromptEncoder; the models load on the first prompt-cache miss
        (quantized while loading when asked, through the quantized-weights cache).
    quantized_files(text_encoder, transformer, dtype, quantization, quant_cache_dir): that cache's files,
        {component: path} (records; empty when not quantizing or not caching).
    """

    name: str
    summary: str
    check: CheckFn
    load: PromptEncoderFn
    quantized_files: QuantizedFilesFn

    def prompt_encoder(self, text_encoder: str | Path, transformer: str | Path, **options) -> PromptEncoder:
        """`check` the pair (headers only), then `load` its PromptEncoder with `options`."""
        self.check(text_encoder, transformer)
        return self.load(text_encoder, transformer, **options)
