"""Channels-last (B, F, H, W, C) rearrangements and norms of the video VAE.

Channel orders follow the official channels-first einops patterns exactly, so that conv weights
load unchanged: patchify packs channel index c*p*p + r*p + q (width sub-index r before height q);
space-to-depth / depth-to-space pack (c, p1, p2, p3) with c slowest.
"""

from __future__ import annotations

import mlx.core as mx

from ltxmlx.errors import ShapeError

PIXEL_NORM_EPS = 1e-8


def pixel_norm(x: mx.array, eps: float = PIXEL_NORM_EPS) -> mx.array:
    """RMS-normalize over the channel (last) axis, without weight; accumulates in float32."""
    return mx.fast.rms_norm(x, None, eps)


def _check_divisible(what: str, shape: tuple[int, ...], axes: tuple[int, ...], factors: tuple[int, ...]) -> None:
    for axis, factor in zip(axes, factors):
        if shape[axis] % factor:
            raise ShapeError(f"{what}: expected axis {axis} of {tuple(shape)} divisible by {factor}, got {shape[axis]}")


def patchify(x: mx.array, patch: int) -> mx.array:
    """(B, F, H*p, W*p, C) -> (B, F, H, W, C*p*p); channel index c*p*p + r*p + q (r: width, q: height)."""
    if patch == 1:
        return x
    b, f, hp, wp, c = x.shape
    _check_divisible("patchify", x.shape, (2, 3), (patch, patch))
    h, w = hp // patch, wp // patch
    x = x.reshape(b, f, h, patch, w, patch, c)  # (b f h q w r c)
    x = x.transpose(0, 1, 2, 4, 6, 5, 3)  # (b f h w c r q)
    return x.reshape(b, f, h, w, c * patch * patch)


def unpatchify(x: mx.array, patch: int) -> mx.array:
    """Inverse of `patchify`: (B, F, H, W, C*p*p) -> (B, F, H*p, W*p, C)."""
    if patch == 1:
        return x
    b, f, h, w, cpp = x.shape
    _check_divisible("unpatchify", x.shape, (4,), (patch * patch,))
    c = cpp // (patch * patch)
    x = x.reshape(b, f, h, w, c, patch, patch)  # (b f h w c r q)
    x = x.transpose(0, 1, 2, 6, 3, 5, 4)  # (b f h q w r c)
    return x.reshape(b, f, h * patch, w * patch, c)


def space_to_depth(x: mx.array, stride: tuple[int, int, int]) -> mx.array:
    """(B, F*s1, H*s2, W*s3, C) -> (B, F, H, W, C*s1*s2*s3), channel order (c, s1, s2, s3)."""
    s1, s2, s3 = stride
    b, fs, hs, ws, c = x.shape
    _check_divisible("space_to_depth", x.shape, (1, 2, 3), stride)
    f, h, w = fs // s1, hs // s2, ws // s3
    x = x.reshape(b, f, s1, h, s2, w, s3, c)
    x = x.transpose(0, 1, 3, 5, 7, 2, 4, 6)  # (b f h w c s1 s2 s3)
    return x.reshape(b, f, h, w, c * s1 * s2 * s3)


def depth_to_space(x: mx.array, stride: tuple[int, int, int]) -> mx.array:
    """(B, F, H, W, C*s1*s2*s3) -> (B, F*s1, H*s2, W*s3, C); inverse of `space_to_depth`."""
    s1, s2, s3 = stride
    b, f, h, w, cs = x.shape
    n = s1 * s2 * s3
    _check_divisible("depth_to_space", x.shape, (4,), (n,))
    c = cs // n
    x = x.reshape(b, f, h, w, c, s1, s2, s3)
    x = x.transpose(0, 1, 5, 2, 6, 3, 7, 4)  # (b f s1 h s2 w s3 c)
    return x.reshape(b, f * s1, h * s2, w * s3, c)
