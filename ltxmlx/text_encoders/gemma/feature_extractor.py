"""Feature extractors: all Gemma hidden states -> one text feature per token.

The official code stacks the L hidden states to (B, T, D, L), normalizes, flattens with the layer
index fastest (`d * L + l`) and applies one Linear(D*L -> out). We never build that (B, T, D*L)
tensor whole (6 GB for 16 prompts of the 12B model): it is built and multiplied a few tokens at a
time (`_flat_linear`), each layer normalized on the fly from statistics computed beforehand, so the
Linear can be any Linear, a quantized one included. Statistics are computed in float32 whatever the
model dtype.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import mlx.core as mx
from mlx import nn

from ltxmlx.errors import ShapeError

_EPS = 1e-6


def _check(states: list[mx.array], mask: mx.array, hidden: int, layers: int) -> None:
    if len(states) != layers:
        raise ShapeError(f"feature extractor: expected {layers} hidden states, got {len(states)}")
    for s in states:
        if s.ndim != 3 or s.shape[-1] != hidden or s.shape[:2] != mask.shape:
            raise ShapeError(
                f"feature extractor: expected hidden states (B, T, {hidden}) matching the mask "
                f"{tuple(mask.shape)}, got {tuple(s.shape)}"
            )


# Elements of one token block's flattened (rows, D*L) input: 128 Mi (256 MiB in bf16).
_BLOCK_ELEMENTS = 1 << 27


def _input_dtype(linear: nn.Module) -> mx.Dtype:
    """The dtype a Linear multiplies in: its weight's, or a quantized one's scales'."""
    return linear.scales.dtype if "scales" in linear else linear.weight.dtype


def _flat_linear(layers: int, shape: tuple[int, int, int], normed: Callable[[int, slice], mx.array],
                 linear: nn.Module) -> mx.array:
    """linear(flatten_{d, l}(stack([normed(l) for l], -1))) for (B, T, D) states, a block of tokens at
    a time; `normed(l, tokens)` gives layer l's normalized (B, t, D) float32 slice."""
    b, t, d = shape
    dtype = _input_dtype(linear)
    rows = max(1, _BLOCK_ELEMENTS // (b * d * layers))
    out = []
    for start in range(0, t, rows):
        tokens = slice(start, min(t, start + rows))
        x = mx.stack([normed(i, tokens).astype(dtype) for i in range(layers)], axis=-1)
        out.append(linear(x.reshape(b, x.shape[1], d * layers)))
    return out[0] if len(out) == 1 else mx.concatenate(out, axis=1)


class FeatureExtractorV1(nn.Module):
    """LTX-2 (19B): per sample and per layer `8 (x - mean) / (max - min + eps)` over valid tokens and
    all dims, pads zeroed, then `aggregate_embed` (D*L -> D, no bias). Video and audio share it."""

    def __init__(self, hidden: int, num_states: int):
        super().__init__()
        self.hidden, self.num_states = hidden, num_states
        self.aggregate_embed = nn.Linear(hidden * num_states, hidden, bias=False)

    def __call__(self, states: list[mx.array], mask: mx.array) -> tuple[mx.array, mx.array]:
        """states: L arrays (B, T, D); mask: (B, T) 1 = token -> (video, audio) features (B, T, D)."""
        _check(states, mask, self.hidden, self.num_states)
        valid = (mask != 0)[:, :, None]
        count = valid.astype(mx.float32).sum(axis=(1, 2), keepdims=True) * self.hidden
        stats = []
        for h in states:
            h = h.astype(mx.float32)
            mean = mx.where(valid, h, 0.0).sum(axis=(1, 2), keepdims=True) / (count + _EPS)
            lo = mx.where(valid, h, math.inf).min(axis=(1, 2), keepdims=True)
            hi = mx.where(valid, h, -math.inf).max(axis=(1, 2), keepdims=True)
            stats.append((mean, hi - lo + _EPS))

        def normed(i: int, tokens: slice) -> mx.array:
            mean, spread = stats[i]
            return mx.where(valid[:, tokens], 8.0 * (states[i][:, tokens].astype(mx.float32) - mean) / spread, 0.0)

        features = _flat_linear(self.num_states, states[0].shape, normed, self.aggregate_embed)
        return features, features


class FeatureExtractorV2(nn.Module):
    """LTX-2.3 (22B): per token and layer RMS norm over D, pads zeroed, scaled by sqrt(out/D), then
    separate `video_aggregate_embed` and `audio_aggregate_embed` (with bias)."""

    def __init__(self, hidden: int, num_states: int, video_dim: int, audio_dim: int):
        super().__init__()
        self.hidden, self.num_states = hidden, num_states
        self.video_dim, self.audio_dim = video_dim, audio_dim
        self.video_aggregate_embed = nn.Linear(hidden * num_states, video_dim)
        self.audio_aggregate_embed = nn.Linear(hidden * num_states, audio_dim)

    def __call__(self, states: list[mx.array], mask: mx.array) -> tuple[mx.array, mx.array]:
        """states: L arrays (B, T, D); mask: (B, T) -> video (B, T, Dv), audio (B, T, Da)."""
        _check(states, mask, self.hidden, self.num_states)
        valid = (mask != 0)[:, :, None]
        # Per token and layer, shared by both projections: (B, T, 1) each.
        inv_rms = [mx.rsqrt(mx.mean(mx.square(h.astype(mx.float32)), axis=-1, keepdims=True) + _EPS) for h in states]
        out = []
        projections = ((self.video_aggregate_embed, self.video_dim), (self.audio_aggregate_embed, self.audio_dim))
        for linear, width in projections:
            scale = math.sqrt(width / self.hidden)

            def normed(i: int, tokens: slice, scale: float = scale) -> mx.array:
                h = states[i][:, tokens].astype(mx.float32)
                return mx.where(valid[:, tokens], h * inv_rms[i][:, tokens], 0.0) * scale

            out.append(_flat_linear(self.num_states, states[0].shape, normed, linear))
        return out[0], out[1]
