"""Latent <-> token layouts (patch size 1 in time for video; audio tokens are one latent frame each).

Video: (B, C, F, H, W) -> (B, F*(H/p)*(W/p), C*p*p), tokens frame-major, then row, then column.
Audio: (B, C, T, M) -> (B, T, C*M).
Every reshape checks divisibility first and names expected vs got.
"""

from __future__ import annotations

import mlx.core as mx

from ltxmlx.errors import ShapeError


def _check_ndim(x: mx.array, ndim: int, layout: str, what: str) -> None:
    if x.ndim != ndim:
        raise ShapeError(f"{what}: expected a {ndim}-D {layout} array, got shape {tuple(x.shape)}")


class VideoLatentPatchifier:
    """`b c f (h p) (w q) -> b (f h w) (c p q)`; LTX-2 uses patch_size 1."""

    def __init__(self, patch_size: int = 1):
        if patch_size < 1:
            raise ValueError(f"patch_size must be >= 1, got {patch_size}")
        self.patch_size = patch_size

    def token_count(self, frames: int, height: int, width: int) -> int:
        p = self.patch_size
        if height % p or width % p:
            raise ShapeError(f"latent height/width must be divisible by patch size {p}, got {height}x{width}")
        return frames * (height // p) * (width // p)

    def patchify(self, latent: mx.array) -> mx.array:
        """(B, C, F, H, W) -> (B, F*H'*W', C*p*p)."""
        _check_ndim(latent, 5, "(B, C, F, H, W)", "video patchify")
        b, c, f, h, w = latent.shape
        p = self.patch_size
        if h % p or w % p:
            raise ShapeError(f"video patchify: height and width must be divisible by {p}, got {h}x{w}")
        x = latent.reshape(b, c, f, h // p, p, w // p, p)
        x = x.transpose(0, 2, 3, 5, 1, 4, 6)
        return x.reshape(b, f * (h // p) * (w // p), c * p * p)

    def unpatchify(self, tokens: mx.array, frames: int, height: int, width: int) -> mx.array:
        """(B, T, C*p*p) -> (B, C, F, H, W) for a latent grid of frames x height x width."""
        _check_ndim(tokens, 3, "(B, T, D)", "video unpatchify")
        b, t, d = tokens.shape
        p = self.patch_size
        expected = self.token_count(frames, height, width)
        if t != expected:
            raise ShapeError(
                f"video unpatchify: expected {expected} tokens for a {frames}x{height}x{width} latent, got {t}"
            )
        if d % (p * p):
            raise ShapeError(f"video unpatchify: token width must be divisible by {p * p}, got {d}")
        c = d // (p * p)
        x = tokens.reshape(b, frames, height // p, width // p, c, p, p)
        x = x.transpose(0, 4, 1, 2, 5, 3, 6)
        return x.reshape(b, c, frames, height, width)


class AudioPatchifier:
    """`b c t f -> b t (c f)` and back."""

    def patchify(self, latent: mx.array) -> mx.array:
        """(B, C, T, M) -> (B, T, C*M)."""
        _check_ndim(latent, 4, "(B, C, T, M)", "audio patchify")
        b, c, t, m = latent.shape
        return latent.transpose(0, 2, 1, 3).reshape(b, t, c * m)

    def unpatchify(self, tokens: mx.array, channels: int, mel_bins: int) -> mx.array:
        """(B, T, C*M) -> (B, C, T, M)."""
        _check_ndim(tokens, 3, "(B, T, D)", "audio unpatchify")
        b, t, d = tokens.shape
        if d != channels * mel_bins:
            raise ShapeError(
                f"audio unpatchify: expected token width {channels}*{mel_bins}={channels * mel_bins}, got {d}"
            )
        return tokens.reshape(b, t, channels, mel_bins).transpose(0, 2, 1, 3)
