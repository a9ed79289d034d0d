"""Duration head: predicts a clip's length in seconds from the text connectors' outputs.

Each stream is projected to a shared width and tagged with a learned modality embedding; the
concatenated tokens are pooled by learned queries through multi-head cross-attention, and a small
MLP gives the log-duration, returned exponentiated (seconds). No attention mask: the connectors
replace padding with learned registers, so every token is valid.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from ltxmlx.errors import ShapeError
from ltxmlx.model.duration_head.config import DurationHeadConfig
from ltxmlx.model.transformer.ops import gelu_tanh


class MultiheadAttention(nn.Module):
    """Cross-attention in the PyTorch ``nn.MultiheadAttention`` layout (fused q|k|v input projection).

    in_proj_weight: (3E, E) rows q, k, v; in_proj_bias: (3E,); out_proj: Linear(E, E).
    """

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.in_proj_weight = mx.zeros((3 * dim, dim))
        self.in_proj_bias = mx.zeros((3 * dim,))
        self.out_proj = nn.Linear(dim, dim)

    def _project(self, x: mx.array, which: int) -> mx.array:
        dim = self.out_proj.weight.shape[0]
        w = self.in_proj_weight[which * dim : (which + 1) * dim]
        b = self.in_proj_bias[which * dim : (which + 1) * dim]
        y = x @ w.T + b
        batch, length, _ = y.shape
        return y.reshape(batch, length, self.heads, dim // self.heads).transpose(0, 2, 1, 3)

    def __call__(self, query: mx.array, key_value: mx.array) -> mx.array:
        """query: (B, Q, E); key_value: (B, L, E) -> (B, Q, E)."""
        q, k, v = self._project(query, 0), self._project(key_value, 1), self._project(key_value, 2)
        out = mx.fast.scaled_dot_product_attention(q, k, v, scale=q.shape[-1] ** -0.5)
        batch, _, length, _ = out.shape
        return self.out_proj(out.transpose(0, 2, 1, 3).reshape(batch, length, -1))


class AttentionPooler(nn.Module):
    """``num_queries`` learned tokens cross-attend to the input: (B, L, E) -> (B, Q, E)."""

    def __init__(self, dim: int, num_queries: int, heads: int):
        super().__init__()
        self.query_tokens = mx.zeros((num_queries, dim))
        self.cross_attn = MultiheadAttention(dim, heads)

    def __call__(self, tokens: mx.array) -> mx.array:
        queries = mx.broadcast_to(self.query_tokens[None], (tokens.shape[0], *self.query_tokens.shape))
        return self.cross_attn(queries, tokens)


class DurationHead(nn.Module):
    """Attribute names follow the checkpoint keys under ``duration_head.``."""

    def __init__(self, cfg: DurationHeadConfig):
        super().__init__()
        self.cfg = cfg
        self.video_input_proj = nn.Linear(cfg.video_dim, cfg.hidden_dim)
        self.video_modality_emb = mx.zeros((cfg.hidden_dim,))
        self.audio_input_proj = nn.Linear(cfg.audio_dim, cfg.hidden_dim)
        self.audio_modality_emb = mx.zeros((cfg.hidden_dim,))
        self.attention_pooler = AttentionPooler(cfg.hidden_dim, cfg.num_queries, cfg.num_heads)
        self.mlp_hidden = nn.Linear(cfg.hidden_dim * cfg.num_queries, cfg.mlp_hidden)
        self.mlp_out = nn.Linear(cfg.mlp_hidden, 1)

    def check_inputs(self, video: mx.array | None, audio: mx.array | None) -> int:
        """Validate shapes; returns the batch size."""
        if video is None and audio is None:
            raise ShapeError("duration head: expected a video and/or an audio encoding, got neither")
        batch = None
        streams = (("video_encoding", video, self.cfg.video_dim), ("audio_encoding", audio, self.cfg.audio_dim))
        for name, x, dim in streams:
            if x is None:
                continue
            if x.ndim != 3 or x.shape[-1] != dim or (batch is not None and x.shape[0] != batch):
                want = f"({'B' if batch is None else batch}, S, {dim})"
                raise ShapeError(f"duration head {name}: expected {want}, got {tuple(x.shape)}")
            batch = x.shape[0]
        return batch

    def __call__(self, video: mx.array | None, audio: mx.array | None) -> mx.array:
        """video: (B, Sv, video_dim) | None; audio: (B, Sa, audio_dim) | None -> seconds (B,).

        Computed in the weights' dtype.
        """
        self.check_inputs(video, audio)
        dtype = self.mlp_out.weight.dtype
        groups = []
        if video is not None:
            groups.append(self.video_input_proj(video.astype(dtype)) + self.video_modality_emb)
        if audio is not None:
            groups.append(self.audio_input_proj(audio.astype(dtype)) + self.audio_modality_emb)
        pooled = self.attention_pooler(mx.concatenate(groups, axis=1))
        hidden = gelu_tanh(self.mlp_hidden(pooled.reshape(pooled.shape[0], -1)))
        return mx.exp(self.mlp_out(hidden)[:, 0])
