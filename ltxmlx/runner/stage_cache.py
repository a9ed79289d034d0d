"""Per-stage outputs on disk: `<cache>/<stage>/<key>.safetensors`, written atomically.

A file exists only when complete (written to a temporary name in the same folder, then
`os.replace`d), so a run killed mid-write leaves no file that a rerun would trust. Metadata records
item id, seed, stage and key; a file whose metadata key differs from its name is treated as absent.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import mlx.core as mx

log = logging.getLogger(__name__)


class StageCache:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, stage: str, key: str) -> Path:
        return self.root / stage / f"{key}.safetensors"

    def has(self, stage: str, key: str) -> bool:
        return self.path(stage, key).is_file()

    def save(self, stage: str, key: str, arrays: dict[str, mx.array], meta: dict) -> Path:
        """Write evaluated `arrays` with `meta` (JSON-encoded values) atomically; returns the path."""
        if not arrays:
            raise ValueError(f"stage {stage!r} returned no arrays to cache for key {key}")
        final = self.path(stage, key)
        final.parent.mkdir(parents=True, exist_ok=True)
        # mx.save_safetensors appends ".safetensors" to names without it; keep the suffix last.
        tmp = final.with_name(f".{key}.{os.getpid()}.tmp.safetensors")
        metadata = {k: json.dumps(v) for k, v in {**meta, "stage": stage, "key": key}.items()}
        mx.save_safetensors(str(tmp), arrays, metadata=metadata)
        os.replace(tmp, final)
        return final

    def load(self, stage: str, key: str) -> dict[str, mx.array]:
        arrays, metadata = mx.load(str(self.path(stage, key)), return_metadata=True)
        if json.loads(metadata.get("key", "null")) != key:
            raise ValueError(f"cache file {self.path(stage, key)} holds key {metadata.get('key')}, not {key}")
        return arrays

    def metadata(self, stage: str, key: str) -> dict:
        _, metadata = mx.load(str(self.path(stage, key)), return_metadata=True)
        return {k: json.loads(v) for k, v in metadata.items()}

    def clean_partials(self) -> int:
        """Remove temporary files left by a killed run; returns how many."""
        n = 0
        if self.root.is_dir():
            for tmp in self.root.glob("*/.*.tmp.safetensors"):
                tmp.unlink()
                n += 1
        if n:
            log.info("removed %d partial cache files from an interrupted run", n)
        return n
