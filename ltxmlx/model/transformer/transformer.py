"""One audio-video transformer block (``BasicAVTransformerBlock``)."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from ltxmlx.model.transformer.attention import Attention
from ltxmlx.model.transformer.config import TransformerConfig
from ltxmlx.model.transformer.feed_forward import FeedForward
from ltxmlx.model.transformer.ops import ada_row, gated_residual, modulate, rms
from ltxmlx.model.transformer.perturbations import BlockPerturbations, Skip
from ltxmlx.model.transformer.transformer_args import StreamArgs

# Rows of the per-block scale-shift tables.
SHIFT_MSA, SCALE_MSA, GATE_MSA, SHIFT_MLP, SCALE_MLP, GATE_MLP, SHIFT_Q, SCALE_Q, GATE_CA = range(9)
# Rows of the AV cross-attention tables (scale before shift here).
AV_SCALE_A2V, AV_SHIFT_A2V, AV_SCALE_V2A, AV_SHIFT_V2A, AV_GATE = range(5)


def _ada_norm(xn: mx.array, mod: mx.array, table: mx.array, scale_row: int, shift_row: int) -> mx.array:
    return modulate(xn, *ada_row(mod, table, scale_row), *ada_row(mod, table, shift_row))


class BasicAVTransformerBlock(nn.Module):
    """Video and audio streams: self-attn, text cross-attn, AV cross-attn, FFN, all AdaLN-modulated."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        d, da, g, eps = cfg.inner_dim, cfg.audio_inner_dim, cfg.gated_attention, cfg.norm_eps
        coef = cfg.adaln_coefficient
        self.attn1 = Attention(d, None, cfg.heads, cfg.head_dim, g, eps)
        self.attn2 = Attention(d, d, cfg.heads, cfg.head_dim, g, eps)
        self.ff = FeedForward(d, bias=cfg.ff_bias)
        self.scale_shift_table = mx.zeros((coef, d))
        self.audio_attn1 = Attention(da, None, cfg.audio_heads, cfg.audio_head_dim, g, eps)
        self.audio_attn2 = Attention(da, da, cfg.audio_heads, cfg.audio_head_dim, g, eps)
        self.audio_ff = FeedForward(da, bias=cfg.audio_ff_bias)
        self.audio_scale_shift_table = mx.zeros((coef, da))
        # Q from one stream, K/V from the other; both live in the audio attention width.
        self.audio_to_video_attn = Attention(d, da, cfg.audio_heads, cfg.audio_head_dim, g, eps)
        self.video_to_audio_attn = Attention(da, d, cfg.audio_heads, cfg.audio_head_dim, g, eps)
        self.scale_shift_table_a2v_ca_audio = mx.zeros((5, da))
        self.scale_shift_table_a2v_ca_video = mx.zeros((5, d))
        if cfg.cross_attention_adaln:
            self.prompt_scale_shift_table = mx.zeros((2, d))
            self.audio_prompt_scale_shift_table = mx.zeros((2, da))
        self.cross_attention_adaln = cfg.cross_attention_adaln
        self.eps = eps

    def _self_and_text(self, x, args: StreamArgs, attn1, attn2, table, prompt_table, skip: Skip) -> mx.array:
        mod = args.timestep
        y = attn1(
            _ada_norm(rms(x, self.eps), mod, table, SCALE_MSA, SHIFT_MSA),
            pe=args.pe,
            mask=args.self_attn_bias,
            keep=None if skip.all else skip.keep(x.dtype),
            skip_attention=skip.all,
        )
        x = gated_residual(x, y, *ada_row(mod, table, GATE_MSA))
        xn = rms(x, self.eps)
        if not self.cross_attention_adaln:
            return x + attn2(xn, context=args.context)
        # Keys/values are modulated per sample by the prompt AdaLN (sigma) on top of the table.
        kv = prompt_table
        if args.prompt_timestep is not None:
            kv = kv + args.prompt_timestep.reshape(x.shape[0], -1, 2, x.shape[-1])
        ctx = args.context * (1 + kv[..., 1, :]) + kv[..., 0, :]
        y = attn2(_ada_norm(xn, mod, table, SCALE_Q, SHIFT_Q), context=ctx)
        return gated_residual(x, y, *ada_row(mod, table, GATE_CA))

    def _ff(self, x, args: StreamArgs, ff, table) -> mx.array:
        mod = args.timestep
        y = ff(_ada_norm(rms(x, self.eps), mod, table, SCALE_MLP, SHIFT_MLP))
        return gated_residual(x, y, *ada_row(mod, table, GATE_MLP))

    def _av(self, vx, ax, video: StreamArgs, audio: StreamArgs, p: BlockPerturbations):
        """Both directions read the pre-AV snapshots, so their order does not matter."""
        vt, at = self.scale_shift_table_a2v_ca_video, self.scale_shift_table_a2v_ca_audio
        vn, an = rms(vx, self.eps), rms(ax, self.eps)
        vmod, amod = video.cross_scale_shift, audio.cross_scale_shift
        v_out, a_out = vx, ax
        if not p.a2v.all:
            y = self.audio_to_video_attn(
                _ada_norm(vn, vmod, vt, AV_SCALE_A2V, AV_SHIFT_A2V),
                context=_ada_norm(an, amod, at, AV_SCALE_A2V, AV_SHIFT_A2V),
                pe=video.cross_pe,
                k_pe=audio.cross_pe,
            )
            keep = p.a2v.keep(y.dtype)
            v_out = gated_residual(vx, y if keep is None else y * keep, video.cross_gate, vt[AV_GATE])
        if not p.v2a.all:
            y = self.video_to_audio_attn(
                _ada_norm(an, amod, at, AV_SCALE_V2A, AV_SHIFT_V2A),
                context=_ada_norm(vn, vmod, vt, AV_SCALE_V2A, AV_SHIFT_V2A),
                pe=audio.cross_pe,
                k_pe=video.cross_pe,
            )
            keep = p.v2a.keep(y.dtype)
            a_out = gated_residual(ax, y if keep is None else y * keep, audio.cross_gate, at[AV_GATE])
        return v_out, a_out

    def __call__(
        self,
        vx: mx.array | None,
        ax: mx.array | None,
        video: StreamArgs | None,
        audio: StreamArgs | None,
        perturbations: BlockPerturbations,
    ) -> tuple[mx.array | None, mx.array | None]:
        """vx: (B, Tv, D) or None; ax: (B, Ta, Da) or None. Returns the updated pair."""
        if video is not None:
            vx = self._self_and_text(
                vx, video, self.attn1, self.attn2, self.scale_shift_table,
                self.get("prompt_scale_shift_table"), perturbations.video_self,
            )
        if audio is not None:
            ax = self._self_and_text(
                ax, audio, self.audio_attn1, self.audio_attn2, self.audio_scale_shift_table,
                self.get("audio_prompt_scale_shift_table"), perturbations.audio_self,
            )
        if video is not None and audio is not None:
            vx, ax = self._av(vx, ax, video, audio, perturbations)
        if video is not None:
            vx = self._ff(vx, video, self.ff, self.scale_shift_table)
        if audio is not None:
            ax = self._ff(ax, audio, self.audio_ff, self.audio_scale_shift_table)
        return vx, ax
