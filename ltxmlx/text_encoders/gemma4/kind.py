"""The Gemma 4 text-encoder kind (LTX-2.5): the packed text-encoder file + the transformer file."""

from __future__ import annotations

import json
from pathlib import Path


from ltxmlx.errors import CheckpointError
from ltxmlx.text_encoders.gemma4.loading import quantized_gemma4_files
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



GEMMA4 = TextEncoderKind(
    name="gemma4",
    summary="the packed Gemma 4 text-encoder file with its projection (LTX-2.5)",
    check=check,
    load=load_gemma4_prompt_encoder,
    quantized_files=quantized_gemma4_files,
)
