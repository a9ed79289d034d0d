"""LTX-2.5 diffusion video decoder: NA stages 1-4 turn the latent into a context volume, stage 5
denoises patchified pixel noise x_T into the video in `num_inference_steps` Euler steps.

Untiled, or tiled (stages 4-5 per tile, see `tiling.py`). The latent is edge-padded to the decoder's
minimum NA size and its last frame is replicated for the temporal NA window of stages 1-4; the ghost frames are cropped before stage 5
and the padding is cropped from the pixels.
"""

from __future__ import annotations

from typing import Callable, Generator, Union

import mlx.core as mx
import numpy as np
from mlx import nn

from ltxmlx.errors import ShapeError
from ltxmlx.model.transformer.adaln import PixArtAlphaCombinedTimestepSizeEmbeddings
from ltxmlx.model.video_vae.diffusion.blocks import DiffusionNABlock, NABlock
from ltxmlx.model.video_vae.diffusion.config import DiffusionDecoderConfig
from ltxmlx.model.video_vae.diffusion.layers import NORM_EPS, AdaLNZero, LinearPixelShuffleUpsample
from ltxmlx.model.video_vae.diffusion.tiling import DiffusionTiling, schedule
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
    def stages_1_to_3(self, latent: mx.array) -> mx.array:
        """Channels-last normalized latent (B, T, H, W, C), already padded to the minimum size ->
        stage-4 input features, with the trailing ghost frames (replicated last latent frame)."""
        x = _resize(latent, 1, latent.shape[1] + self.config.trailing_pad_frames, symmetric=False)
        x = self.conv_in(self.per_channel_statistics.un_normalize(x))
        for i in range(len(self.upsamples) - 1):
            for block in self.det_stages[i]:
                x = block(x)
            x = self.upsamples[i](x)
        return x

    def stage_4(self, x: mx.array, origin: bool = True, trailing: bool = True) -> mx.array:
        """Stage-4 features (a tile of them) -> upsampled context (B, F', H', W', context channels),
        before each diffusion block's context_proj. origin: the tile starts at frame 0 (drops the
        duplicated first frame); trailing: it ends with the ghost frames, cropped here while keeping
        enough frames for the stage-5 window."""
        c = self.config
        for block in self.det_stages[-1]:
            x = block(x)
        up_t = self.upsamples[-1].stride[0]
        if trailing:
            frames = x.shape[1]
            content = max(frames - c.trailing_pad_frames * (c.scale_factors[0] // up_t), 1)
            x = x[:, : min(frames, max(content, -(-c.stage5_kernel[0] // up_t)))]
        return self.upsamples[-1](x, drop_leading_frame=origin)

    def context(self, latent: mx.array) -> mx.array:
        """Stages 1-4 on a whole padded channels-last latent (see `stages_1_to_3`, `stage_4`)."""
        return self.stage_4(self.stages_1_to_3(latent))

    def stage4_size(self, t: int, h: int, w: int) -> tuple[int, int, int]:
        """Stage-4 input (T, H, W) of a padded latent, without the ghost frames."""
        for (st, sh, sw), _ in self.config.upsamples[:-1]:
            t, h, w = t * st - (1 if st == 2 else 0), h * sh, w * sw
        return t, h, w

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
        self, latent: mx.array, noise: Noise, tiling: DiffusionTiling | None = None
    ) -> Generator[mx.array, None, mx.array]:
        """`decode` as a generator: yields intermediate states (context or stage-4 features, Euler
        states, per-tile accumulators) so a caller can evaluate them one at a time; returns the
        pixels (B, 3, F, H, W)."""
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
        x_t = x_t.transpose(0, 2, 3, 4, 1)
        if tiling is None:
            context = self.context(z)
            yield context
            pixels = yield from self.sample_steps(self._fit_noise(x_t, context), context)
        else:
            pixels = yield from self._tiled(z, x_t, tiling)
        ft, fh, fw = c.scale_factors
        h0, w0 = (work[1] - h) // 2 * fh, (work[2] - w) // 2 * fw
        pixels = pixels[:, : 1 + (t - 1) * ft, h0 : h0 + h * fh, w0 : w0 + w * fw]
        return pixels.transpose(0, 4, 1, 2, 3).astype(latent.dtype)

    def _fit_noise(self, x_t: mx.array, context: mx.array) -> mx.array:
        """x_T (a slice of it) resized to the stage-5 canvas of `context`, edge-replicated as the latent."""
        p = self.config.patch_size
        x_t = _resize(x_t, 1, context.shape[1], symmetric=False)
        x_t = _resize(x_t, 2, context.shape[2] * p, symmetric=True)
        return _resize(x_t, 3, context.shape[3] * p, symmetric=True)

    def _tiled(self, z: mx.array, x_t: mx.array, tiling: DiffusionTiling) -> Generator[mx.array, None, mx.array]:
        """Stages 1-3 once, then stages 4-5 per tile, blended by the tiles' weights."""
        s4 = self.stage4_size(*z.shape[1:4])
        feat = self.stages_1_to_3(z)
        yield feat
        accum = mx.zeros(x_t.shape, dtype=mx.float32)
        total = mx.zeros((*x_t.shape[1:4], 1), dtype=mx.float32)
        for tile in schedule(self.config, s4, tiling):
            (t0, t1, _), (h0, h1, _), (w0, w1, _) = (sl.indices(n) for sl, n in zip(tile.stage4, s4))
            origin, trailing = t0 == 0, t1 == s4[0]
            context = self.stage_4(feat[:, t0 : feat.shape[1] if trailing else t1, h0:h1, w0:w1], origin, trailing)
            region = tuple(sl.indices(n) for sl, n in zip(tile.pixels, x_t.shape[1:4]))
            pt, ph, pw = (slice(a, b) for a, b, _ in region)
            pixels = yield from self.sample_steps(self._fit_noise(x_t[:, pt, ph, pw], context), context)
            pixels = _resize(pixels, 1, pt.stop - pt.start, symmetric=False)
            pixels = _resize(_resize(pixels, 2, ph.stop - ph.start, symmetric=True), 3, pw.stop - pw.start, symmetric=True)
            wt, wh, ww = tile.weights
            weight = mx.array((wt[:, None, None] * wh[None, :, None] * ww[None, None, :])[..., None])
            weight = mx.broadcast_to(weight, (*pixels.shape[1:4], 1))
            accum[:, pt, ph, pw] = accum[:, pt, ph, pw] + pixels * weight
            total[pt, ph, pw] = total[pt, ph, pw] + weight
            yield accum
        return accum / mx.maximum(total, 1e-8)

    def decode(self, latent: mx.array, noise: Noise, tiling: DiffusionTiling | None = None) -> mx.array:
        """Normalized latent (B, C, T, H, W) -> pixels (B, out_channels, 1 + ft(T-1), fh*H, fw*W) in
        about [-1, 1], as one lazy graph.

        noise: x_T in `noise_shape(latent.shape)` (official layout), or a callable returning it for
        that shape (e.g. a draw from the item's own key). tiling: None for one untiled decode, or
        tile sizes and overlaps (see `tiling.DiffusionTiling`, `tiling.min_overlaps`).
        """
        steps = self.decode_steps(latent, noise, tiling)
        while True:
            try:
                next(steps)
            except StopIteration as done:
                return done.value

    def __call__(self, latent: mx.array, noise: Noise) -> mx.array:
        return self.decode(latent, noise)
