"""FP8 (E4M3) checkpoint tensors: dequantize with their per-tensor scale to the run dtype.

Official FP8 files store block Linears as F8_E4M3 `<name>.weight` plus a 0-d F32 `<name>.weight_scale`
(and optionally `.input_scale` for scaled-mm inference). Real weight = fp8 value * weight_scale.
We dequantize at load; `input_scale` only matters for FP8 matmuls, which this port does not run.
"""

from __future__ import annotations

import mlx.core as mx

from ltxmlx.errors import CheckpointError

_CONSUMED = (".weight_scale", ".input_scale", ".bias_scale")


def is_scale_key(key: str) -> bool:
    return key.endswith(_CONSUMED)


def dequantize(name: str, raw: mx.array, dtype_str: str, scale: mx.array | None, path: str = "") -> mx.array:
    """Float32 values of an FP8 tensor `raw` (uint8 bytes) times its scale."""
    if dtype_str == "F8_E5M2":
        raise CheckpointError(f"{path}: tensor {name!r} is F8_E5M2; only F8_E4M3 checkpoints are supported")
    if scale is None:
        raise CheckpointError(
            f"{path}: FP8 tensor {name!r} has no sibling {name + '_scale'!r}; cannot dequantize it"
        )
    return mx.from_fp8(raw, dtype=mx.float32) * scale.astype(mx.float32)
