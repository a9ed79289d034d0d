"""AudioDecoder: normalized latent (B, z, T, F') -> stereo log-mel (B, 2, 4T-3, mel_bins)."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from ltxmlx.errors import ShapeError
from ltxmlx.model.audio_vae.config import LATENT_DOWNSAMPLE_FACTOR, AudioVAEConfig
from ltxmlx.model.audio_vae.layers import (
    CausalConv2d,
    Level,
    MidBlock,
    PerChannelStatistics,
    ResnetBlock,
    Upsample,
    latent_from_tokens,
    pixel_norm,
    tokens_from_latent,
)


def decoded_frames(latent_frames: int) -> int:
    """Mel frames the decoder returns for `latent_frames` latent frames (causal: the first stays single)."""
    return max(latent_frames * LATENT_DOWNSAMPLE_FACTOR - (LATENT_DOWNSAMPLE_FACTOR - 1), 1)


class AudioDecoder(nn.Module):
    """Mirror of the encoder: conv_in -> mid -> up levels (deepest first) -> PixelNorm -> SiLU -> conv_out."""

    def __init__(self, config: AudioVAEConfig):
        super().__init__()
        self.config = config
        ch, mult = config.ch, config.ch_mult
        block_in = ch * mult[-1]
        self.per_channel_statistics = PerChannelStatistics(ch)
        self.conv_in = CausalConv2d(config.z_channels, block_in, 3)
        self.mid = MidBlock(block_in)
        levels: list[Level] = []
        for level in reversed(range(config.num_resolutions)):
            blocks = []
            for _ in range(config.num_res_blocks + 1):
                blocks.append(ResnetBlock(block_in, ch * mult[level]))
                block_in = ch * mult[level]
            stage = Level(blocks)
            if level != 0:
                stage.upsample = Upsample(block_in)
            levels.insert(0, stage)
        self.up = levels
        self.conv_out = CausalConv2d(block_in, config.out_ch, 3)

    def __call__(self, latent: mx.array) -> mx.array:
        """latent (B, z_channels, T, latent_mel_bins) -> log-mel (B, out_ch, decoded_frames(T), mel_bins)."""
        cfg = self.config
        if latent.ndim != 4 or latent.shape[1] != cfg.z_channels or latent.shape[3] != cfg.latent_mel_bins:
            raise ShapeError(
                f"audio latent: expected (B, {cfg.z_channels}, T, {cfg.latent_mel_bins}), got {tuple(latent.shape)}")
        if latent.shape[2] < 1:
            raise ShapeError(f"audio latent: expected at least one frame, got {tuple(latent.shape)}")
        frames = decoded_frames(latent.shape[2])
        x = latent.transpose(0, 2, 3, 1)  # channels-last (B, T, F, z)
        x = self.per_channel_statistics.un_normalize(tokens_from_latent(x))
        x = latent_from_tokens(x, cfg.z_channels, cfg.latent_mel_bins)

        h = self.mid(self.conv_in(x))
        for level in reversed(range(cfg.num_resolutions)):
            stage = self.up[level]
            for block in stage.block:
                h = block(h)
            if level != 0:
                h = stage.upsample(h)
        h = self.conv_out(nn.silu(pixel_norm(h)))
        return _fit(h, frames, cfg.mel_bins).transpose(0, 3, 1, 2)


def _fit(x: mx.array, frames: int, mel_bins: int) -> mx.array:
    """Crop or zero-pad (B, T, F, C) at the end of time and mel to exactly (frames, mel_bins)."""
    x = x[:, :frames, :mel_bins]
    pad_t, pad_f = frames - x.shape[1], mel_bins - x.shape[2]
    if pad_t or pad_f:
        x = mx.pad(x, [(0, 0), (0, pad_t), (0, pad_f), (0, 0)])
    return x
