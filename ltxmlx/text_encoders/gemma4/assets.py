"""What a packed Gemma 4 text-encoder file carries besides weights: its config and its tokenizer.

The official packer stores the Hugging Face config JSON as metadata `gemma_config`, `tokenizer.json`
as the uint8 tensor `tokenizer_json` and each sidecar file (tokenizer_config.json, ...) as a uint8
tensor `hf_asset__<name>`; older packs keep small sidecars as metadata strings instead. The
tokenizer is rebuilt from those bytes (nothing is downloaded) with the official encode conventions:
<bos> first, no <eos>, left padded to the max length (1024 by default).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ltxmlx.errors import CheckpointError
from ltxmlx.text_encoders.gemma.tokenizer import TOKENIZER_MAX_LENGTH, GemmaTokenizer

log = logging.getLogger(__name__)

GEMMA_CONFIG_KEY = "gemma_config"
TOKENIZER_JSON_KEY = "tokenizer_json"
ASSET_PREFIX = "hf_asset__"
TOKENIZER_CONFIG = "tokenizer_config.json"
# Sidecars that older packs may store as metadata strings.
_METADATA_SIDECARS = (TOKENIZER_CONFIG, "processor_config.json", "chat_template.jinja", "generation_config.json")
# tokenizer_config.json entries that are not PreTrainedTokenizerFast constructor arguments.
_TOKENIZER_CONFIG_SKIP = frozenset({
    "tokenizer_class", "auto_map", "model_max_length", "backend", "is_local", "local_files_only",
    "processor_class", "added_tokens_decoder",
})


def _bytes(array: np.ndarray) -> bytes:
    # Some packs store the bytes as int8.
    return array.astype(np.uint8, copy=False).tobytes()


@dataclass(frozen=True)
class PackedAssets:
    """The config and tokenizer bytes of one packed text-encoder file."""

    path: Path
    gemma_config: dict
    tokenizer_json: bytes
    sidecars: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def read(cls, path: str | Path) -> PackedAssets:
        from safetensors import safe_open

        path = Path(path)
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            if GEMMA_CONFIG_KEY not in meta:
                raise CheckpointError(
                    f"{path}: no {GEMMA_CONFIG_KEY!r} metadata; not a packed Gemma 4 text-encoder file "
                    f"(metadata keys: {sorted(meta) or 'none'})"
                )
            try:
                config = json.loads(meta[GEMMA_CONFIG_KEY])
            except json.JSONDecodeError as e:
                raise CheckpointError(f"{path}: metadata {GEMMA_CONFIG_KEY!r} is not JSON ({e})") from e
            keys = set(f.keys())
            if TOKENIZER_JSON_KEY not in keys:
                raise CheckpointError(
                    f"{path}: no {TOKENIZER_JSON_KEY!r} tensor; the packed file must embed its tokenizer"
                )
            tokenizer = _bytes(f.get_tensor(TOKENIZER_JSON_KEY))
            sidecars = {
                k[len(ASSET_PREFIX):]: _bytes(f.get_tensor(k)) for k in sorted(keys) if k.startswith(ASSET_PREFIX)
            }
        for name in _METADATA_SIDECARS:
            if name not in sidecars and name in meta:
                sidecars[name] = meta[name].encode()
        return cls(path, config, tokenizer, sidecars)

    def tokenizer_config(self) -> dict:
        if TOKENIZER_CONFIG not in self.sidecars:
            raise CheckpointError(
                f"{self.path}: no {TOKENIZER_CONFIG} (tensor {ASSET_PREFIX}{TOKENIZER_CONFIG} or metadata); "
                "the tokenizer's special tokens cannot be known"
            )
        return json.loads(self.sidecars[TOKENIZER_CONFIG])

    def tokenizer_identity(self) -> str:
        """A hash of exactly the bytes that decide the token ids."""
        h = hashlib.sha256(self.tokenizer_json)
        h.update(self.sidecars.get(TOKENIZER_CONFIG, b""))
        return h.hexdigest()

    def tokenizer(self, max_length: int = TOKENIZER_MAX_LENGTH) -> GemmaTokenizer:
        """The embedded tokenizer through transformers, with the official encode conventions."""
        from tokenizers import Tokenizer
        from transformers import PreTrainedTokenizerFast

        kwargs = {k: v for k, v in self.tokenizer_config().items() if k not in _TOKENIZER_CONFIG_SKIP}
        tok = PreTrainedTokenizerFast(
            tokenizer_object=Tokenizer.from_buffer(self.tokenizer_json), model_max_length=max_length, **kwargs
        )
        log.info("tokenizer from %s (vocab %d, max length %d)", self.path.name, len(tok), max_length)
        return GemmaTokenizer(tok, max_length, identity=self.tokenizer_identity())
