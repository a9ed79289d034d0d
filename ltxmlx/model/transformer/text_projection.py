"""Caption projection (PixArt-alpha style) of the LTX-2 19B transformer."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn


class PixArtAlphaTextProjection(nn.Module):
    """``linear_2(gelu_tanh(linear_1(x)))``: (..., in_features) -> (..., out_features)."""

    def __init__(self, in_features: int, hidden_size: int, out_features: int | None = None):
        super().__init__()
        self.linear_1 = nn.Linear(in_features, hidden_size)
        self.linear_2 = nn.Linear(hidden_size, hidden_size if out_features is None else out_features)

    def __call__(self, x: mx.array) -> mx.array:
        return self.linear_2(nn.gelu_approx(self.linear_1(x)))
