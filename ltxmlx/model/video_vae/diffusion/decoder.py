"""LTX-2.5 diffusion video decoder: NA stages 1-4 turn the latent into a context volume, stage 5
denoises patchified pixel noise x_T into the video in `num_inference_steps` Euler steps.

Untiled decode. The latent is edge-padded to the decoder's minimum NA size and its last frame is
replicated for the temporal NA window of stages 1-4; the ghost frames are cropped before stage 5
and the padding is cropped from the pixels.
"""

from __future__ import annotations

from typing import Callable, Generator, Union

import mlx.core as mx
import numpy as np
from mlx import nn

from ltxmlx.errors import LtxmlxError, ShapeError
from ltxmlx.model.transformer.adaln import PixArtAlphaCombinedTimestepSizeEmbeddings
from ltxmlx.model.video_vae.diffusion.blocks import DiffusionNABlock, NABlock
from ltxmlx.model.video_vae.diffusion.config import DiffusionDecoderConfig
from ltxmlx.model.video_vae.diffusion.layers import NORM_EPS, AdaLNZero, LinearPixelShuffleUpsample
from ltxmlx.model.video_vae.ops import patchify, unpatchify
from ltxmlx.model.video_vae.per_channel_statistics import PerChannelStatistics

Noise = Union[mx.array, Callable[[tuple[int, ...]], mx.array]]


def _resize(x: mx.array, axis: int, size: int, symmetric: bool) -> mx.array:
    """Pad (edge replicate) or crop `axis` to `size`; symmetric splits the change need//2 before,
    the rest after, otherwise everything happens at the end."""
    length = x.shape[axis]
    if length == size:
        return x
    need = abs(size - length)
    before = need // 2 if symmetric else 0
    after = need - before
    if length > size:
        return mx.take(x, mx.arange(before, before + size), axis=axis)
    index = np.concatenate([np.zeros(before, np.int32), np.arange(length, dtype=np.int32), np.full(after, length - 1, np.int32)])
    return mx.take(x, mx.array(index), axis=axis)


class DiffusionVideoDecoder(nn.Module):
    """`decode(latent, noise)`: normalized latent (B, C, F, H, W) -> pixels (B, 3, 1 + 8(F-1), 32H, 32W)
    in about [-1, 1] (factors of the LTX configs)."""

    def __init__(self, config: DiffusionDecoderConfig):
        super().__init__()
        self.config = c = config
        self.per_channel_statistics = PerChannelStatistics(c.in_channels)
        self.conv_in = nn.Linear(c.in_channels, c.stage_channels[0])
        self.det_stages = [
            [NABlock(c.stage_channels[i], c.stage_kernels[i], c.head_dim) for _ in range(c.stage_depths[i])]
            for i in range(len(c.upsamples))
        ]
        self.upsamples = [
            LinearPixelShuffleUpsample(c.stage_channels[i], stride, reduction)
            for i, (stride, reduction) in enumerate(c.upsamples)
        ]
        context_channels = c.stage_channels[-1]
        self.t_embedder = PixArtAlphaCombinedTimestepSizeEmbeddings(c.t_emb_dim)
        pixel_channels = c.out_channels * c.patch_size**2
        self.conv_in_x_t = nn.Linear(pixel_channels, c.stage5_channels)
        self.shared_adaln = AdaLNZero(c.stage5_channels, c.t_emb_dim)
        self.diff_blocks = [
            DiffusionNABlock(c.stage5_channels, c.stage5_kernel, context_channels, c.head_dim)
            for _ in range(c.stage_depths[-1])
        ]
        self.norm_out = nn.RMSNorm(c.stage5_channels, eps=NORM_EPS)
        self.conv_out = nn.Linear(c.stage5_channels, pixel_channels)

    # -- geometry ---------------------------------------------------------------------------------
    def _work_size(self, t: int, h: int, w: int) -> tuple[int, int, int]:
        return tuple(max(n, m) for n, m in zip((t, h, w), self.config.min_latent_size))

    def noise_shape(self, latent_shape: tuple[int, ...]) -> tuple[int, int, int, int, int]:
        """Shape (B, out_channels, F, H, W) of the x_T noise for a latent (B, C, T, H, W): the pixel
        size of the latent after padding to the decoder's minimum size."""
        b, _, t, h, w = latent_shape
        ft, fh, fw = self.config.scale_factors
        tw, hw, ww = self._work_size(t, h, w)
        return (b, self.config.out_channels, 1 + (tw - 1) * ft, hw * fh, ww * fw)

    # -- stages 1-4 -------------------------------------------------------------------------------
    def context(self, latent: mx.array) -> mx.array:
        """Channels-last normalized latent (B, T, H, W, C), already padded to the minimum size ->
        upsampled stage-4 features (B, F', H', W', context channels) before each block's context_proj."""
        c = self.config
        ghost = c.trailing_pad_frames
        x = _resize(latent, 1, latent.shape[1] + ghost, symmetric=False)
        x = self.conv_in(self.per_channel_statistics.un_normalize(x))
        for i in range(len(self.upsamples) - 1):
            for block in self.det_stages[i]:
                x = block(x)
            x = self.upsamples[i](x)
        for block in self.det_stages[-1]:
            x = block(x)
        # Drop the ghost frames at stage-4 resolution, keeping enough frames for the stage-5 window.
        up_t = self.upsamples[-1].stride[0]
        frames = x.shape[1]
        content = max(frames - ghost * (c.scale_factors[0] // up_t), 1)
        keep = min(frames, max(content, -(-c.stage5_kernel[0] // up_t)))
        return self.upsamples[-1](x[:, :keep])

    # -- stage 5 ----------------------------------------------------------------------------------
    def predict(self, x_t: mx.array, context: mx.array, t: mx.array) -> mx.array:
        """One model evaluation: noisy pixels x_t (B, F, H, W, 3) at time t (B,) -> the model output
        (x0 or velocity per `config.model_output_type`), channels-last like x_t."""
        c = self.config
        x = self.conv_in_x_t(patchify(x_t.astype(self.conv_in_x_t.weight.dtype), c.patch_size))
        t_emb = self.t_embedder(c.timestep_scale_multiplier * t)
        modulation = [m.astype(x.dtype) for m in self.shared_adaln(t_emb.astype(x.dtype))]
        for block in self.diff_blocks:
            x = block(x, context, modulation)
        return unpatchify(self.conv_out(self.norm_out(x)), c.patch_size)

    def _velocity(self, x_t: mx.array, out: mx.array, t: float) -> mx.array:
        out = out.astype(mx.float32)
        return out if self.config.model_output_type == "v" else (x_t - out) / t

    def sample_steps(self, x_t: mx.array, context: mx.array) -> Generator[mx.array, None, mx.array]:
        """Euler from t=1 over `num_inference_steps` uniform times down to 1/n, then to 0, in float32.
        Yields the state after each non-final step (for a caller that evaluates per step) and returns
        the denoised pixels, channels-last like x_t."""
        n = self.config.num_inference_steps
        times = np.linspace(1.0, 1.0 / n, n).astype(np.float32)
        batch = x_t.shape[0]
        x_t = x_t.astype(mx.float32)
        for i, t in enumerate(times):
            out = self.predict(x_t, context, mx.full((batch,), float(t), dtype=mx.float32))
            if i == n - 1 and self.config.model_output_type == "x0":
                return out.astype(mx.float32)
            t_next = float(times[i + 1]) if i + 1 < n else 0.0
            x_t = x_t - np.float32(float(t) - t_next) * self._velocity(x_t, out, float(t))
            if i < n - 1:
                yield x_t
        return x_t

    # -- public -----------------------------------------------------------------------------------
    def decode_steps(
        self, latent: mx.array, noise: Noise, tiling: object | None = None
    ) -> Generator[mx.array, None, mx.array]:
        """`decode` as a generator: yields the context, then the state after each non-final Euler step,
        so a caller can evaluate them one at a time; returns the pixels (B, 3, F, H, W)."""
        if tiling is not None:
            raise LtxmlxError("tiled decode of the diffusion video decoder is not implemented; decode untiled")
        c = self.config
        if latent.ndim != 5 or latent.shape[1] != c.in_channels:
            raise ShapeError(
                f"DiffusionVideoDecoder: expected a latent (B, {c.in_channels}, T, H, W), got {tuple(latent.shape)}"
            )
        shape = self.noise_shape(tuple(latent.shape))
        x_t = noise(shape) if callable(noise) else noise
        if tuple(x_t.shape) != shape:
            raise ShapeError(f"DiffusionVideoDecoder: expected noise of shape {shape}, got {tuple(x_t.shape)}")
        _, _, t, h, w = latent.shape
        work = self._work_size(t, h, w)
        z = latent.astype(self.conv_in.weight.dtype).transpose(0, 2, 3, 4, 1)
        z = _resize(z, 1, work[0], symmetric=False)
        z = _resize(_resize(z, 2, work[1], symmetric=True), 3, work[2], symmetric=True)
        context = self.context(z)
        yield context
        x_t = x_t.transpose(0, 2, 3, 4, 1)
        x_t = _resize(x_t, 1, context.shape[1], symmetric=False)
        x_t = _resize(x_t, 2, context.shape[2] * c.patch_size, symmetric=True)
        x_t = _resize(x_t, 3, context.shape[3] * c.patch_size, symmetric=True)
        pixels = yield from self.sample_steps(x_t, context)
        ft, fh, fw = c.scale_factors
        h0, w0 = (work[1] - h) // 2 * fh, (work[2] - w) // 2 * fw
        pixels = pixels[:, : 1 + (t - 1) * ft, h0 : h0 + h * fh, w0 : w0 + w * fw]
        return pixels.transpose(0, 4, 1, 2, 3).astype(latent.dtype)

    def decode(self, latent: mx.array, noise: Noise, tiling: object | None = None) -> mx.array:
        """Normalized latent (B, C, T, H, W) -> pixels (B, out_channels, 1 + ft(T-1), fh*H, fw*W) in
        about [-1, 1], as one lazy graph.

        noise: x_T in `noise_shape(latent.shape)` (official layout), or a callable returning it for
        that shape (e.g. a draw from the item's own key). tiling: tiled decode is not implemented.
        """
        steps = self.decode_steps(latent, noise, tiling)
        while True:
            try:
                next(steps)
            except StopIteration as done:
                return done.value

    def __call__(self, latent: mx.array, noise: Noise) -> mx.array:
        return self.decode(latent, noise)
