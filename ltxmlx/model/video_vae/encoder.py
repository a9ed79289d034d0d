"""Video VAE encoder: pixels in [-1, 1] -> normalized latent means."""

from __future__ import annotations

import mlx.core as mx
from mlx import nn

from ltxmlx.errors import ShapeError
from ltxmlx.model.video_vae.config import VideoEncoderConfig
from ltxmlx.model.video_vae.convolution import CausalConv3d
from ltxmlx.model.video_vae.ops import patchify, pixel_norm
from ltxmlx.model.video_vae.per_channel_statistics import PerChannelStatistics
from ltxmlx.model.video_vae.resnet import UNetMidBlock3D
from ltxmlx.model.video_vae.sampling import SpaceToDepthDownsample


class VideoEncoder(nn.Module):
    """patchify -> conv_in -> down_blocks -> pixel norm -> SiLU -> conv_out -> means -> normalize.
    All convolutions are causal (frame 0 repeated in front)."""

    def __init__(self, config: VideoEncoderConfig):
        super().__init__()
        self.config = config
        pad = config.padding_mode
        width = config.latent_channels
        self.per_channel_statistics = PerChannelStatistics(config.latent_channels)
        self.conv_in = CausalConv3d(config.in_channels * config.patch_size**2, width, 3, pad)
        self.down_blocks = []
        for block in config.blocks:
            if block.name == "res_x":
                self.down_blocks.append(UNetMidBlock3D(width, block.num_layers, pad))
            else:
                out = width * block.multiplier
                self.down_blocks.append(SpaceToDepthDownsample(width, out, block.stride, pad))
                width = out
        self.conv_out = CausalConv3d(width, config.conv_out_channels, 3, pad)

    def check_input(self, video: mx.array) -> None:
        """Raise ShapeError unless video is (B, in_channels, 1 + t*k, h*m, w*m) for the VAE's factors."""
        c = self.config
        t, h, w = c.scale_factors
        if video.ndim != 5:
            raise ShapeError(f"VideoEncoder: expected a 5-D video (B, C, F, H, W), got shape {tuple(video.shape)}")
        _, ch, f, hh, ww = video.shape
        if ch != c.in_channels:
            raise ShapeError(f"VideoEncoder: expected {c.in_channels} channels, got {ch} (shape {tuple(video.shape)})")
        if (f - 1) % t:
            raise ShapeError(f"VideoEncoder: expected {t}k+1 frames, got {f}")
        if hh % h or ww % w:
            raise ShapeError(f"VideoEncoder: expected H and W divisible by {h} and {w}, got {hh}x{ww}")

    def encode(self, x: mx.array) -> mx.array:
        """Channels-last video (B, F, H, W, C) in [-1, 1] -> normalized latent (B, F', H', W', latent_channels)."""
        out_dtype = x.dtype
        x = self.conv_in(patchify(x.astype(self.conv_in.conv.weight.dtype), self.config.patch_size), True)
        for block in self.down_blocks:
            x = block(x, True)
        x = self.conv_out(nn.silu(pixel_norm(x)), True)
        return self.per_channel_statistics.normalize(x[..., : self.config.latent_channels]).astype(out_dtype)

    def __call__(self, video: mx.array) -> mx.array:
        """Official layout: video (B, C, F, H, W) in [-1, 1] -> latent (B, latent_channels, F', H', W'),
        F' = (F-1)/8 + 1, H' = H/32, W' = W/32 for the LTX configs."""
        self.check_input(video)
        return self.encode(video.transpose(0, 2, 3, 4, 1)).transpose(0, 4, 1, 2, 3)
