"""Self-attention weights of appended conditioning tokens: the (B, T, T) mask in [0, 1] that the
transformer turns into an additive log bias, and the pixel-mask -> latent-token downsampling.

Block structure after appending M tokens to N existing ones (the first `noisy` are the generated
tokens): the existing block is kept (ones if there was no mask), the new tokens attend fully among
themselves, noisy <-> new take the per-token cross weight, earlier conditioning groups <-> new are 0.
"""

from __future__ import annotations

import mlx.core as mx
import numpy as np

from ltxmlx.errors import ShapeError


def cross_weights(weight: float | mx.array, batch: int, num_new: int) -> mx.array:
    """A scalar, (M,) or (B|1, M) weight -> (B, M) float32."""
    w = mx.array(weight, dtype=mx.float32)
    if w.ndim == 0:
        return mx.full((batch, num_new), w)
    if w.ndim == 1:
        w = w[None]
    if w.ndim != 2 or w.shape[1] != num_new or w.shape[0] not in (1, batch):
        raise ShapeError(f"attention weights: expected a scalar, ({num_new},) or ({batch}|1, {num_new}), "
                         f"got shape {tuple(w.shape)}")
    return mx.broadcast_to(w, (batch, num_new))


def extend_attention_mask(existing: mx.array | None, num_noisy: int, num_existing: int,
                          cross: mx.array) -> mx.array:
    """The (B, N+M, N+M) mask after appending M tokens whose noisy <-> new weights are `cross` (B, M)."""
    b, m = cross.shape
    top_left = existing if existing is not None else mx.ones((b, num_existing, num_existing), dtype=mx.float32)
    col = mx.zeros((b, num_existing, m), dtype=mx.float32)
    col = mx.concatenate([mx.broadcast_to(cross[:, None, :], (b, num_noisy, m)), col[:, num_noisy:]], axis=1)
    row = mx.concatenate([mx.broadcast_to(cross[:, :, None], (b, m, num_noisy)),
                          mx.zeros((b, m, num_existing - num_noisy), dtype=mx.float32)], axis=2)
    top = mx.concatenate([top_left.astype(mx.float32), col], axis=2)
    bottom = mx.concatenate([row, mx.ones((b, m, m), dtype=mx.float32)], axis=2)
    return mx.concatenate([top, bottom], axis=1)


def _area_matrix(src: int, dst: int) -> np.ndarray:
    """(dst, src) averaging weights of area interpolation (each output cell averages its input span)."""
    w = np.zeros((dst, src), dtype=np.float64)
    for i in range(dst):
        lo, hi = (i * src) // dst, -((-(i + 1) * src) // dst)
        w[i, lo:hi] = 1.0 / (hi - lo)
    return w


def mask_to_latent_tokens(mask: np.ndarray, frames: int, height: int, width: int) -> np.ndarray:
    """A pixel-space mask video (B, 1, F, H, W) -> per-token weights (B, frames*height*width).

    Spatially area-averaged to the latent grid; in time the first pixel frame maps to latent frame 0
    alone (the causal first frame) and each later latent frame averages its (F-1)/(frames-1) frames.
    """
    mask = np.asarray(mask, dtype=np.float32)
    if mask.ndim != 5 or mask.shape[1] != 1:
        raise ShapeError(f"attention mask video: expected (B, 1, F, H, W), got {mask.shape}")
    b, _, f, h, w = mask.shape
    spatial = np.einsum("yh,bfhw,xw->bfyx", _area_matrix(h, height), mask[:, 0], _area_matrix(w, width))
    first = spatial[:, :1]
    if f > 1 and frames > 1:
        if (f - 1) % (frames - 1):
            raise ShapeError(f"attention mask video: {f} frames do not fit {frames} latent frames "
                             "((frames - 1) must divide (F - 1))")
        t = (f - 1) // (frames - 1)
        rest = spatial[:, 1:].reshape(b, frames - 1, t, height, width).mean(axis=2)
        spatial = np.concatenate([first, rest], axis=1)
    else:
        spatial = first
    return spatial.reshape(b, -1).astype(np.float32)
