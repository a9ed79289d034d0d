"""The Gemma 4 text-encoder kind (LTX-2.5): the packed text-encoder file + the transformer file."""

from __future__ import annotations

import json
from pathlib import Path

import mlx.core as mx

from ltxmlx.errors import CheckpointError
from ltxmlx.text_encoders.gemma.prompt_encoder import PromptEncoder
from ltxmlx.text_encoders.gemma.tokenizer import TOKENIZER_MAX_LENGTH
from ltxmlx.text_encoders.gemma4.loading import quantized_gemma4_file
from ltxmlx.text_encoders.gemma4.loading import check_packed_pair, load_gemma4_prompt_encoder
from ltxmlx.text_encoders.kind import TextEncoderKind


def check(text_encoder: str | Path, transformer: str | Path) -> None:
    """A packed Gemma 4 file with projection and tokenizer, matching the transformer's Gemma version."""
    path = Path(text_encoder)
    if not path.exists():
        raise CheckpointError(f"{path}: Gemma 4 text encoder not found")
    if path.is_dir():
        config_file = path / "config.json"
        model_type = json.loads(config_file.read_text()).get("model_type") if config_file.is_file() else None
        holds = f"a Hugging Face {model_type!r} folder" if model_type else "a folder"
        raise CheckpointError(
            f"{path} is {holds}; LTX-2.5 needs the packed Gemma 4 text-encoder file "
            "(gemma4-12b-with-proj-ltx-2.5-*.safetensors)"
        )
    check_packed_pair(path, transformer)


def prompt_encoder(
    text_encoder: str | Path,
    transformer: str | Path,
    *,
    cache_dir: str | Path | None = None,
    dtype: mx.Dtype = mx.bfloat16,
    max_length: int = TOKENIZER_MAX_LENGTH,
    batch_size: int = 8,
    quantization: str = "none",
    quant_cache_dir: str | Path | None = None,
) -> PromptEncoder:
    check(text_encoder, transformer)
    return load_gemma4_prompt_encoder(text_encoder, transformer, cache_dir=cache_dir, dtype=dtype,
                                      max_length=max_length, batch_size=batch_size, quantization=quantization,
                                      quant_cache_dir=quant_cache_dir)


GEMMA4 = TextEncoderKind(
    name="gemma4",
    summary="the packed Gemma 4 text-encoder file with its projection (LTX-2.5)",
    check=check,
    prompt_encoder=prompt_encoder,
    quantized_file=quantized_gemma4_file,
)
