"""Lazy, validated access to one safetensors file and its metadata.

The header is parsed and checked here (size, JSON, offsets) so that a truncated or foreign file fails
with one clear message before any tensor is read. Tensors come from `mx.load`, which maps them lazily:
a 40 GB file is read tensor by tensor as the builder evaluates, never at once.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

import mlx.core as mx

from ltxmlx.errors import CheckpointError

_MAX_HEADER_BYTES = 256 * 1024 * 1024
_DTYPE_BYTES = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
    "U16": 2, "U32": 4, "U64": 8, "F8_E4M3": 1, "F8_E5M2": 1,
}


@dataclass(frozen=True)
class TensorInfo:
    dtype: str
    shape: tuple[int, ...]
    nbytes: int


@dataclass
class Checkpoint:
    """One safetensors file: validated header, decoded metadata, lazy tensors."""

    path: Path
    metadata: dict
    infos: dict[str, TensorInfo]
    _arrays: dict | None = field(default=None, repr=False)

    @property
    def config(self) -> dict:
        """The metadata `config` (the model config of official LTX-2 files)."""
        cfg = self.metadata.get("config")
        if cfg is None:
            raise CheckpointError(
                f"{self.path}: no 'config' in the safetensors metadata; official LTX-2 checkpoints carry "
                f"their model config there (metadata keys found: {sorted(self.metadata) or 'none'})"
            )
        if not isinstance(cfg, dict):
            raise CheckpointError(f"{self.path}: metadata 'config' is not a JSON object")
        return cfg

    def keys(self) -> list[str]:
        return list(self.infos)

    def __contains__(self, key: str) -> bool:
        return key in self.infos

    def shape(self, key: str) -> tuple[int, ...]:
        return self.infos[key].shape

    def dtype(self, key: str) -> str:
        return self.infos[key].dtype

    def tensor(self, key: str) -> mx.array:
        """The tensor as a lazy MLX array (FP8 tensors come back as raw uint8 bytes)."""
        if key not in self.infos:
            raise CheckpointError(f"{self.path}: no tensor named {key!r}")
        if self._arrays is None:
            try:
                self._arrays = mx.load(str(self.path))
            except (RuntimeError, ValueError) as e:
                raise CheckpointError(f"{self.path}: cannot read tensors: {e}") from e
        return self._arrays[key]

    def release(self) -> None:
        """Forget the lazy tensors handed out so far, so that evaluated ones are freed with their users."""
        self._arrays = None


def _decode_metadata(raw: dict) -> dict:
    out = {}
    for k, v in raw.items():
        try:
            out[k] = json.loads(v)
        except (TypeError, json.JSONDecodeError):
            out[k] = v
    return out


def open_checkpoint(path: str | Path) -> Checkpoint:
    """Open and validate a safetensors file without reading its tensors."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: file not found")
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise CheckpointError(f"{path}: not a safetensors file ({size} bytes, too short for a header)")
        (n,) = struct.unpack("<Q", head)
        if n == 0 or n > _MAX_HEADER_BYTES or 8 + n > size:
            raise CheckpointError(
                f"{path}: not a safetensors file or truncated (header claims {n} bytes, file has {size})"
            )
        try:
            header = json.loads(f.read(n))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise CheckpointError(f"{path}: not a safetensors file (header is not JSON: {e})") from e
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: not a safetensors file (header is not a JSON object)")
    metadata = _decode_metadata(header.pop("__metadata__", None) or {})
    data_size = size - 8 - n
    infos = {}
    for name, entry in header.items():
        try:
            dtype, shape, (start, end) = entry["dtype"], tuple(entry["shape"]), entry["data_offsets"]
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{path}: malformed header entry for {name!r}") from e
        if dtype not in _DTYPE_BYTES:
            raise CheckpointError(f"{path}: tensor {name!r} has unsupported dtype {dtype}")
        numel = 1
        for d in shape:
            numel *= d
        if end - start != numel * _DTYPE_BYTES[dtype]:
            raise CheckpointError(f"{path}: tensor {name!r} byte range does not match {dtype}{list(shape)}")
        if end > data_size:
            raise CheckpointError(
                f"{path}: truncated: tensor {name!r} ends at byte {end} but the data section has {data_size}"
            )
        infos[name] = TensorInfo(dtype, shape, end - start)
    return Checkpoint(path=path, metadata=metadata, infos=infos)
