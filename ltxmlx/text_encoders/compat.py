"""Which Gemma a transformer file expects: the official version check, from metadata only.

A transformer from LTX-2.4 on declares `gemma_source_checkpoint.gemma_version`, which must equal the
text encoder config's top-level `gemma_version`. Older files (no declaration, `model_version` below
2.4) expect a Gemma 3 encoder. Both errors name the two files and what each holds.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ltxmlx.errors import CheckpointError

log = logging.getLogger(__name__)

# From this model_version on a transformer must declare the Gemma it was trained with.
SOURCE_CHECKPOINT_REQUIRED_SINCE = (2, 4, 0)
# The official check wants "gemma3"; text-only Gemma 3 conversions ("gemma3_text") hold the same model.
GEMMA3_MODEL_TYPES = ("gemma3", "gemma3_text")


def parse_model_version(version: str | None) -> tuple[int, ...]:
    """'2.5.0' -> (2, 5, 0); parsing stops at the first non-numeric part (pre-release tags)."""
    parts = []
    for part in str(version or "").split("."):
        if not part.isdigit():
            break
        parts.append(int(part))
    return tuple(parts)


def expected_gemma_version(transformer_metadata: dict) -> str | None:
    """The `gemma_version` a transformer's metadata declares, or None."""
    source = transformer_metadata.get("gemma_source_checkpoint")
    return source.get("gemma_version") if isinstance(source, dict) else None


def check_gemma_version(
    transformer_metadata: dict, gemma_config: dict, text_encoder: str | Path, transformer: str | Path
) -> None:
    """Raise CheckpointError when the text encoder is not the Gemma the transformer was trained with.

    gemma_config: the encoder's Hugging Face config dict (`model_type`, optional `gemma_version`).
    """
    source = transformer_metadata.get("gemma_source_checkpoint")
    actual = gemma_config.get("gemma_version")
    if source is not None:
        expected = expected_gemma_version(transformer_metadata)
        if expected != actual:
            raise CheckpointError(
                f"Gemma version mismatch: the transformer {transformer} expects gemma_version={expected!r} "
                f"(gemma_source_checkpoint), but the text encoder {text_encoder} has gemma_version={actual!r}"
            )
        return
    model_version = transformer_metadata.get("model_version")
    if parse_model_version(model_version) >= SOURCE_CHECKPOINT_REQUIRED_SINCE:
        if actual is None:
            log.warning("%s: model_version %s declares no gemma_source_checkpoint and %s no gemma_version; "
                        "their compatibility is not checked", transformer, model_version, text_encoder)
            return
        raise CheckpointError(
            f"the transformer {transformer} (model_version {model_version!r}) must declare "
            f"gemma_source_checkpoint.gemma_version, but does not"
        )
    model_type = gemma_config.get("model_type")
    if model_type not in GEMMA3_MODEL_TYPES:
        raise CheckpointError(
            f"the transformer {transformer} (model_version {model_version!r}, no gemma_source_checkpoint) "
            f"expects a Gemma 3 text encoder, but {text_encoder} holds model_type={model_type!r}"
        )
