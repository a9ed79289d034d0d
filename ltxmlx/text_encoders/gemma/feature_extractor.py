"""Feature extractors: all Gemma hidden states -> one text feature per token.

The official code stacks the L hidden states to (B, T, D, L), normalizes, flattens with the layer
index fastest (`d * L + l`) and applies one Linear(D*L -> out). We never build that (B, T, D*L)
tensor (6 GB for 16 prompts of the 12B model): with W viewed as (out, D, L), the Linear is the sum
over layers of `normed_l @ W[:, :, l].T`, and both normalizations act on each layer separately.
Statistics are computed in float32 whatever the model dtype.
"""

from __future__ import annotations

import math

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


def _layer_linear(normed: list[mx.array], linear: nn.Linear, hidden: int) -> mx.array:
    """linear(flatten_{d, l}(stack(normed, -1))) without materializing the flattened input."""
    w = linear.weight.reshape(linear.weight.shape[0], hidden, len(normed))
    out = None
    for i, x in enumerate(normed):
        y = x.astype(w.dtype) @ w[:, :, i].T
        out = y if out is None else out + y
    return out + linear.bias if "bias" in linear else out


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
        normed = []
        for h in states:
            h = h.astype(mx.float32)
            mean = mx.where(valid, h, 0.0).sum(axis=(1, 2), keepdims=True) / (count + _EPS)
            lo = mx.where(valid, h, math.inf).min(axis=(1, 2), keepdims=True)
            hi = mx.where(valid, h, -math.inf).max(axis=(1, 2), keepdims=True)
            normed.append(mx.where(valid, 8.0 * (h - mean) / (hi - lo + _EPS), 0.0))
        features = _layer_linear(normed, self.aggregate_embed, self.hidden)
        return features, features


class FeatureExtractorV2(nn.Module):
    """LTX-2.3 (22B): per token and layer RMS norm over D, pads zeroed, scaled by sqrt(out/D), then
    separate `video_aggregate_embed` and `audio_aggregate_embed` (with bias)."""

    def __init__(self, hidden: int, num_states: int, video_dim: int, audio_dim: int):
        super().__init__()
        self.hidden, self.num_states = hidden, num_states
        self.video_aggregate_embed = nn.Linear(hidden * num_states, video_dim)
        self.audio_aggregate_embed = nn.Linear(hidden * num_states, audio_dim)

    def __call__(self, states: list[mx.array], mask: mx.array) -> tuple[mx.array, mx.array]:
        """states: L arrays (B, T, D); mask: (B, T) -> video (B, T, Dv), audio (B, T, Da)."""
        _check(states, mask, self.hidden, self.num_states)
        valid = (mask != 0)[:, :, None]
        normed = []
        for h in states:
            h = h.astype(mx.float32)
            rms = mx.rsqrt(mx.mean(h * h, axis=-1, keepdims=True) + _EPS)
            normed.append(mx.where(valid, h * rms, 0.0))
        out = []
        for linear in (self.video_aggregate_embed, self.audio_aggregate_embed):
            scale = math.sqrt(linear.weight.shape[0] / self.hidden)
            out.append(_layer_linear([x * scale for x in normed], linear, self.hidden))
        return out[0], out[1]
