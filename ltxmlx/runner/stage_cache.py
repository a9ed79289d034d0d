"""Per-stage outputs on disk: `<cache>/<stage>/<key>.safetensors`, written atomically and verified.

A file exists only when complete (written to a per-process temporary name in the same folder, then
`os.replace`d), so a run killed mid-write leaves no file that a rerun would trust. Each file's
metadata carries its stage, its key and a sha256 over its tensors (names, dtypes, shapes, bytes). A
file that does not load, holds another stage or key, or fails its checksum is logged and counts as
absent (`has` is False), so the runner recomputes it. Verification is remembered per
(path, size, mtime) within a process, so a file is read once however often it is asked about.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from pathlib import Path

import mlx.core as mx

from ltxmlx.runner.ownership import owner_gone, pid_alive, temp_path

log = logging.getLogger(__name__)

_LEGACY_TEMP = re.compile(r"^\.[0-9a-f]+\.(?P<pid>\d+)\.tmp\.safetensors$")


def tensors_checksum(arrays: dict[str, mx.array]) -> str:
    """sha256 over every tensor's name, dtype, shape and bytes (in name order); evaluates `arrays`."""
    mx.eval(list(arrays.values()))
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = arrays[name]
        h.update(f"{name}|{a.dtype}|{tuple(a.shape)}|".encode())
        h.update(bytes(memoryview(a)))
    return h.hexdigest()


class StageCache:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._verified: dict[Path, tuple[int, int]] = {}

    def path(self, stage: str, key: str) -> Path:
        return self.root / stage / f"{key}.safetensors"

    def has(self, stage: str, key: str) -> bool:
        """True when a complete, intact file of exactly this stage and key exists."""
        path = self.path(stage, key)
        if path.is_symlink() or not path.is_file():
            return False
        st = path.stat()
        if self._verified.get(path) == (st.st_size, st.st_mtime_ns):
            return True
        problem = self._problem(path, stage, key)
        if problem:
            log.warning("stage cache file %s is unusable (%s); recomputing it and what follows from it",
                        path, problem)
            return False
        self._verified[path] = (st.st_size, st.st_mtime_ns)
        return True

    def _problem(self, path: Path, stage: str, key: str) -> str:
        try:
            arrays, metadata = mx.load(str(path), return_metadata=True)
            meta = {k: json.loads(v) for k, v in metadata.items()}
            if meta.get("stage") != stage or meta.get("key") != key:
                return f"it holds stage {meta.get('stage')!r} key {meta.get('key')!r}"
            if "checksum" not in meta:
                return "it has no checksum"
            if tensors_checksum(arrays) != meta["checksum"]:
                return "its tensors fail their checksum"
        except (RuntimeError, ValueError, OSError) as e:
            return f"it does not load: {e}"
        return ""

    def save(self, stage: str, key: str, arrays: dict[str, mx.array], meta: dict) -> Path:
        """Write `arrays` with `meta` (JSON-encoded values) atomically; returns the path."""
        if not arrays:
            raise ValueError(f"stage {stage!r} returned no arrays to cache for key {key}")
        final = self.path(stage, key)
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.is_symlink():
            final.unlink()  # never write through a link
        # mx.save_safetensors appends ".safetensors" to names without it; keep the suffix last.
        tmp = temp_path(final, ".safetensors")
        full = {**meta, "stage": stage, "key": key, "checksum": tensors_checksum(arrays)}
        mx.save_safetensors(str(tmp), arrays, metadata={k: json.dumps(v) for k, v in full.items()})
        os.replace(tmp, final)
        st = final.stat()
        self._verified[final] = (st.st_size, st.st_mtime_ns)
        return final

    def load(self, stage: str, key: str) -> dict[str, mx.array]:
        if not self.has(stage, key):
            raise ValueError(f"cache file {self.path(stage, key)} is missing or unusable")
        return mx.load(str(self.path(stage, key)))

    def metadata(self, stage: str, key: str) -> dict:
        _, metadata = mx.load(str(self.path(stage, key)), return_metadata=True)
        return {k: json.loads(v) for k, v in metadata.items()}

    def clean_partials(self) -> int:
        """Remove temporary files whose writing process is gone (never another live run's); returns how many."""
        n = 0
        if self.root.is_dir():
            for tmp in self.root.glob("*/.*.tmp.safetensors"):
                legacy = _LEGACY_TEMP.match(tmp.name)
                if owner_gone(tmp) or (legacy and not pid_alive(int(legacy.group("pid")))):
                    tmp.unlink(missing_ok=True)
                    n += 1
        if n:
            log.info("removed %d partial cache files left by runs that are gone", n)
        return n
