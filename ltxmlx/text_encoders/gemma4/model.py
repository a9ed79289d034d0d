"""Gemma 4 unified language model returning every hidden state, on mlx-lm's Gemma 4 decoder layers.

Reused unchanged from mlx-lm (`mlx_lm.models.gemma4_text.DecoderLayer`): attention with q/k RMS
norms (scale by w), the scale-free v norm, values taken from `k_proj` on full-attention layers
(`attention_k_eq_v`, no `v_proj`), the wider `global_head_dim` with its own KV-head count, default
RoPE on sliding layers and proportional RoPE on a partial rotary factor on full layers, attention
scale 1.0, the four sandwich norms, the GELU-tanh gated MLP and the trailing `layer_scalar`.

Our own: the embedding (multimodal placeholder ids embedded as the pad token, scale sqrt(hidden)
in the parameter dtype, as transformers does), the padded-batch masks (causal, sliding window,
keys limited to valid tokens; shared with the Gemma 3 path), positions arange(T) for every row,
and the loop collecting all `num_hidden_layers + 1` states with the final norm on the last one
(the official encoder's `output_hidden_states`). mlx-lm's model returns only the last state and
builds generation masks, so it is not used as a whole.
"""

from __future__ import annotations

import mlx.core as mx
from mlx import nn
from mlx_lm.models.gemma4_text import DecoderLayer, ModelArgs

from ltxmlx.errors import ShapeError
from ltxmlx.text_encoders.gemma.model import attention_masks
from ltxmlx.text_encoders.gemma4.config import FULL, SLIDING, Gemma4TextConfig


def _mlx_lm_args(cfg: Gemma4TextConfig) -> ModelArgs:
    return ModelArgs(
        model_type="gemma4_text",
        hidden_size=cfg.hidden_size,
        num_hidden_layers=cfg.num_hidden_layers,
        intermediate_size=cfg.intermediate_size,
        num_attention_heads=cfg.num_attention_heads,
        head_dim=cfg.head_dim,
        global_head_dim=cfg.global_head_dim,
        rms_norm_eps=cfg.rms_norm_eps,
        vocab_size=cfg.vocab_size,
        vocab_size_per_layer_input=cfg.vocab_size,
        num_key_value_heads=cfg.num_key_value_heads,
        num_global_key_value_heads=cfg.num_global_key_value_heads,
        num_kv_shared_layers=0,
        pad_token_id=cfg.pad_token_id,
        hidden_size_per_layer_input=0,
        rope_parameters={
            SLIDING: {"rope_type": "default", "rope_theta": cfg.sliding_rope_theta},
            FULL: {"rope_type": "proportional", "rope_theta": cfg.full_rope_theta,
                   "partial_rotary_factor": cfg.partial_rotary_factor, "factor": cfg.full_rope_factor},
        },
        sliding_window=cfg.sliding_window,
        attention_k_eq_v=True,
        use_double_wide_mlp=False,
        enable_moe_block=False,
        layer_types=list(cfg.layer_types),
        tie_word_embeddings=True,
    )


class Gemma4TextModel(nn.Module):
    """Gemma 4 unified language model (no lm_head). Keys: embed_tokens, layers.N.*, norm (the packed
    file's Comfy-flat `model.*` names with the prefix stripped)."""

    def __init__(self, config: Gemma4TextConfig):
        super().__init__()
        self.config = config
        args = _mlx_lm_args(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = [DecoderLayer(args, layer_idx=i) for i in range(config.num_hidden_layers)]
        self.norm = nn.RMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def embed(self, input_ids: mx.array) -> mx.array:
        """(B, T) ids -> (B, T, hidden) scaled embeddings; multimodal placeholders embed as <pad>."""
        for placeholder in self.config.placeholder_ids:
            input_ids = mx.where(input_ids == placeholder, self.config.pad_token_id, input_ids)
        h = self.embed_tokens(input_ids)
        # transformers casts sqrt(hidden) to the parameter dtype (62.0 for 3840 in bf16).
        return h * mx.array(self.config.embed_scale, dtype=h.dtype)

    def __call__(self, input_ids: mx.array, attention_mask: mx.array) -> list[mx.array]:
        """input_ids, attention_mask: (B, T) (left padded, 1 = token) -> num_hidden_layers + 1
        arrays (B, T, hidden): [scaled embeddings, layer 1..L-1 outputs, norm(layer L output)].

        Position ids are arange(T) for every row, pads included, as in the official encoder.
        """
        if input_ids.ndim != 2 or attention_mask.shape != input_ids.shape:
            raise ShapeError(
                f"expected input_ids and attention_mask of one shape (B, T), got {tuple(input_ids.shape)} "
                f"and {tuple(attention_mask.shape)}"
            )
        h = self.embed(input_ids)
        full, sliding = attention_masks(attention_mask, self.config.sliding_window)
        states = [h]
        for i, layer in enumerate(self.layers):
            h, _, _ = layer(h, sliding if self.config.is_sliding(i) else full)
            states.append(h)
        states[-1] = self.norm(h)
        return states
