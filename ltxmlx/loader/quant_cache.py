"""The quantized-weights cache: one safetensors file per (source content, component, mode, table version,
dtype, fused extras), written once by a quantizing build and loaded directly by later builds.

The key uses the source files' content fingerprint (size, safetensors header and 1 MiB samples from the
start, middle and end of each file). Fingerprints are memoized by (path, size, mtime) in
`fingerprints.json` beside the entries, so a warm build stats the source but never opens it. Each entry
stores its key and the model config in its metadata; an entry that is truncated or not safetensors
(corrupt), or whose key differs (stale, foreign), is logged, deleted and rebuilt. Writes are atomic
(temporary file + rename), so an interrupted build never leaves a half-written entry under the final name.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import mlx.core as mx

from ltxmlx.errors import CheckpointError
from ltxmlx.loader.checkpoint import Checkpoint, open_checkpoint
from ltxmlx.loader.quantize import TABLE_VERSION, QuantMode, quant_mode

log = logging.getLogger(__name__)

_SAMPLE_BYTES = 1 << 20
_KEY_FIELD = "ltxmlx_quant_key"


def content_fingerprint(paths: Iterable[Path]) -> str:
    """A content hash of weight files without reading them whole: each file's name, size and 1 MiB
    samples from its start (the safetensors header), middle and end (seconds for 40 GB)."""
    h = hashlib.sha256()
    for path in sorted(Path(p) for p in paths):
        size = path.stat().st_size
        h.update(f"{path.name}:{size}".encode())
        with path.open("rb") as f:
            for offset in sorted({0, max(0, size // 2 - _SAMPLE_BYTES // 2), max(0, size - _SAMPLE_BYTES)}):
                f.seek(offset)
                h.update(f.read(_SAMPLE_BYTES))
    return h.hexdigest()


def source_files(source: str | Path | Checkpoint) -> list[Path]:
    """The files behind a build source: a path, a checkpoint, or a sharded checkpoint's shards."""
    if not isinstance(source, Checkpoint):
        return [Path(source)]
    shards = getattr(source, "shards", None)  # a sharded checkpoint: the files holding its tensors
    return sorted({c.path for c in shards.values()}) if shards is not None else [source.path]


@dataclass(frozen=True)
class CacheEntry:
    path: Path
    key: dict


@dataclass(frozen=True)
class QuantCache:
    """Entries under `root` (created on first write)."""

    root: Path

    def fingerprint(self, files: Iterable[Path]) -> str:
        """`content_fingerprint` of `files`, memoized by each file's resolved path, size and mtime."""
        files = sorted(Path(f).expanduser().resolve() for f in files)
        stats = [f"{f}|{f.stat().st_size}|{f.stat().st_mtime_ns}" for f in files]
        memo_key = "\n".join(stats)
        memo_file = self.root / "fingerprints.json"
        memo = _read_json(memo_file)
        if memo_key not in memo:
            memo[memo_key] = content_fingerprint(files)
            self.root.mkdir(parents=True, exist_ok=True)
            _write_json_atomic(memo_file, memo)
        return memo[memo_key]

    def entry(self, component: str, source: str | Path | Checkpoint, mode: QuantMode, dtype: mx.Dtype,
              extra: object = None) -> CacheEntry:
        """Where the quantized `component` of `source` lives; `extra`: JSON-able identity of anything
        fused into the weights before quantization (LoRAs)."""
        key = {
            "component": component, "source": self.fingerprint(source_files(source)),
            "mode": mode.name, "mlx_mode": mode.mlx_mode, "bits": mode.bits,
            "group_sizes": list(mode.group_sizes), "table_version": TABLE_VERSION, "dtype": str(dtype),
            "extra": extra,
        }
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
        return CacheEntry(self.root / f"{component}-{mode.name}-{digest}.safetensors", key)

    def open(self, entry: CacheEntry) -> Checkpoint | None:
        """The entry's checkpoint, or None (missing; corrupt or stale ones are logged and deleted)."""
        if not entry.path.exists():
            return None
        try:
            ckpt = open_checkpoint(entry.path)
        except CheckpointError as e:
            self.discard(entry, f"corrupt ({e})")
            return None
        stored = ckpt.metadata.get(_KEY_FIELD)
        if stored != json.loads(json.dumps(entry.key)) or not isinstance(ckpt.metadata.get("config"), dict):
            self.discard(entry, "stale (its key differs from this build's)")
            return None
        return ckpt

    def discard(self, entry: CacheEntry, reason: str) -> None:
        log.warning("quantized cache %s is %s; rebuilding it", entry.path, reason)
        entry.path.unlink(missing_ok=True)

    def write(self, entry: CacheEntry, weights: dict[str, mx.array], config: dict, source: str) -> None:
        """Atomically write evaluated `weights` with the entry's key and the model config."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = entry.path.with_name(f".{entry.path.stem}.{os.getpid()}.tmp.safetensors")
        metadata = {_KEY_FIELD: json.dumps(entry.key, sort_keys=True), "config": json.dumps(config),
                    "quantized_from": source}
        try:
            mx.save_safetensors(str(tmp), weights, metadata=metadata)
            os.replace(tmp, entry.path)
        finally:
            tmp.unlink(missing_ok=True)
        log.info("wrote quantized cache %s (%.1f MiB)", entry.path, entry.path.stat().st_size / 2**20)


def cache_for(quantization: str, root: str | Path | None) -> QuantCache | None:
    """The cache under `root` when `quantization` is an MLX mode (None: plain weights or no cache)."""
    return QuantCache(Path(root).expanduser()) if root and quant_mode(quantization) is not None else None


def entry_file(component: str, source: str | Path | Checkpoint, dtype: mx.Dtype, quantization: str,
               root: str | Path | None) -> Path | None:
    """The file a quantized build of `component` from `source` reads or writes (None: not cached)."""
    cache = cache_for(quantization, root)
    return None if cache is None else cache.entry(component, source, quant_mode(quantization), dtype).path


def entry_files(sources: dict[str, str | Path | Checkpoint], dtype: mx.Dtype, quantization: str,
                root: str | Path | None) -> dict[str, Path]:
    """{component: the file its quantized build from its source reads or writes} (empty: not cached)."""
    if cache_for(quantization, root) is None:
        return {}
    return {c: entry_file(c, source, dtype, quantization, root) for c, source in sources.items()}


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        log.warning("ignoring unreadable %s (%s)", path, e)
        return {}
    return data if isinstance(data, dict) else {}


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)
