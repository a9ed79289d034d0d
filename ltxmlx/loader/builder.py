"""Build a component from a checkpoint: config -> module, mapped weights, strict load, evaluate.

This and the runner are the only places that call `mx.eval` (design rule 1).
"""

from __future__ import annotations

import functools
import logging
import re
from pathlib import Path
from typing import Mapping

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten

from ltxmlx.errors import CheckpointError, MissingKeysError
from ltxmlx.loader import fp8, quantize, resident
from ltxmlx.loader.checkpoint import Checkpoint, open_checkpoint
from ltxmlx.loader.key_ops import KeyOps
from ltxmlx.loader.quant_cache import QuantCache, cache_for
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
    quantization: str = "none",
    quant_cache: QuantCache | None = None,
    transform_identity: object = None,
) -> nn.Module:
    """Build `component` from an official checkpoint file, strictly loaded and evaluated.

    transform: optional pure function {module key: array} -> {module key: array} applied before loading
    (LoRA fusion uses it).
    quantization: a `ltxmlx.loader.quantize.MODES` value. The MLX modes (int8, int4, ...) quantize the
    component's large Linear layers while loading, layer by layer, so the full-precision weights never
    exist at once. With `quant_cache`, the quantized weights are written there on the first build and
    loaded from there (without opening `path`) afterwards; with a `transform`, only when
    `transform_identity` (JSON-able) identifies what it fuses.
    """
    spec = get_spec(component)
    pool = resident.active_pool()
    if pool is not None:  # a resident worker keeps built models between jobs that share them
        ckpt = path if isinstance(path, Checkpoint) else open_checkpoint(path)
        key = resident.pool_key(component, ckpt, dtype, transform, quantization)
        if key is not None:
            return pool.get(key, lambda: _build_any(spec, ckpt, dtype, transform, quantization, quant_cache,
                                                    transform_identity))
    return _build_any(spec, path, dtype, transform, quantization, quant_cache, transform_identity)


def build_cached(component: str, path: str | Path | Checkpoint, dtype: mx.Dtype, quantization: str,
                 quant_cache_dir: str | Path | None) -> nn.Module:
    """`build` with the quantized-weights cache under `quant_cache_dir` (when `quantization` is an MLX mode)."""
    return build(component, path, dtype=dtype, quantization=quantization,
                 quant_cache=cache_for(quantization, quant_cache_dir))


def _build_any(spec: ComponentSpec, path, dtype: mx.Dtype, transform, quantization: str,
               quant_cache: QuantCache | None, transform_identity: object) -> nn.Module:
    component = spec.name
    mode = quantize.quant_mode(quantization)
    if mode is None:
        return _build_plain(spec, path, dtype, transform)
    if not quantize.quantizable(component):
        raise CheckpointError(
            f"component {component!r} cannot be quantized ({quantization}); quantizable components: "
            f"{', '.join(sorted(quantize.KEEP))}"
        )
    entry = None
    if quant_cache is not None and (transform is None or transform_identity is not None):
        entry = quant_cache.entry(component, path, mode, dtype, transform_identity)
        cached = quant_cache.open(entry)
        if cached is not None:
            try:
                return _build_from_quantized(spec, cached, mode, entry.path)
            except CheckpointError as e:  # MissingKeysError included: a foreign or damaged entry
                quant_cache.discard(entry, f"unusable ({e})")
    module, config, source = _build_quantizing(spec, path, dtype, transform, mode)
    if entry is not None:
        quant_cache.write(entry, dict(tree_flatten(module.parameters())), config, str(source))
    return module


def _build_plain(spec: ComponentSpec, path, dtype: mx.Dtype, transform) -> nn.Module:
    ckpt = path if isinstance(path, Checkpoint) else open_checkpoint(path)
    module = make_module(spec, ckpt)
    weights = _source_weights(spec, ckpt, dtype, transform)
    load_weights(module, weights, spec.name, str(ckpt.path))
    mx.eval(module.parameters())
    log.info("built %s from %s (%d tensors, %s)", spec.name, ckpt.path.name, len(weights), dtype)
    return module


def _source_weights(spec: ComponentSpec, ckpt: Checkpoint, dtype: mx.Dtype, transform) -> dict[str, mx.array]:
    ops = spec.ops(ckpt.config)
    weights = mapped_weights(ckpt, ops, dtype, spec.keep_float32)
    if spec.prepare is not None and weights:
        weights = spec.prepare(weights)
    if not weights:
        raise CheckpointError(
            f"{ckpt.path}: holds no weights of component {spec.name!r} "
            f"(none of its {len(ckpt.keys())} tensors match {ops.prefix!r}); wrong file for this component?"
        )
    return transform(weights) if transform is not None else weights


def _build_quantizing(spec: ComponentSpec, path, dtype: mx.Dtype, transform, mode: quantize.QuantMode):
    """Quantize while loading: each source tensor is read, cast and quantized when its chunk evaluates,
    and dropped right after (the checkpoint forgets its lazy tensors, so nothing else holds them)."""
    ckpt = path if isinstance(path, Checkpoint) else open_checkpoint(path)
    module = make_module(spec, ckpt)
    layers = quantize.plan(module, spec.name, mode)
    weights = quantize.quantize_weights(_source_weights(spec, ckpt, dtype, transform), layers)
    ckpt.release()
    quantize.swap_layers(module, layers)
    load_weights(module, weights, spec.name, str(ckpt.path))
    del weights
    _evaluate_in_chunks(module)
    log.info("built %s from %s, %d Linear layers quantized to %s", spec.name, ckpt.path.name, len(layers), mode.name)
    return module, ckpt.config, ckpt.path


def _build_from_quantized(spec: ComponentSpec, cached: Checkpoint, mode: quantize.QuantMode, path: Path) -> nn.Module:
    module = make_module(spec, cached)
    quantize.swap_layers(module, quantize.plan(module, spec.name, mode))
    load_weights(module, {k: cached.tensor(k) for k in cached.keys()}, spec.name, str(path))
    cached.release()
    _evaluate_in_chunks(module)
    log.info("built %s from the quantized cache %s (%s)", spec.name, path.name, mode.name)
    return module


def _evaluate_in_chunks(module: nn.Module, chunk_bytes: int = 512 * 1024**2) -> None:
    """Evaluate the parameters a few hundred MB at a time: peak = the evaluated part + one chunk's sources."""
    chunk, size = [], 0
    for _, value in tree_flatten(module.parameters()):
        chunk.append(value)
        size += value.nbytes
        if size >= chunk_bytes:
            mx.eval(chunk)
            chunk, size = [], 0
    mx.eval(chunk)


@functools.cache
def quantization_backend_error(quantization: str) -> str | None:
    """Why the current MLX device cannot run `quantization` (None when it can; unknown modes raise).

    Quantizes a small matrix and multiplies by it, so the answer is the backend's own."""
    mode = quantize.quant_mode(quantization)
    if mode is None:
        return None
    group = mode.group_sizes[0]
    x = mx.ones((4, 4 * group), dtype=mx.bfloat16)
    try:
        packed, scales, *biases = mx.quantize(mx.ones((128, 4 * group), dtype=mx.bfloat16), group_size=group,
                                              bits=mode.bits, mode=mode.mlx_mode)
        mx.eval(mx.quantized_matmul(x, packed, scales, biases[0] if biases else None, transpose=True,
                                    group_size=group, bits=mode.bits, mode=mode.mlx_mode))
    except (RuntimeError, ValueError) as e:
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        return f"MLX {mx.__version__} on {mx.default_device()} cannot run {mode.mlx_mode} {mode.bits}-bit ({reason})"
    return None


def module_shapes(component: str, config: dict) -> dict[str, tuple[int, ...]]:
    """Parameter shapes of the module `config` describes, without allocating its weights (lazy init)."""
    module = get_spec(component).make(config)
    return {k: tuple(v.shape) for k, v in tree_flatten(module.parameters())}


def mapped_manifest_shapes(
    component: str, config: dict, tensors: Mapping[str, tuple[int, ...]]
) -> dict[str, tuple[int, ...]]:
    """What a checkpoint with these {name: shape} tensors would load into the module, after key ops."""
    spec = get_spec(component)
    ops = spec.ops(config)
    mapping = ops.map_keys(tensors)
    shapes = {new: ops.mapped_shape(new, tuple(tensors[old])) for new, old in mapping.items() if not fp8.is_scale_key(new)}
    if spec.prepare is None:
        return shapes
    # Lazy zeros: never evaluated, so nothing is allocated; only the resulting shapes are read.
    prepared = spec.prepare({k: mx.zeros(s, dtype=mx.float32) for k, s in shapes.items()})
    return {k: tuple(v.shape) for k, v in prepared.items()}

