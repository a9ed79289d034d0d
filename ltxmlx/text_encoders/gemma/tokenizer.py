"""Gemma tokenizer with the official LTX conventions, loaded through transformers.

Text is stripped, a leading <bos> ensured, no EOS added, truncated and LEFT-padded to `max_length`
(1024 for the real model) with the pad id (the EOS id when the tokenizer has no pad token).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from ltxmlx.errors import LtxmlxError

log = logging.getLogger(__name__)

# The official text length (TOKENIZER_MAX_LENGTH): every prompt becomes 1024 positions.
TOKENIZER_MAX_LENGTH = 1024
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model")


class TokenizerNotFoundError(LtxmlxError):
    """No usable tokenizer files in the given folder or the Hugging Face cache."""


class GemmaTokenizer:
    """Wraps a transformers tokenizer. Call with prompts -> (input_ids, attention_mask), int32 (B, max_length)."""

    def __init__(self, tokenizer, max_length: int = TOKENIZER_MAX_LENGTH, identity: str = ""):
        if tokenizer.bos_token_id is None:
            raise LtxmlxError("the tokenizer has no bos_token_id; the Gemma encode path needs a leading <bos>")
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        if pad is None:
            raise LtxmlxError("the tokenizer has neither a pad nor an eos token to pad with")
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.bos_id, self.pad_id = int(tokenizer.bos_token_id), int(pad)
        self.identity = identity or _vocab_identity(tokenizer)

    def ids(self, prompt: str) -> list[int]:
        """Token ids of one prompt: stripped, <bos> first, at most max_length, no padding."""
        ids = list(self.tokenizer(prompt.strip(), truncation=True, max_length=self.max_length)["input_ids"])
        if not ids or ids[0] != self.bos_id:
            ids = [self.bos_id, *ids][: self.max_length]
        return ids

    def __call__(self, prompts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(input_ids, attention_mask), each (len(prompts), max_length) int32, left padded."""
        input_ids = np.full((len(prompts), self.max_length), self.pad_id, dtype=np.int32)
        mask = np.zeros((len(prompts), self.max_length), dtype=np.int32)
        for row, prompt in enumerate(prompts):
            ids = self.ids(prompt)
            input_ids[row, self.max_length - len(ids):] = ids
            mask[row, self.max_length - len(ids):] = 1
        return input_ids, mask


def _vocab_identity(tokenizer) -> str:
    """A stable hash of what decides the token ids: vocabulary and special ids."""
    vocab = sorted(tokenizer.get_vocab().items())
    blob = json.dumps([vocab, tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id])
    return hashlib.sha256(blob.encode()).hexdigest()


def load_tokenizer(source: str | Path, max_length: int = TOKENIZER_MAX_LENGTH) -> GemmaTokenizer:
    """From a local folder (tokenizer.json or tokenizer.model + tokenizer_config.json) or a Hugging Face
    repo id already in the local cache. Never downloads: offline runs behave like online ones."""
    from transformers import AutoTokenizer

    path = Path(source)
    if path.exists():
        folder = path if path.is_dir() else path.parent
        if not any((folder / name).is_file() for name in _TOKENIZER_FILES):
            raise TokenizerNotFoundError(
                f"{folder}: no tokenizer files (need one of {', '.join(_TOKENIZER_FILES)} and tokenizer_config.json)"
            )
        source = str(folder)
    try:
        tok = AutoTokenizer.from_pretrained(str(source), local_files_only=True)
    except (OSError, ValueError) as e:
        raise TokenizerNotFoundError(
            f"cannot load a tokenizer from {source!r} without downloading: it is neither a folder with "
            f"{' or '.join(_TOKENIZER_FILES)} nor a Hugging Face repo id in the local cache "
            f"(download it once, e.g. `hf download {source} tokenizer.json tokenizer_config.json`): {e}"
        ) from e
    log.info("tokenizer from %s (vocab %d, max length %d)", source, len(tok), max_length)
    return GemmaTokenizer(tok, max_length)
