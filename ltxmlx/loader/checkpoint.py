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

_MAX_HEADER_BYTES = 100 * 1024 * 1024  # the safetensors format's own limit
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


def _decode_metadata(path: Path, raw) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        raise CheckpointError(f"{path}: malformed header: __metadata__ is not a JSON object of strings")
    out = {}
    for k, v in raw.items():
        try:
            out[k] = json.loads(v)
        except (json.JSONDecodeError, RecursionError):
            out[k] = v
    return out


def _is_count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _entry(path: Path, name: str, entry) -> tuple[str, tuple[int, ...], int, int]:
    """(dtype, shape, start, end) of one header entry, every field checked."""
    if not isinstance(entry, dict):
        raise CheckpointError(f"{path}: malformed header entry for {name!r} (not a JSON object)")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if not isinstance(dtype, str) or dtype not in _DTYPE_BYTES:
        raise CheckpointError(f"{path}: tensor {name!r} has unsupported dtype {dtype!r}")
    if not isinstance(shape, list) or len(shape) > 16 or not all(_is_count(d) for d in shape):
        raise CheckpointError(f"{path}: tensor {name!r} has a malformed shape {shape!r} "
                              f"(expected a list of non-negative integers)")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_count(o) for o in offsets)
            and offsets[0] <= offsets[1]):
        raise CheckpointError(f"{path}: tensor {name!r} has malformed data_offsets {offsets!r}")
    return dtype, tuple(shape), offsets[0], offsets[1]


def _parse_header(path: Path, raw: bytes) -> dict:
    try:
        header = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: not a safetensors file (header is not JSON: {e})") from e
    except RecursionError:
        raise CheckpointError(f"{path}: not a safetensors file (header JSON is nested too deeply)") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: not a safetensors file (header is not a JSON object)")
    return header


def open_checkpoint(path: str | Path) -> Checkpoint:
    """Open and validate a safetensors file without reading its tensors.

    Checked: header size (bounded), JSON object, metadata of strings, every entry's dtype, shape and
    offsets, byte ranges matching dtype x shape, and ranges that tile the data section exactly (no
    overlap, no gap, no truncation). FP8 scale keys must sit beside FP8 tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: file not found")
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise CheckpointError(f"{path}: not a safetensors file ({size} bytes, too short for a header)")
        (n,) = struct.unpack("<Q", head)
        if n == 0 or 8 + n > size:
            raise CheckpointError(
                f"{path}: not a safetensors file or truncated (header claims {n} bytes, file has {size})"
            )
        if n > _MAX_HEADER_BYTES:
            raise CheckpointError(f"{path}: header of {n} bytes exceeds the {_MAX_HEADER_BYTES >> 20} MB limit; "
                                  f"not a safetensors file this tool reads")
        header = _parse_header(path, f.read(n))
    metadata = _decode_metadata(path, header.pop("__metadata__", None))
    data_size = size - 8 - n
    infos, ranges = {}, []
    for name, entry in header.items():
        dtype, shape, start, end = _entry(path, name, entry)
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
        ranges.append((start, end, name))
    _check_tiling(path, ranges, data_size)
    _check_fp8_scales(path, infos)
    return Checkpoint(path=path, metadata=metadata, infos=infos)


def _check_tiling(path: Path, ranges: list[tuple[int, int, str]], data_size: int) -> None:
    pos, prev = 0, None
    for start, end, name in sorted(ranges):
        if start < pos:
            raise CheckpointError(f"{path}: malformed header: tensors {prev!r} and {name!r} overlap")
        if start > pos:
            raise CheckpointError(f"{path}: malformed header: {start - pos} unindexed bytes before tensor {name!r}")
        pos, prev = end, name
    if pos != data_size:
        raise CheckpointError(f"{path}: malformed header: {data_size - pos} bytes after the last tensor")


# FP8 scale suffixes and the tensor each belongs to (which must then be FP8).
_FP8_SCALES = {".weight_scale": ".weight", ".input_scale": ".weight", ".bias_scale": ".bias"}


def _check_fp8_scales(path: Path, infos: dict[str, TensorInfo]) -> None:
    for name in infos:
        for suffix, owner in _FP8_SCALES.items():
            if name.endswith(suffix):
                target = name[: -len(suffix)] + owner
                if target not in infos or not infos[target].dtype.startswith("F8"):
                    found = infos[target].dtype if target in infos else "absent"
                    raise CheckpointError(f"{path}: FP8 scale {name!r} belongs to an FP8 tensor {target!r}, "
                                          f"which is {found}")


# What a file holds, recognised by its keys (first match of each row); new components are one row.
CONTENTS = (
    ("LoRA", lambda keys, meta: any(k.endswith(".lora_A.weight") for k in keys)),
    ("transformer", lambda keys, meta: any(k.startswith("model.diffusion_model.") for k in keys)),
    ("video VAE", lambda keys, meta: any(k.startswith(("vae.", "decoder.", "encoder.")) for k in keys)),
    ("audio VAE", lambda keys, meta: any(k.startswith("audio_vae.") for k in keys)),
    ("vocoder", lambda keys, meta: any(k.startswith("vocoder.") for k in keys)),
    ("latent upsampler", lambda keys, meta: isinstance(meta.get("config"), dict)
     and {"spatial_upsample", "temporal_upsample"} & set(meta["config"])),
    ("text encoder", lambda keys, meta: "gemma_config" in meta or any(k.startswith("model.language_model.") for k in keys)),
    ("duration head", lambda keys, meta: any(k.startswith("duration_head.") for k in keys)),
)


def contents(ckpt: Checkpoint) -> list[str]:
    """The components `ckpt` holds (names of `CONTENTS`), in table order."""
    keys = ckpt.keys()
    return [name for name, test in CONTENTS if test(keys, ckpt.metadata)]


def require_contents(ckpt: Checkpoint, component: str, what: str) -> None:
    """Raise CheckpointError unless `ckpt` holds `component`, naming what it holds instead."""
    found = contents(ckpt)
    if component not in found:
        held = ", ".join(found) if found else f"no known component (keys like {', '.join(ckpt.keys()[:3]) or 'none'})"
        raise CheckpointError(f"{what} {str(ckpt.path)!r} holds {held}, not a {component}")
