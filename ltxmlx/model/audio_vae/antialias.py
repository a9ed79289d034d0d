"""BigVGAN-v2 anti-aliased SnakeBeta activation and the sinc resamplers, channels-last (B, T, C).

The x2 kaiser-sinc filters of `Activation1d` are `filter` buffers of the checkpoint (12 taps, stored
(1, k, 1) after the loader's transpose). The x3 hann-sinc filter of the BWE skip path is not stored
and is computed here the way torchaudio's resample kernel is (rolloff 0.99, 6 zero crossings).
"""

from __future__ import annotations

import math

import mlx.core as mx
import mlx.nn as nn
import numpy as np

from ltxmlx.model.audio_vae import snake_kernel

FILTER_TAPS = snake_kernel.TAPS
SNAKE_EPS = 1e-9


def _depthwise(filt: mx.array, channels: int, dtype: mx.Dtype) -> mx.array:
    """(1, k, 1) filter -> (C, k, 1) weight of a grouped conv applying it to every channel."""
    return mx.broadcast_to(filt.astype(dtype), (channels, filt.shape[1], 1))


def upsample_with_filter(x: mx.array, filt: mx.array, ratio: int, pad: int, crop_left: int, crop_right: int) -> mx.array:
    """Edge-pad by `pad`, zero-stuffed transposed conv (stride `ratio`) times `ratio`, then crop."""
    c = x.shape[-1]
    x = mx.pad(x, [(0, 0), (pad, pad), (0, 0)], mode="edge")
    y = mx.conv_transpose1d(x, _depthwise(filt, c, x.dtype), stride=ratio, groups=c) * ratio
    return y[:, crop_left : y.shape[1] - crop_right]


class UpSample1d(nn.Module):
    """x2 kaiser-sinc upsampler (BigVGAN). T -> 2T."""

    def __init__(self, ratio: int = 2, kernel_size: int = FILTER_TAPS):
        super().__init__()
        self.filter = mx.zeros((1, kernel_size, 1))
        self.ratio = ratio
        self.pad = kernel_size // ratio - 1
        self.crop_left = self.pad * ratio + (kernel_size - ratio) // 2
        self.crop_right = self.pad * ratio + (kernel_size - ratio + 1) // 2

    def __call__(self, x: mx.array) -> mx.array:
        return upsample_with_filter(x, self.filter, self.ratio, self.pad, self.crop_left, self.crop_right)


class LowPassFilter1d(nn.Module):
    """Edge-padded depthwise FIR with stride: the anti-aliasing half of `DownSample1d`."""

    def __init__(self, stride: int = 2, kernel_size: int = FILTER_TAPS):
        super().__init__()
        self.filter = mx.zeros((1, kernel_size, 1))
        self.stride = stride
        even = kernel_size % 2 == 0
        self.pad_left = kernel_size // 2 - int(even)
        self.pad_right = kernel_size // 2

    def __call__(self, x: mx.array) -> mx.array:
        c = x.shape[-1]
        x = mx.pad(x, [(0, 0), (self.pad_left, self.pad_right), (0, 0)], mode="edge")
        return mx.conv1d(x, _depthwise(self.filter, c, x.dtype), stride=self.stride, groups=c)


class DownSample1d(nn.Module):
    """x2 lowpass downsampler. 2T -> T."""

    def __init__(self, ratio: int = 2, kernel_size: int = FILTER_TAPS):
        super().__init__()
        self.lowpass = LowPassFilter1d(ratio, kernel_size)

    def __call__(self, x: mx.array) -> mx.array:
        return self.lowpass(x)


class SnakeBeta(nn.Module):
    """x + sin^2(x * e^alpha) / (e^beta + eps), per channel; alpha and beta are stored in log scale."""

    def __init__(self, channels: int):
        super().__init__()
        self.alpha = mx.zeros((channels,))
        self.beta = mx.zeros((channels,))

    def __call__(self, x: mx.array) -> mx.array:
        alpha = mx.exp(self.alpha.astype(x.dtype))
        beta = mx.exp(self.beta.astype(x.dtype))
        s = mx.sin(x * alpha)
        return x + (1.0 / (beta + SNAKE_EPS)) * (s * s)


class Activation1d(nn.Module):
    """Anti-aliased activation: upsample x2 -> SnakeBeta -> lowpass + downsample x2 (keeps length)."""

    def __init__(self, channels: int):
        super().__init__()
        self.act = SnakeBeta(channels)
        self.upsample = UpSample1d()
        self.downsample = DownSample1d()

    def __call__(self, x: mx.array) -> mx.array:
        if snake_kernel.available(x):  # one fused pass on CUDA, same math
            return snake_kernel.anti_aliased_snake(
                x, self.upsample.filter, self.downsample.lowpass.filter, self.act.alpha, self.act.beta)
        return self.composed(x)

    def composed(self, x: mx.array) -> mx.array:
        """The activation from MLX ops (every backend; the reference of the fused kernel)."""
        return self.downsample(self.act(self.upsample(x)))


def hann_sinc_filter(ratio: int, rolloff: float = 0.99, zero_crossings: int = 6) -> np.ndarray:
    """(2 * width * ratio + 1,) lowpass interpolation kernel of torchaudio's sinc_interp_hann resampling."""
    width = math.ceil(zero_crossings / rolloff)
    t = (np.arange(2 * width * ratio + 1, dtype=np.float64) / ratio - width) * rolloff
    window = np.cos(np.clip(t, -zero_crossings, zero_crossings) * math.pi / zero_crossings / 2) ** 2
    return np.sinc(t) * window * rolloff / ratio


class HannSincUpsampler:
    """Integer-ratio upsampler of the BWE skip path (not a module: its filter is computed, not loaded).

    Callable: (B, T, C) -> (B, ratio * T, C).
    """

    def __init__(self, ratio: int):
        taps = hann_sinc_filter(ratio)
        width = (taps.shape[0] - 1) // (2 * ratio)
        self.ratio, self.pad = ratio, width
        self.crop_left, self.crop_right = 2 * width * ratio, taps.shape[0] - ratio
        self._filter = mx.array(taps.astype(np.float32)[None, :, None])

    def __call__(self, x: mx.array) -> mx.array:
        return upsample_with_filter(x, self._filter, self.ratio, self.pad, self.crop_left, self.crop_right)
