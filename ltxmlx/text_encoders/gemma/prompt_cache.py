"""On-disk cache of prompt embeddings: one safetensors file per (prompt, encoder identity).

The key is sha256(identity, prompt), where the identity covers the Gemma weights, config, tokenizer,
max length, the embeddings-processor weights and the dtype; so changing any of them misses the cache.
Writes are atomic (temporary file, then `os.replace`): a killed run never leaves a torn entry.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

import mlx.core as mx

from ltxmlx.text_encoders.gemma.embeddings_processor import TextEmbeddings

log = logging.getLogger(__name__)


class PromptCache:
    def __init__(self, directory: str | Path, identity: str):
        self.directory = Path(directory)
        self.identity = identity

    def key(self, prompt: str) -> str:
        return hashlib.sha256(f"{self.identity}\0{prompt}".encode()).hexdigest()

    def path(self, prompt: str) -> Path:
        return self.directory / f"{self.key(prompt)}.safetensors"

    def get(self, prompt: str) -> TextEmbeddings | None:
        """The cached embeddings (each (1, T, D)), or None; an entry for another prompt is a miss."""
        path = self.path(prompt)
        if not path.is_file():
            return None
        arrays, meta = mx.load(str(path), return_metadata=True)
        if meta.get("prompt") != prompt or meta.get("identity") != self.identity:
            log.warning("prompt cache entry %s does not match its key; ignoring it", path.name)
            return None
        return TextEmbeddings(arrays["video"], arrays["audio"], arrays["mask"])

    def put(self, prompt: str, emb: TextEmbeddings) -> Path:
        """Write one prompt's (evaluated) embeddings atomically; returns the file."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path(prompt)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".safetensors", dir=self.directory)
        os.close(fd)
        try:
            arrays = {"video": emb.video, "audio": emb.audio, "mask": emb.mask}
            mx.save_safetensors(tmp, arrays, metadata={"prompt": prompt, "identity": self.identity})
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path
