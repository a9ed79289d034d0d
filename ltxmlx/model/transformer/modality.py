"""Per-modality transformer inputs."""

from __future__ import annotations

from dataclasses import dataclass

import mlx.core as mx

from ltxmlx.errors import ShapeError


@dataclass(frozen=True)
class Modality:
    """Inputs of one stream (video or audio).

    latent: (B, T, Cin) patchified tokens.
    sigma: (B,) noise level of each item (drives the prompt AdaLN and the other stream's AV gates).
    timesteps: (B, T, 1) per-token noise level, ``sigma * denoise_mask``; or (B, 1, 1) when every
        token of an item has the same noise level (no conditioning). The (B, 1, 1) form is the fast
        path: the AdaLN modulation is computed once per item and broadcast over the tokens instead of
        materialising (B, T, coef*D) tables; the result equals the per-token form's.
    positions: (B, n_axes, T, 2) [start, end) bounds; video axes (time s, height px, width px),
        audio (time s).
    context: (B, S, Dctx) text embeddings for this stream.
    keyframes_mask: (B, T, 1) or None; tokens > 0 encode a single standalone pixel frame (the first
        latent frame, generated keyframe slots) and receive the model's keyframe embedding (LTX-2.5).
        None marks no token. Read for the video stream only, as in the reference.
    attention_mask: optional (B, T, T) self-attention weights in [0, 1] (1 = full attention, 0 = none)
        that conditioning tokens bring (e.g. IC-LoRA reference tokens); None = full attention.
    """

    latent: mx.array
    sigma: mx.array
    timesteps: mx.array
    positions: mx.array
    context: mx.array
    keyframes_mask: mx.array | None = None
    attention_mask: mx.array | None = None

    def check(self, name: str, in_channels: int, n_axes: int, context_dim: int) -> None:
        """Raise ShapeError naming the field when a shape does not fit the model."""
        lat = self.latent
        if lat.ndim != 3 or lat.shape[-1] != in_channels:
            raise ShapeError(f"{name}.latent: expected (B, T, {in_channels}), got {tuple(lat.shape)}")
        b, t, _ = lat.shape
        ts = tuple(self.timesteps.shape)
        expected = {
            "sigma": ((b,), self.sigma),
            "timesteps": ((b, 1, 1) if ts == (b, 1, 1) else (b, t, 1), self.timesteps),
            "positions": ((b, n_axes, t, 2), self.positions),
        }
        if self.keyframes_mask is not None:
            expected["keyframes_mask"] = ((b, t, 1), self.keyframes_mask)
        for field, (shape, value) in expected.items():
            if tuple(value.shape) != shape:
                raise ShapeError(f"{name}.{field}: expected {shape}, got {tuple(value.shape)}")
        if self.attention_mask is not None and tuple(self.attention_mask.shape) != (b, t, t):
            raise ShapeError(f"{name}.attention_mask: expected {(b, t, t)}, got {tuple(self.attention_mask.shape)}")
        ctx = self.context
        if ctx.ndim != 3 or ctx.shape[0] != b or ctx.shape[-1] != context_dim:
            raise ShapeError(f"{name}.context: expected ({b}, S, {context_dim}), got {tuple(ctx.shape)}")
