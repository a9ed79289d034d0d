"""Weight quantization at build time: the modes, the one table of what stays in higher precision, and
the lazy graph that turns full-precision Linear weights into MLX quantized ones.

Modes (`model.quantization`):
- `none`: weights in the run dtype. `fp8`: the official FP8 E4M3 files, dequantized to the run dtype at
  load (what any FP8 file gets anyway; no MLX quantization).
- `int8` / `int4`: MLX affine quantization, group size 64 (32 for a layer whose input width 64 does not
  divide). `mxfp8` / `mxfp4` (group 32) and `nvfp4` (group 16): MLX's microscaling float formats.
  MLX 0.32 runs all five on its CPU backend; its Metal backend has affine and fp kernels, its CUDA
  backend affine and fp matmuls (sm80 and naive kernels; the sm90 kernel is affine-only). Whether the
  current backend runs a mode is checked by `ltxmlx.loader.builder.quantization_backend_error`,
  which quantizes and multiplies a small matrix before anything loads.

Only `nn.Linear` layers of the components in `KEEP` are quantized; norms, scale-shift tables and token
embeddings are not Linear layers and always keep the run dtype. `KEEP` lists the Linear layers that stay
in the run dtype, per component, decided by measurement (`bench/quant_table.py` on CPU: relative RMS
error, in %, of the video / audio output of a transformer forward with seeded random weights against the
same model unquantized; "all" = every Linear quantized except the two the model needs unquantized):

    tiny transformer (2 layers, 128 / 64 wide, group 64)   int8            int4
        all                                                0.553 / 0.433   8.41 / 9.52
        keep AdaLN linears                                 0.553 / 0.433   8.39 / 9.52
        keep patchify / proj_out + gate logits             0.028 / 0.016   0.58 / 0.23
        keep AdaLN + patchify / proj_out                   0.021 / 0.012   0.40 / 0.19
        keep AdaLN + patchify / proj_out + gates (KEEP)    0.021 / 0.012   0.40 / 0.19
    one full-size LTX-2.3 layer (4096 / 2048 wide, 256 video + 32 audio tokens)
        all                                                0.94 / 0.62     16.2 / 10.3
    the tiny parity model (tests/fixtures/parity/19b) with KEEP (tests/unit/test_quantize.py): int8
    0.38 / 0.12, int4 4.9 / 1.6, mxfp8 1.5 / 0.4, mxfp4 7.7 / 1.9, nvfp4 6.9 / 5.6.
    tiny Gemma 3 (3 layers, 64 wide: one group per row), hidden states 1..3: int8 1.1 / 1.4 / 1.6,
    int4 18 / 24 / 28 (a worst case: full-size rows hold 60 groups; measure 12B on the GPU).

The output projections dominate (they map the residual stream straight to the velocity); keeping them
and the patchify projections (< 1 M weights each) cuts the error 20-25x. The AdaLN linears (timestep
embedders and modulation projections, 0.4 B of the 19 B transformer weights, 2 %) set every block's
scale, shift and gate, and keeping them cuts the remaining int4 error by another 30 %. The gate logits
(32 outputs per attention) change nothing measurable and stay (0.03 % of the weights). Everything else
in the blocks (attention q/k/v/out, feed-forwards: 98 % of the weights) is quantized. Gemma 3: every
decoder Linear (its embedding table is an Embedding and stays). Gemma 4's entry is by analogy, not
measured here: its per-layer input and embedding projections stay.

The embeddings processor (3.2 B weights in LTX-2.3: feature extractor 1.2 B, connectors 2.0 B, 6.3 GB
in bf16, more than the quantized Gemma's decoder layers) is quantized whole: on the tiny parity
processors (64 wide, one group per row: a worst case) keeping any one group changes little. Relative
RMS of the video / audio embeddings, all quantized vs keeping the feed-forwards (the best single group):
    19b  int8 0.66 / 0.68 vs 0.42 / 0.41    int4 11.1 / 10.8 vs 7.0 / 6.9
    22b  int8 0.91 / 0.74 vs 0.59 / 0.35    int4 15.0 / 10.4 vs 8.7 / 6.2
    25   int8 0.50 / 0.71 vs 0.32 / 0.52    int4  8.8 / 12.0 vs 5.9 / 9.4

This module builds graphs only; `ltxmlx.loader.builder` evaluates them layer by layer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import mlx.core as mx
from mlx import nn
from mlx.utils import tree_flatten

from ltxmlx.errors import LtxmlxError

# Bump when KEEP, the group-size rule or the quantized layout changes: cached quantized files of
# another version are rebuilt.
TABLE_VERSION = 2


@dataclass(frozen=True)
class QuantMode:
    """One `model.quantization` value that MLX quantizes: its MLX mode, bits and group sizes (the first
    one whose multiple the layer's input width is, is used)."""

    name: str
    mlx_mode: str
    bits: int
    group_sizes: tuple[int, ...]

    def group_size_for(self, in_dims: int) -> int | None:
        return next((g for g in self.group_sizes if in_dims % g == 0), None)


QUANT_MODES = {
    "int8": QuantMode("int8", "affine", 8, (64, 32)),
    "int4": QuantMode("int4", "affine", 4, (64, 32)),
    "mxfp8": QuantMode("mxfp8", "mxfp8", 8, (32,)),
    "mxfp4": QuantMode("mxfp4", "mxfp4", 4, (32,)),
    "nvfp4": QuantMode("nvfp4", "nvfp4", 4, (16,)),
}
# Modes that load weights in the run dtype (fp8: FP8 files are dequantized at load, as always).
PLAIN_MODES = ("none", "fp8")
MODES = PLAIN_MODES + tuple(QUANT_MODES)

# Per component: regexes (on the module path) of Linear layers that stay in the run dtype. A component
# missing here is never quantized. The transformer's patchify projection and first timestep-embedder
# layer must stay: the model reads their weight dtype to cast its inputs.
KEEP: dict[str, tuple[str, ...]] = {
    "transformer": (
        r"adaln_single\.",  # AdaLN: timestep embedders and modulation projections
        r"^(audio_)?patchify_proj$",
        r"^(audio_)?proj_out$",
        r"caption_projection\.",  # LTX-2.0 caption projection (small, at the input)
        r"\.to_gate_logits$",  # per-head attention gates
    ),
    "gemma3": (),  # every Linear of the decoder layers; embed_tokens is an Embedding (kept)
    "embeddings_processor": (),  # the feature extractor's aggregate projections and the connectors
    "gemma4": (r"per_layer", r"embed"),  # per-layer input projections and embedding projections
}


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise LtxmlxError(f"unknown quantization {mode!r}; valid: {', '.join(MODES)}")


def quant_mode(mode: str) -> QuantMode | None:
    """The MLX quantization of `mode` (None for the plain modes); unknown modes are refused."""
    check_mode(mode)
    return QUANT_MODES.get(mode)


def quantizable(component: str) -> bool:
    return component in KEEP


@dataclass(frozen=True)
class LayerQuant:
    group_size: int
    bits: int
    mode: str

    def kwargs(self) -> dict:
        return {"group_size": self.group_size, "bits": self.bits, "mode": self.mode}


def plan(module: nn.Module, component: str, mode: QuantMode) -> dict[str, LayerQuant]:
    """{module path: quantization} of the Linear layers of `module` that `mode` quantizes."""
    if component not in KEEP:
        raise LtxmlxError(
            f"component {component!r} has no quantization table; quantizable: {', '.join(sorted(KEEP))}"
        )
    keep = [re.compile(p) for p in KEEP[component]]
    out = {}
    for path, layer in module.named_modules():
        if type(layer) is not nn.Linear or any(p.search(path) for p in keep):
            continue
        group = mode.group_size_for(layer.weight.shape[-1])
        if group is not None:
            out[path] = LayerQuant(group, mode.bits, mode.mlx_mode)
    return out


def swap_layers(module: nn.Module, layers: dict[str, LayerQuant]) -> None:
    """Replace the planned Linear layers by QuantizedLinear ones (their placeholder weights stay lazy)."""
    nn.quantize(module, class_predicate=lambda path, m: layers[path].kwargs() if path in layers else False)


def quantize_weights(weights: dict[str, mx.array], layers: dict[str, LayerQuant]) -> dict[str, mx.array]:
    """The planned layers' `.weight` replaced by MLX's packed weight, `.scales` and (affine) `.biases`."""
    out = dict(weights)
    for path, q in layers.items():
        key = f"{path}.weight"
        if key not in out:
            continue  # the strict load reports it
        packed, scales, *biases = mx.quantize(out.pop(key), **q.kwargs())
        out[key], out[f"{path}.scales"] = packed, scales
        if biases:
            out[f"{path}.biases"] = biases[0]
    return out



def quantize_module(module: nn.Module, component: str, mode: str) -> dict[str, LayerQuant]:
    """Quantize an already built `module` in place per the table (lazy; the caller evaluates). For
    models made without a file (benchmarks); builds from files quantize while loading instead."""
    q = quant_mode(mode)
    if q is None:
        return {}
    layers = plan(module, component, q)
    weights = quantize_weights(dict(tree_flatten(module.parameters())), layers)
    swap_layers(module, layers)
    module.load_weights(list(weights.items()), strict=True)
    return layers
