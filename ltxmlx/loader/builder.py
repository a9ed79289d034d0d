"""Build a component from a checkpoint: config -> module, mapped weights, strict load, evaluate.

This and the runner are the only places that call `mx.eval` (design rule 1).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Mapping

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten

from ltxmlx.errors import CheckpointError, MissingKeysError
from ltxmlx.loader import fp8, resident
from ltxmlx.loader.checkpoint import Checkpoint, open_checkpoint
from ltxmlx.loader.key_ops import KeyOps
from ltxmlx.loader.specs import ComponentSpec, get_spec

log = logging.getLogger(__name__)

_FLOAT_DTYPES = {"F32", "F16", "BF16", "F64", "F8_E4M3", "F8_E5M2"}


def make_module(spec: ComponentSpec, ckpt: Checkpoint) -> nn.Module:
    """The module described by the checkpoint's config, with clear errors for a foreign file."""
    try:
        return spec.make(ckpt.config)
    except KeyError as e:
        raise CheckpointError(
            f"{ckpt.path}: its config has no {e.args[0]!r} entry needed by component {spec.name!r}; "
            f"is this the right file for {spec.name!r}? (config sections: {sorted(ckpt.config)})"
        ) from e


def mapped_weights(
    ckpt: Checkpoint, ops: KeyOps, dtype: mx.Dtype, keep_float32: tuple[str, ...] = ()
) -> dict[str, mx.array]:
    """{module key: lazy array} for the tensors `ops` selects: dequantized, transposed, cast."""
    mapping = ops.map_keys(ckpt.keys())
    out: dict[str, mx.array] = {}
    for new, old in mapping.items():
        if fp8.is_scale_key(new):
            continue
        kind = ckpt.dtype(old)
        value = ckpt.tensor(old)
        if kind.startswith("F8"):
            scale_key = old + "_scale"
            scale = ckpt.tensor(scale_key) if scale_key in ckpt else None
            value = fp8.dequantize(old, value, kind, scale, str(ckpt.path))
        if ops.axes_for(new) is not None:
            value = value.transpose(ops.mapped_shape(new, tuple(range(value.ndim))))
        if kind in _FLOAT_DTYPES:
            keep = any(re.search(p, new) for p in keep_float32)
            value = value.astype(mx.float32 if keep else dtype)
        out[new] = value
    return out


def load_weights(module: nn.Module, weights: Mapping[str, mx.array], component: str = "", path: str = "") -> None:
    """Strict load: every module parameter gets a weight of the same shape, and nothing is left over."""
    expected = dict(tree_flatten(module.parameters()))
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    if missing or unexpected:
        raise MissingKeysError(component or type(module).__name__, missing, unexpected, path)
    bad = [
        f"{k}: checkpoint {tuple(weights[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in expected
        if tuple(weights[k].shape) != tuple(expected[k].shape)
    ]
    if bad:
        raise CheckpointError(
            f"{component}: {len(bad)} weight shapes differ from the model built from the config"
            f"{f' ({path})' if path else ''}: " + "; ".join(bad[:5])
        )
    module.load_weights(list(weights.items()), strict=True)


def build(
    component: str,
    path: str | Path | Checkpoint,
    dtype: mx.Dtype = mx.bfloat16,
    transform=None,
) -> nn.Module:
    """Build `component` from an official checkpoint file, strictly loaded and evaluated.

    transform: optional pure function {module key: array} -> {module key: array} applied before loading
    (LoRA fusion uses it).
    """
    spec = get_spec(component)
    ckpt = path if isinstance(path, Checkpoint) else open_checkpoint(path)
    pool = resident.active_pool()
    key = resident.pool_key(component, ckpt, dtype, transform) if pool is not None else None
    if key is not None:
        return pool.get(key, lambda: _build(spec, component, ckpt, dtype, transform))
    return _build(spec, component, ckpt, dtype, transform)


def _build(spec: ComponentSpec, component: str, ckpt: Checkpoint, dtype: mx.Dtype, transform) -> nn.Module:
    module = make_module(spec, ckpt)
    ops = spec.ops(ckpt.config)
    weights = mapped_weights(ckpt, ops, dtype, spec.keep_float32)
    if not weights:
        raise CheckpointError(
            f"{ckpt.path}: holds no weights of component {component!r} "
            f"(none of its {len(ckpt.keys())} tensors match {ops.prefix!r}); wrong file for this component?"
        )
    if transform is not None:
        weights = transform(weights)
    load_weights(module, weights, component, str(ckpt.path))
    mx.eval(module.parameters())
    log.info("built %s from %s (%d tensors, %s)", component, ckpt.path.name, len(weights), dtype)
    return module


def module_shapes(component: str, config: dict) -> dict[str, tuple[int, ...]]:
    """Parameter shapes of the module `config` describes, without allocating its weights (lazy init)."""
    module = get_spec(component).make(config)
    return {k: tuple(v.shape) for k, v in tree_flatten(module.parameters())}


def mapped_manifest_shapes(
    component: str, config: dict, tensors: Mapping[str, tuple[int, ...]]
) -> dict[str, tuple[int, ...]]:
    """What a checkpoint with these {name: shape} tensors would load into the module, after key ops."""
    ops = get_spec(component).ops(config)
    mapping = ops.map_keys(tensors)
    return {new: ops.mapped_shape(new, tuple(tensors[old])) for new, old in mapping.items() if not fp8.is_scale_key(new)}

