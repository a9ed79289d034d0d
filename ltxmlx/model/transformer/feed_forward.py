"""Position-wise feed-forward network: Linear -> GELU(tanh) -> Linear."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from ltxmlx.model.transformer import ops


class GELUApprox(nn.Module):
    """``proj`` linear followed by the tanh-approximated GELU."""

    def __init__(self, dim_in: int, dim_out: int, bias: bool = True):
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out, bias=bias)

    def __call__(self, x: mx.array) -> mx.array:
        return ops.gelu_tanh(self.proj(x))


class FeedForward(nn.Module):
    """``net = [GELUApprox(dim, mult*dim), Identity, Linear(mult*dim, dim)]``.

    The identity slot keeps checkpoint keys ``net.0.proj.*`` and ``net.2.*`` aligned. ``bias=False``
    (LTX-2.5 video stream) drops both linears' biases. x: (..., dim) -> (..., dim).
    """

    def __init__(self, dim: int, mult: int = 4, bias: bool = True):
        super().__init__()
        self.net = [GELUApprox(dim, dim * mult, bias), nn.Identity(), nn.Linear(dim * mult, dim, bias=bias)]

    def __call__(self, x: mx.array) -> mx.array:
        for layer in self.net:
            x = layer(x)
        return x
