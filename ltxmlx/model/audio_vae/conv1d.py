"""1D convolutions for the vocoders, channels-last (B, T, C), with PyTorch's padding semantics.

Weights follow the activations' dtype (like autocast), so a float32 pass stays float32 even when the
module holds bfloat16 weights. Parameters start at zero: real values always come from a checkpoint.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn


class Conv1d(nn.Module):
    """Symmetric zero padding `dilation * (k - 1) / 2` ("same" for odd k). weight (out, k, in)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1, bias: bool = True):
        super().__init__()
        self.weight = mx.zeros((out_channels, kernel_size, in_channels))
        if bias:
            self.bias = mx.zeros((out_channels,))
        self.dilation = dilation
        self.padding = dilation * (kernel_size - 1) // 2

    def __call__(self, x: mx.array) -> mx.array:
        y = mx.conv1d(x, self.weight.astype(x.dtype), padding=self.padding, dilation=self.dilation)
        return y + self.bias.astype(x.dtype) if "bias" in self else y


class ConvTranspose1d(nn.Module):
    """Upsampling by `stride` with padding (k - stride) / 2, so T -> stride * T. weight (out, k, in)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int):
        super().__init__()
        self.weight = mx.zeros((out_channels, kernel_size, in_channels))
        self.bias = mx.zeros((out_channels,))
        self.stride = stride
        self.padding = (kernel_size - stride) // 2

    def __call__(self, x: mx.array) -> mx.array:
        y = mx.conv_transpose1d(x, self.weight.astype(x.dtype), stride=self.stride, padding=self.padding)
        return y + self.bias.astype(x.dtype)
