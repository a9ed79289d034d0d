"""The Gemma 3 text-encoder kind (LTX-2, LTX-2.3): a Hugging Face Gemma 3 folder + the LTX file."""

from __future__ import annotations

import json
from pathlib import Path


from ltxmlx.errors import CheckpointError
from ltxmlx.loader.checkpoint import open_checkpoint
from ltxmlx.text_encoders.compat import GEMMA3_MODEL_TYPES, check_gemma_version
from ltxmlx.text_encoders.gemma.config import Gemma3TextConfig
from ltxmlx.text_encoders.gemma.loading import quantized_gemma_files
from ltxmlx.text_encoders.gemma.loading import load_prompt_encoder
from ltxmlx.text_encoders.kind import TextEncoderKind

# Metadata of a packed single-file text encoder (the LTX-2.5 Gemma 4 file).
_PACKED_CONFIG_KEY = "gemma_config"


def _gemma3_config(text_encoder: str | Path) -> dict:
    path = Path(text_encoder)
    if not path.exists():
        raise CheckpointError(f"{path}: Gemma 3 text encoder not found")
    if path.is_file() and path.suffix == ".safetensors":
        packed = open_checkpoint(path).metadata.get(_PACKED_CONFIG_KEY)
        if isinstance(packed, dict):
            raise CheckpointError(
                f"{path} is a packed {packed.get('model_type')!r} text encoder (gemma_version "
                f"{packed.get('gemma_version')!r}), not the Gemma 3 folder this model needs "
                "(text encoder kind 'gemma4' reads packed files)"
            )
    folder = path if path.is_dir() else path.parent
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise CheckpointError(f"{folder}: no config.json; the Gemma 3 text encoder is a Hugging Face folder")
    try:
        config = json.loads(config_file.read_text())
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{config_file}: not valid JSON ({e})") from e
    if config.get("model_type") not in GEMMA3_MODEL_TYPES:
        raise CheckpointError(
            f"{folder} holds a {config.get('model_type')!r} model, not the Gemma 3 ({' or '.join(GEMMA3_MODEL_TYPES)}) "
            "text encoder this model needs"
        )
    Gemma3TextConfig.from_config(config)
    return config


def check(text_encoder: str | Path, transformer: str | Path) -> None:
    """A Gemma 3 folder, and an LTX file that expects Gemma 3 (headers and config.json only)."""
    config = _gemma3_config(text_encoder)
    ltx = open_checkpoint(transformer)
    check_gemma_version(ltx.metadata, config, text_encoder, ltx.path)



GEMMA3 = TextEncoderKind(
    name="gemma3",
    summary="a Hugging Face Gemma 3 folder (LTX-2, LTX-2.3)",
    check=check,
    load=load_prompt_encoder,
    quantized_files=quantized_gemma_files,
)
