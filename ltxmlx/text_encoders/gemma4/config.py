"""Gemma 4 "unified" text-model config, read from a packed text-encoder file's `gemma_config`.

The packed file carries the Hugging Face config JSON (`model_type` "gemma4_unified", the language
model under `text_config`, the LTX fine-tune's `gemma_version` at the top level). Only the dense,
text-only encode path of the LTX encoder is supported; settings that would change it (MoE blocks,
per-layer inputs, shared KV layers, bidirectional text attention, other RoPE kinds) are refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ltxmlx.errors import ConfigError

MODEL_TYPE = "gemma4_unified"
SLIDING, FULL = "sliding_attention", "full_attention"
_REQUIRED = (
    "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
    "head_dim", "global_head_dim", "vocab_size", "sliding_window", "layer_types", "rope_parameters",
)
# (key, value the encode path needs, default when absent: transformers' Gemma4UnifiedTextConfig default)
_FIXED = (
    ("hidden_activation", "gelu_pytorch_tanh", "gelu_pytorch_tanh"),
    ("attention_bias", False, False),
    ("enable_moe_block", False, False),
    ("num_kv_shared_layers", 0, 0),
    ("hidden_size_per_layer_input", 0, 0),
    ("use_double_wide_mlp", False, False),
    ("attention_k_eq_v", True, False),
)
# Placeholder ids of the multimodal tokens: the official model embeds them as the pad token.
_PLACEHOLDERS = ("image_token_id", "video_token_id", "audio_token_id")


def text_config_of(cfg: dict) -> dict:
    """The `text_config` of a `gemma4_unified` config dict."""
    if not isinstance(cfg, dict) or cfg.get("model_type") != MODEL_TYPE:
        got = cfg.get("model_type") if isinstance(cfg, dict) else cfg
        raise ConfigError("gemma_config.model_type", got, f"{MODEL_TYPE!r} (the LTX-2.5 Gemma 4 text encoder)")
    text = cfg.get("text_config")
    if not isinstance(text, dict):
        raise ConfigError("gemma_config.text_config", text, "a dict (the Gemma 4 language-model config)")
    return text


def _rope(text: dict) -> tuple[float, float, float, float]:
    """(sliding theta, full theta, full partial rotary factor, full frequency factor)."""
    params = text["rope_parameters"]
    sliding, full = params.get(SLIDING) or {}, params.get(FULL) or {}
    if sliding.get("rope_type", "default") != "default":
        raise ConfigError("rope_parameters.sliding_attention.rope_type", sliding.get("rope_type"), "'default'")
    if full.get("rope_type") != "proportional":
        raise ConfigError("rope_parameters.full_attention.rope_type", full.get("rope_type"), "'proportional'")
    for name, p in ((SLIDING, sliding), (FULL, full)):
        if "rope_theta" not in p:
            raise ConfigError(f"rope_parameters.{name}.rope_theta", None, "present")
    return (float(sliding["rope_theta"]), float(full["rope_theta"]),
            float(full.get("partial_rotary_factor", 1.0)), float(full.get("factor", 1.0)))


@dataclass(frozen=True)
class Gemma4TextConfig:
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    num_global_key_value_heads: int
    head_dim: int
    global_head_dim: int
    vocab_size: int
    rms_norm_eps: float
    sliding_window: int
    layer_types: tuple[str, ...]
    sliding_rope_theta: float
    full_rope_theta: float
    partial_rotary_factor: float
    full_rope_factor: float
    pad_token_id: int
    placeholder_ids: tuple[int, ...]
    gemma_version: str | None

    @classmethod
    def from_config(cls, cfg: dict) -> Gemma4TextConfig:
        """From the packed file's `gemma_config` (a `gemma4_unified` HF config dict)."""
        text = text_config_of(cfg)
        for key in _REQUIRED:
            if key not in text:
                raise ConfigError(f"text_config.{key}", None, "present in the Gemma 4 text config")
        for key, needed, default in _FIXED:
            if text.get(key, default) != needed:
                raise ConfigError(f"text_config.{key}", text.get(key, default), repr(needed))
        if text.get("use_bidirectional_attention", "vision") not in ("vision", None):
            raise ConfigError("text_config.use_bidirectional_attention", text["use_bidirectional_attention"],
                              "'vision' or null (causal text)")
        layers = int(text["num_hidden_layers"])
        types = tuple(text["layer_types"])
        if len(types) != layers or set(types) - {SLIDING, FULL}:
            raise ConfigError("text_config.layer_types", list(types),
                              f"{layers} entries of {SLIDING!r} / {FULL!r}")
        heads = int(text["num_attention_heads"])
        kv = int(text["num_key_value_heads"])
        global_kv = int(text.get("num_global_key_value_heads") or kv)
        for name, n in (("num_key_value_heads", kv), ("num_global_key_value_heads", global_kv)):
            if heads % n:
                raise ConfigError(f"text_config.{name}", n, f"a divisor of num_attention_heads={heads}")
        sliding_theta, full_theta, partial, factor = _rope(text)
        return cls(
            hidden_size=int(text["hidden_size"]), intermediate_size=int(text["intermediate_size"]),
            num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv,
            num_global_key_value_heads=global_kv, head_dim=int(text["head_dim"]),
            global_head_dim=int(text["global_head_dim"]), vocab_size=int(text["vocab_size"]),
            rms_norm_eps=float(text.get("rms_norm_eps", 1e-6)), sliding_window=int(text["sliding_window"]),
            layer_types=types, sliding_rope_theta=sliding_theta, full_rope_theta=full_theta,
            partial_rotary_factor=partial, full_rope_factor=factor,
            pad_token_id=int(text.get("pad_token_id", 0)),
            placeholder_ids=tuple(int(cfg[k]) for k in _PLACEHOLDERS if cfg.get(k) is not None),
            gemma_version=cfg.get("gemma_version"),
        )

    @property
    def num_hidden_states(self) -> int:
        """Hidden states the encoder returns: the embeddings plus one per layer."""
        return self.num_hidden_layers + 1

    @property
    def embed_scale(self) -> float:
        return math.sqrt(self.hidden_size)

    def is_sliding(self, layer: int) -> bool:
        return self.layer_types[layer] == SLIDING
