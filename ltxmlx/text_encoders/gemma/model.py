"""Gemma 3 text model that returns every hidden state, built from mlx-lm's Gemma 3 decoder layers.

mlx-lm's model returns only the last (normed) state and builds masks for generation; the LTX text
path needs all `num_hidden_layers + 1` states of a left-padded batch, so we own the embedding scale,
the masks and the layer loop, and reuse mlx-lm's `TransformerBlock` (attention with q/k norms,
local/global RoPE, query_pre_attn_scalar, sandwich norms, GELU-tanh MLP) unchanged.
"""

from __future__ import annotations

import mlx.core as mx
from mlx import nn
from mlx_lm.models.gemma3_text import ModelArgs, RMSNorm, TransformerBlock

from ltxmlx.errors import ShapeError
from ltxmlx.text_encoders.gemma.config import Gemma3TextConfig


def _mlx_lm_args(cfg: Gemma3TextConfig) -> ModelArgs:
    scaling = None
    if cfg.rope_scaling_factor != 1.0:
        scaling = {"rope_type": "linear", "factor": cfg.rope_scaling_factor}
    return ModelArgs(
        model_type="gemma3_text",
        hidden_size=cfg.hidden_size,
        num_hidden_layers=cfg.num_hidden_layers,
        intermediate_size=cfg.intermediate_size,
        num_attention_heads=cfg.num_attention_heads,
        head_dim=cfg.head_dim,
        rms_norm_eps=cfg.rms_norm_eps,
        vocab_size=cfg.vocab_size,
        num_key_value_heads=cfg.num_key_value_heads,
        rope_theta=cfg.rope_theta,
        rope_local_base_freq=cfg.rope_local_base_freq,
        query_pre_attn_scalar=cfg.query_pre_attn_scalar,
        sliding_window=cfg.sliding_window,
        sliding_window_pattern=cfg.sliding_window_pattern,
        rope_scaling=scaling,
    )


def attention_masks(attention_mask: mx.array, sliding_window: int) -> tuple[mx.array, mx.array]:
    """Boolean (B, 1, T, T) masks (global, sliding) for a padded batch; True = may attend.

    Causal, keys restricted to valid tokens, and for the sliding mask `q - k < sliding_window`
    (transformers' convention). Every query also sees itself, so rows of pad queries are never fully
    masked (no NaN); valid rows are unchanged by that, and pad rows are discarded downstream.
    """
    t = attention_mask.shape[-1]
    q = mx.arange(t)[:, None]
    k = mx.arange(t)[None, :]
    causal = k <= q
    valid = (attention_mask != 0)[:, None, None, :]
    eye = (q == k)[None, None]
    full = (causal[None, None] & valid) | eye
    sliding = (causal & (q - k < sliding_window))[None, None] & valid | eye
    return full, sliding


class Gemma3TextModel(nn.Module):
    """Gemma 3 language model (no lm_head). Keys: embed_tokens, layers.N.*, norm (as checkpoint
    `language_model.model.*` once the prefix is stripped)."""

    def __init__(self, config: Gemma3TextConfig):
        super().__init__()
        self.config = config
        args = _mlx_lm_args(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = [TransformerBlock(args, layer_idx=i) for i in range(config.num_hidden_layers)]
        self.norm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def __call__(self, input_ids: mx.array, attention_mask: mx.array) -> list[mx.array]:
        """input_ids, attention_mask: (B, T) (left padded, 1 = token) -> num_hidden_layers + 1
        arrays (B, T, hidden): [embeddings * sqrt(hidden), layer 1..L-1 outputs, norm(layer L output)].

        Position ids are arange(T) for every row, pads included, as in the official encoder.
        """
        if input_ids.ndim != 2 or attention_mask.shape != input_ids.shape:
            raise ShapeError(
                f"expected input_ids and attention_mask of one shape (B, T), got {tuple(input_ids.shape)} "
                f"and {tuple(attention_mask.shape)}"
            )
        h = self.embed_tokens(input_ids)
        # transformers multiplies by sqrt(hidden) cast to the parameter dtype (62.0 for 3840 in bf16).
        h = h * mx.array(self.config.embed_scale, dtype=h.dtype)
        full, sliding = attention_masks(attention_mask, self.config.sliding_window)
        states = [h]
        for i, layer in enumerate(self.layers):
            h = layer(h, sliding if self.config.is_sliding(i) else full, None)
            states.append(h)
        states[-1] = self.norm(h)
        return states
