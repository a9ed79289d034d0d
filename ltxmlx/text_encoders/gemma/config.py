"""Gemma 3 text-model config, read from a Hugging Face `config.json` dict.

Real Gemma 3 `config.json` files are sparse (e.g. google/gemma-3-12b-it omits head_dim, rope_theta,
query_pre_attn_scalar): transformers fills the gaps from `Gemma3TextConfig`'s defaults, and so do we,
with the same values. Structural dims (hidden size, layers, heads) are required.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ltxmlx.errors import ConfigError

# transformers' Gemma3TextConfig defaults for keys that real Gemma 3 config.json files may omit.
_HF_DEFAULTS = {
    "head_dim": 256,
    "rms_norm_eps": 1e-6,
    "vocab_size": 262_208,
    "query_pre_attn_scalar": 256,
    "sliding_window": 4096,
    "sliding_window_pattern": 6,
    "rope_theta": 1_000_000.0,
    "rope_local_base_freq": 10_000.0,
    "hidden_activation": "gelu_pytorch_tanh",
    "attn_logit_softcapping": None,
    "attention_bias": False,
    "use_bidirectional_attention": False,
}
_REQUIRED = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads")
_SUPPORTED_TOP = ("gemma3", "gemma3_text")


def text_config_of(cfg: dict) -> dict:
    """The text part of a Gemma 3 config.json: `text_config` of a `gemma3` file, or a `gemma3_text` file."""
    model_type = cfg.get("model_type")
    if model_type not in _SUPPORTED_TOP:
        raise ConfigError("model_type", model_type, " or ".join(repr(t) for t in _SUPPORTED_TOP))
    if model_type == "gemma3":
        if not isinstance(cfg.get("text_config"), dict):
            raise ConfigError("text_config", cfg.get("text_config"), "a dict (Gemma 3 multimodal config)")
        return cfg["text_config"]
    return cfg


def _get(text: dict, key: str):
    return text[key] if key in text else _HF_DEFAULTS[key]


def _rope(text: dict) -> tuple[float, float, float]:
    """(global theta, global linear-scaling factor, local theta) from either config format.

    transformers <5 writes rope_theta / rope_local_base_freq / rope_scaling; transformers 5 may write
    rope_parameters = {"full_attention": {...}, "sliding_attention": {...}}.
    """
    params = text.get("rope_parameters")
    if params is not None:
        full = dict(params.get("full_attention") or {})
        local = dict(params.get("sliding_attention") or {})
        full.setdefault("rope_theta", _get(text, "rope_theta"))
        local.setdefault("rope_theta", _get(text, "rope_local_base_freq"))
    else:
        full = dict(text.get("rope_scaling") or {"rope_type": "default"})
        full["rope_theta"] = _get(text, "rope_theta")
        local = {"rope_type": "default", "rope_theta": _get(text, "rope_local_base_freq")}
    kind = full.get("rope_type", full.get("type", "default"))
    if kind not in ("default", "linear"):
        raise ConfigError("rope_scaling.rope_type", kind, "'linear' or none (Gemma 3)")
    if local.get("rope_type", "default") != "default":
        raise ConfigError("rope_parameters.sliding_attention.rope_type", local.get("rope_type"), "'default'")
    factor = float(full["factor"]) if kind == "linear" else 1.0
    return float(full["rope_theta"]), factor, float(local["rope_theta"])


@dataclass(frozen=True)
class Gemma3TextConfig:
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    vocab_size: int
    rms_norm_eps: float
    query_pre_attn_scalar: float
    sliding_window: int
    sliding_window_pattern: int
    rope_theta: float
    rope_scaling_factor: float
    rope_local_base_freq: float

    @classmethod
    def from_config(cls, cfg: dict) -> Gemma3TextConfig:
        """From a full `gemma3` config.json dict or its `text_config` (`gemma3_text`)."""
        text = text_config_of(cfg)
        for key in _REQUIRED:
            if key not in text:
                raise ConfigError(key, None, "present in the Gemma 3 text config")
        if _get(text, "hidden_activation") != "gelu_pytorch_tanh":
            raise ConfigError("hidden_activation", text.get("hidden_activation"), "'gelu_pytorch_tanh'")
        for key in ("attn_logit_softcapping",):
            if _get(text, key) is not None:
                raise ConfigError(key, text[key], "null (Gemma 3)")
        for key in ("attention_bias", "use_bidirectional_attention"):
            if _get(text, key):
                raise ConfigError(key, text[key], "false")
        heads, kv = text["num_attention_heads"], text["num_key_value_heads"]
        if heads % kv:
            raise ConfigError("num_key_value_heads", kv, f"a divisor of num_attention_heads={heads}")
        pattern = int(text.get("sliding_window_pattern", _HF_DEFAULTS["sliding_window_pattern"]))
        layers = int(text["num_hidden_layers"])
        types = text.get("layer_types")
        if types is not None:
            # We build layers from the periodic pattern (as transformers does when layer_types is absent).
            expected = ["full_attention" if (i + 1) % pattern == 0 else "sliding_attention" for i in range(layers)]
            if list(types) != expected:
                raise ConfigError("layer_types", types, f"the periodic pattern {pattern} ({expected})")
        theta, factor, local_theta = _rope(text)
        return cls(
            hidden_size=int(text["hidden_size"]),
            intermediate_size=int(text["intermediate_size"]),
            num_hidden_layers=layers,
            num_attention_heads=int(heads),
            num_key_value_heads=int(kv),
            head_dim=int(_get(text, "head_dim")),
            vocab_size=int(_get(text, "vocab_size")),
            rms_norm_eps=float(_get(text, "rms_norm_eps")),
            query_pre_attn_scalar=float(_get(text, "query_pre_attn_scalar")),
            sliding_window=int(_get(text, "sliding_window")),
            sliding_window_pattern=pattern,
            rope_theta=theta,
            rope_scaling_factor=factor,
            rope_local_base_freq=local_theta,
        )

    @property
    def num_hidden_states(self) -> int:
        """Hidden states the encoder returns: the embeddings plus one per layer."""
        return self.num_hidden_layers + 1

    @property
    def embed_scale(self) -> float:
        return math.sqrt(self.hidden_size)

    def is_sliding(self, layer: int) -> bool:
        return (layer + 1) % self.sliding_window_pattern != 0


@dataclass(frozen=True)
class QuantizationConfig:
    """MLX affine quantization of a converted checkpoint (`quantization` in mlx-community config.json).

    overrides: {module path without the checkpoint prefix: {group_size, bits} or False}.
    """

    group_size: int
    bits: int
    overrides: tuple[tuple[str, object], ...] = ()

    @classmethod
    def from_config(cls, cfg: dict, prefixes: tuple[str, ...]) -> QuantizationConfig | None:
        q = cfg.get("quantization")
        if not q:
            return None
        if q.get("mode", "affine") != "affine":
            raise ConfigError("quantization.mode", q.get("mode"), "'affine'")
        if q.get("bits") not in (2, 3, 4, 5, 6, 8):
            raise ConfigError("quantization.bits", q.get("bits"), "one of 2, 3, 4, 5, 6, 8")
        overrides = []
        for key, value in q.items():
            if key in ("group_size", "bits", "mode"):
                continue
            for p in prefixes:
                if key.startswith(p):
                    overrides.append((key[len(p):], value))
                    break
        return cls(int(q["group_size"]), int(q["bits"]), tuple(overrides))

    def predicate(self):
        """class_predicate for `mlx.nn.quantize`: per-path override, else the default if it fits."""
        table = dict(self.overrides)

        def pred(path: str, module) -> bool | dict:
            if not hasattr(module, "to_quantized"):
                return False
            if path in table:
                v = table[path]
                return v if isinstance(v, dict) else bool(v)
            return module.weight.shape[-1] % self.group_size == 0

        return pred
