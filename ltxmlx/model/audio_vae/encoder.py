"""AudioEncoder: stereo log-mel (B, 2, T, mel_bins) -> normalized latent means (B, z, T', mel_bins / 4)."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from ltxmlx.errors import ShapeError
from ltxmlx.model.audio_vae.config import AudioVAEConfig
from ltxmlx.model.audio_vae.layers import (
    CausalConv2d,
    Downsample,
    Level,
    MidBlock,
    PerChannelStatistics,
    ResnetBlock,
    latent_from_tokens,
    pixel_norm,
    tokens_from_latent,
)


def encoded_frames(mel_frames: int, num_downsamples: int) -> int:
    """Latent frames for `mel_frames` input frames: each causal stride-2 level maps n -> (n - 1) // 2 + 1."""
    for _ in range(num_downsamples):
        mel_frames = (mel_frames - 1) // 2 + 1
    return mel_frames


class AudioEncoder(nn.Module):
    """conv_in -> down levels (stride-2 between levels) -> mid -> PixelNorm -> SiLU -> conv_out -> means."""

    def __init__(self, config: AudioVAEConfig):
        super().__init__()
        self.config = config
        ch, mult = config.ch, config.ch_mult
        self.per_channel_statistics = PerChannelStatistics(ch)
        self.conv_in = CausalConv2d(config.in_channels, ch, 3)
        levels: list[Level] = []
        block_in = ch
        for level in range(config.num_resolutions):
            blocks = []
            for _ in range(config.num_res_blocks):
                blocks.append(ResnetBlock(block_in, ch * mult[level]))
                block_in = ch * mult[level]
            stage = Level(blocks)
            if level != config.num_resolutions - 1:
                stage.downsample = Downsample(block_in)
            levels.append(stage)
        self.down = levels
        self.mid = MidBlock(block_in)
        self.conv_out = CausalConv2d(block_in, 2 * config.z_channels, 3)

    def __call__(self, mel: mx.array) -> mx.array:
        """mel (B, in_channels, T, mel_bins) -> latent (B, z_channels, encoded_frames(T), latent_mel_bins)."""
        cfg = self.config
        if mel.ndim != 4 or mel.shape[1] != cfg.in_channels or mel.shape[3] != cfg.mel_bins:
            raise ShapeError(
                f"audio encoder input: expected (B, {cfg.in_channels}, T, {cfg.mel_bins}), got {tuple(mel.shape)}")
        if mel.shape[2] < 1:
            raise ShapeError(f"audio encoder input: expected at least one mel frame, got {tuple(mel.shape)}")
        h = self.conv_in(mel.transpose(0, 2, 3, 1))  # channels-last (B, T, F, C)
        for level, stage in enumerate(self.down):
            for block in stage.block:
                h = block(h)
            if level != cfg.num_resolutions - 1:
                h = stage.downsample(h)
        h = self.mid(h)
        h = self.conv_out(nn.silu(pixel_norm(h)))
        # The second half holds log-variances; inference uses the means only.
        means = h[..., : cfg.z_channels]
        tokens = self.per_channel_statistics.normalize(tokens_from_latent(means))
        return latent_from_tokens(tokens, cfg.z_channels, means.shape[2]).transpose(0, 3, 1, 2)
