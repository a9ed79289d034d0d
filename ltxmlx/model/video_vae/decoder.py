"""Video VAE decoder (convolutional, no timestep conditioning): normalized latent -> pixels."""

from __future__ import annotations

from collections.abc import Callable

import mlx.core as mx
from mlx import nn

from ltxmlx.errors import ShapeError
from ltxmlx.model.video_vae.config import VideoDecoderConfig
from ltxmlx.model.video_vae.convolution import CausalConv3d
from ltxmlx.model.video_vae.ops import pixel_norm, unpatchify
from ltxmlx.model.video_vae.per_channel_statistics import PerChannelStatistics
from ltxmlx.model.video_vae.resnet import UNetMidBlock3D
from ltxmlx.model.video_vae.sampling import DepthToSpaceUpsample
from ltxmlx.model.video_vae.temporal_context import TemporalContext

StreamStage = Callable[[mx.array | None, TemporalContext], mx.array | None]


class VideoDecoder(nn.Module):
    """un_normalize -> conv_in -> up_blocks (config blocks reversed) -> pixel norm -> SiLU ->
    conv_out -> unpatchify. Convolutions are non-causal unless `causal_decoder` is set."""

    def __init__(self, config: VideoDecoderConfig):
        super().__init__()
        self.config = config
        pad = config.padding_mode
        width = config.bottleneck_channels
        self.per_channel_statistics = PerChannelStatistics(config.latent_channels)
        self.conv_in = CausalConv3d(config.latent_channels, width, 3, pad)
        self.up_blocks = []
        for block in reversed(config.blocks):
            if block.name == "res_x":
                self.up_blocks.append(UNetMidBlock3D(width, block.num_layers, pad))
            else:
                self.up_blocks.append(DepthToSpaceUpsample(width, block.stride, block.multiplier, block.residual, pad))
                width //= block.multiplier
        self.conv_out = CausalConv3d(width, config.out_channels * config.patch_size**2, 3, pad)

    def output_shape(self, frames: int, height: int, width: int) -> tuple[int, int, int]:
        """Latent (F', H', W') -> pixel (F, H, W): F = (F'-1)*t + 1, H = H'*h, W = W'*w."""
        t, h, w = self.config.scale_factors
        return (frames - 1) * t + 1, height * h, width * w

    def check_latent(self, latent: mx.array, channels_last: bool = False) -> None:
        """Raise ShapeError unless latent is 5-D with latent_channels channels (and, with reflect
        padding, at least 2 rows and columns)."""
        layout = "(B, F, H, W, C)" if channels_last else "(B, C, F, H, W)"
        if latent.ndim != 5:
            raise ShapeError(f"VideoDecoder: expected a 5-D latent {layout}, got shape {tuple(latent.shape)}")
        c = latent.shape[4] if channels_last else latent.shape[1]
        if c != self.config.latent_channels:
            raise ShapeError(
                f"VideoDecoder: expected {self.config.latent_channels} latent channels in {layout}, "
                f"got {c} (shape {tuple(latent.shape)})"
            )
        h, w = (latent.shape[2], latent.shape[3]) if channels_last else (latent.shape[3], latent.shape[4])
        if self.config.padding_mode == "reflect" and min(h, w) < 2:
            raise ShapeError(f"VideoDecoder: reflect padding needs latent H and W >= 2, got {h}x{w}")

    def decode(self, z: mx.array) -> mx.array:
        """Channels-last latent (B, F', H', W', C) -> pixels (B, F, H, W, 3), roughly in [-1, 1],
        in the latent's dtype."""
        causal = self.config.causal
        out_dtype = z.dtype
        # Run in the weights' dtype (a float32 latent must not promote bf16 convs to float32).
        x = self.per_channel_statistics.un_normalize(z.astype(self.conv_in.conv.weight.dtype))
        x = self.conv_in(x, causal)
        for block in self.up_blocks:
            x = block(x, causal)
        x = self.conv_out(nn.silu(pixel_norm(x)), causal)
        return unpatchify(x, self.config.patch_size).astype(out_dtype)

    def stream_stages(self) -> list[StreamStage]:
        """`decode` as a chain of streamable stages: conv_in, each residual block, each upsampler,
        conv_out (the order of `memory.stage_profiles`). Each maps a chunk of its input frames (or
        None) and its TemporalContext to the output frames known so far (or None); fed a whole video
        chunk by chunk, the last stage's chunks concatenate to `decode` of it."""
        causal = self.config.causal
        dtype = self.conv_in.conv.weight.dtype

        def conv_in(x: mx.array | None, ctx: TemporalContext) -> mx.array | None:
            x = None if x is None else self.per_channel_statistics.un_normalize(x.astype(dtype))
            return self.conv_in.stream(x, causal, ctx)

        def conv_out(x: mx.array | None, ctx: TemporalContext) -> mx.array | None:
            y = self.conv_out.stream(None if x is None else nn.silu(pixel_norm(x)), causal, ctx)
            return None if y is None else unpatchify(y, self.config.patch_size)

        stages: list[StreamStage] = [conv_in]
        for block in self.up_blocks:
            if isinstance(block, UNetMidBlock3D):
                stages.extend(_bind(res, causal) for res in block.res_blocks)
            else:
                stages.append(_bind(block, causal))
        return [*stages, conv_out]

    def __call__(self, latent: mx.array) -> mx.array:
        """Official layout: latent (B, C, F', H', W') -> video (B, 3, F, H, W) (see `output_shape`)."""
        self.check_latent(latent)
        return self.decode(latent.transpose(0, 2, 3, 4, 1)).transpose(0, 4, 1, 2, 3)


def _bind(block: nn.Module, causal: bool) -> StreamStage:
    return lambda x, ctx: block.stream(x, causal, ctx)
