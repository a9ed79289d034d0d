"""Per-stream preprocessing: everything the blocks share, computed once per forward."""

from __future__ import annotations

from dataclasses import dataclass, replace

import mlx.core as mx
import mlx.nn as nn

from ltxmlx.model.transformer.adaln import AdaLayerNormSingle
from ltxmlx.model.transformer.modality import Modality
from ltxmlx.model.transformer.rope import freq_grid, positions_to_fractions, split_rope_tables


@dataclass(frozen=True)
class StreamArgs:
    """Block inputs of one stream (D = the stream's inner dim, c = AdaLN coefficient).

    x: (B, T, D) patchified tokens.  context: (B, S, D) text context.
    timestep: (B, T, c*D) AdaLN modulation.  embedded_timestep: (B, T, D) for the output head.
    pe: (cos, sin) each (B, T, H, Dh/2).  prompt_timestep: (B, 1, 2*D) or None (cross-attn AdaLN).
    AV cross-attention (None when the other stream is absent): cross_pe (cos, sin) each
    (B, T, H, Dav/H/2) from the time axis; cross_scale_shift (B, T, 4*D) from this stream's
    per-token timesteps; cross_gate (B, 1, D) from the other stream's sigma.
    self_attn_bias: (B, 1, T, T) additive self-attention bias from the modality's attention mask, or None.
    """

    x: mx.array
    context: mx.array
    timestep: mx.array
    embedded_timestep: mx.array
    pe: tuple[mx.array, mx.array]
    prompt_timestep: mx.array | None = None
    cross_pe: tuple[mx.array, mx.array] | None = None
    cross_scale_shift: mx.array | None = None
    cross_gate: mx.array | None = None
    self_attn_bias: mx.array | None = None


def attention_bias(mask: mx.array, dtype: mx.Dtype) -> mx.array:
    """(B, T, T) weights in [0, 1] -> (B, 1, T, T) additive bias: log(w) where w > 0, the dtype's
    most negative value where w <= 0 (never attended)."""
    lowest = mx.finfo(dtype).min
    positive = mask > 0
    logs = mx.log(mx.maximum(mask.astype(mx.float32), mx.finfo(mx.float32).smallest_normal)).astype(dtype)
    return mx.where(positive, logs, mx.array(lowest, dtype=dtype))[:, None]


def _rope(positions: mx.array, max_pos: tuple[float, ...], theta: float, dim: int, heads: int, dtype: mx.Dtype):
    grid = freq_grid(theta, dim, len(max_pos))
    cos, sin = split_rope_tables(positions_to_fractions(positions, max_pos), grid, dim, heads)
    # Cast once here so the tables never promote bf16 activations to float32 in the blocks.
    return cos.astype(dtype), sin.astype(dtype)


def _adaln(adaln: AdaLayerNormSingle, t: mx.array, batch: int) -> tuple[mx.array, mx.array]:
    mod, emb = adaln(t.reshape(-1))
    return mod.reshape(batch, -1, mod.shape[-1]), emb.reshape(batch, -1, emb.shape[-1])


def add_keyframes_embedding(x: mx.array, keyframes_mask: mx.array | None, embedding: mx.array | None) -> mx.array:
    """Add the (1, D) keyframe embedding to the tokens of x (B, T, D) whose mask (B, T, 1) is > 0.

    A model without the embedding, or no mask, leaves x unchanged.
    """
    if embedding is None or keyframes_mask is None:
        return x
    marked = (keyframes_mask > 0).astype(x.dtype)
    return x + marked * embedding.astype(x.dtype)


def prepare_stream(
    modality: Modality,
    *,
    patchify_proj: nn.Linear,
    adaln: AdaLayerNormSingle,
    prompt_adaln: AdaLayerNormSingle | None,
    caption_projection: nn.Module | None,
    max_pos: tuple[float, ...],
    theta: float,
    heads: int,
    timestep_scale: float,
    keyframes_embedding: mx.array | None = None,
) -> StreamArgs:
    """Patchify projection (+ keyframe embedding), AdaLN tables, text context and RoPE of one stream."""
    dtype = patchify_proj.weight.dtype
    x = patchify_proj(modality.latent.astype(dtype))
    x = add_keyframes_embedding(x, modality.keyframes_mask, keyframes_embedding)
    batch, dim = x.shape[0], x.shape[-1]
    timestep, embedded = _adaln(adaln, modality.timesteps.astype(mx.float32) * timestep_scale, batch)
    prompt_timestep = None
    if prompt_adaln is not None:
        prompt_timestep, _ = _adaln(prompt_adaln, modality.sigma.astype(mx.float32) * timestep_scale, batch)
    context = modality.context.astype(dtype)
    if caption_projection is not None:
        context = caption_projection(context)
    return StreamArgs(
        x=x,
        context=context,
        timestep=timestep,
        embedded_timestep=embedded,
        pe=_rope(modality.positions, max_pos, theta, dim, heads, dtype),
        prompt_timestep=prompt_timestep,
        self_attn_bias=None if modality.attention_mask is None else attention_bias(modality.attention_mask, dtype),
    )


def add_cross_modal(
    args: StreamArgs,
    modality: Modality,
    other_sigma: mx.array,
    *,
    scale_shift_adaln: AdaLayerNormSingle,
    gate_adaln: AdaLayerNormSingle,
    cross_dim: int,
    cross_max_pos: float,
    theta: float,
    heads: int,
    timestep_scale: float,
    av_timestep_scale: float,
) -> StreamArgs:
    """AV cross-attention inputs: time-axis RoPE, own-timestep scale/shift, other-sigma gate."""
    batch = args.x.shape[0]
    cross_pe = _rope(modality.positions[:, :1], (cross_max_pos,), theta, cross_dim, heads, args.x.dtype)
    scale_shift, _ = _adaln(scale_shift_adaln, modality.timesteps.astype(mx.float32) * timestep_scale, batch)
    # Same operation order as the reference: sigma * scale * (av_scale / scale).
    gate_t = other_sigma.astype(mx.float32) * timestep_scale * (av_timestep_scale / timestep_scale)
    gate, _ = _adaln(gate_adaln, gate_t, batch)
    return replace(args, cross_pe=cross_pe, cross_scale_shift=scale_shift, cross_gate=gate)
