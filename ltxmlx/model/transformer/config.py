"""Transformer config read from a checkpoint's metadata ``config["transformer"]``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ltxmlx.errors import ConfigError

_MISSING = object()

# Values the official configurator itself insists on; anything else is a different architecture.
_FIXED: dict[str, Any] = {
    "dropout": 0.0,
    "attention_bias": True,
    "num_vector_embeds": None,
    "activation_fn": "gelu-approximate",
    "num_embeds_ada_norm": 1000,
    "use_linear_projection": False,
    "only_cross_attention": False,
    "cross_attention_norm": True,
    "double_self_attention": False,
    "upcast_attention": False,
    "standardization_norm": "rms_norm",
    "norm_elementwise_affine": False,
    "qk_norm": "rms_norm",
    "positional_embedding_type": "rope",
    "use_audio_video_cross_attention": True,
    "share_ff": False,
    "av_cross_ada_norm": True,
    "use_middle_indices_grid": True,
    "rope_type": "split",
    "frequencies_precision": "float64",
}


def _req(cfg: dict, key: str, kind: type | tuple[type, ...]) -> Any:
    value = cfg.get(key, _MISSING)
    if value is _MISSING:
        raise ConfigError(key, "<missing>", f"a {getattr(kind, '__name__', kind)} value")
    if isinstance(value, bool) or not isinstance(value, kind):
        if not (kind is float and isinstance(value, int) and not isinstance(value, bool)):
            raise ConfigError(key, value, f"a {getattr(kind, '__name__', kind)} value")
    return value


def _positive_int(cfg: dict, key: str) -> int:
    value = _req(cfg, key, int)
    if value <= 0:
        raise ConfigError(key, value, "a positive integer")
    return value


def _bool(cfg: dict, key: str, default: bool) -> bool:
    value = cfg.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(key, value, "true or false")
    return value


def _max_pos(cfg: dict, key: str, n_axes: int) -> tuple[float, ...]:
    value = cfg.get(key, _MISSING)
    if (
        value is _MISSING
        or not isinstance(value, (list, tuple))
        or len(value) != n_axes
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in value)
    ):
        raise ConfigError(key, None if value is _MISSING else value, f"a list of {n_axes} positive numbers")
    return tuple(float(v) for v in value)


@dataclass(frozen=True)
class TransformerConfig:
    """Hyper-parameters of the audio-video transformer (LTX-2 19B, LTX-2.3 22B and LTX-2.5 layouts)."""

    num_layers: int
    heads: int
    head_dim: int
    in_channels: int
    out_channels: int
    audio_heads: int
    audio_head_dim: int
    audio_in_channels: int
    audio_out_channels: int
    norm_eps: float
    theta: float
    max_pos: tuple[float, ...]
    audio_max_pos: tuple[float, ...]
    timestep_scale_multiplier: float
    av_ca_timestep_scale_multiplier: float
    caption_channels: int | None  # set when the caption projection lives in the transformer (19B)
    gated_attention: bool
    cross_attention_adaln: bool
    prompt_adaln: bool
    # LTX-2.5 keys; absent from older files, whose defaults are the official configurator's.
    ff_bias: bool = True  # video feed-forward linears carry a bias
    audio_ff_bias: bool = True
    keyframes_embedding: bool = False  # learned (1, D) marker added to keyframe video tokens

    @property
    def inner_dim(self) -> int:
        return self.heads * self.head_dim

    @property
    def audio_inner_dim(self) -> int:
        return self.audio_heads * self.audio_head_dim

    @property
    def adaln_coefficient(self) -> int:
        """Rows of each block's scale-shift table: 6, plus 3 for the cross-attention AdaLN."""
        return 9 if self.cross_attention_adaln else 6

    @property
    def cross_pe_max_pos(self) -> float:
        return max(self.max_pos[0], self.audio_max_pos[0])

    @property
    def video_context_dim(self) -> int:
        """Width of the text context the model takes for the video stream."""
        return self.caption_channels if self.caption_channels is not None else self.inner_dim

    @property
    def audio_context_dim(self) -> int:
        return self.caption_channels if self.caption_channels is not None else self.audio_inner_dim

    @classmethod
    def from_config(cls, cfg: dict) -> "TransformerConfig":
        """Read ``config["transformer"]``; refuse values this port does not implement."""
        if not isinstance(cfg, dict):
            raise ConfigError("transformer", type(cfg).__name__, "a dict")
        for key, expected in _FIXED.items():
            value = cfg.get(key, _MISSING)
            if value is _MISSING or value != expected or type(value) is not type(expected):
                if not (isinstance(expected, float) and isinstance(value, (int, float)) and value == expected):
                    raise ConfigError(key, None if value is _MISSING else value, repr(expected))
        heads = _positive_int(cfg, "num_attention_heads")
        head_dim = _positive_int(cfg, "attention_head_dim")
        audio_heads = _positive_int(cfg, "audio_num_attention_heads")
        audio_head_dim = _positive_int(cfg, "audio_attention_head_dim")
        # The cross-modal RoPE tables are split with each stream's own head count but applied
        # inside attentions that use the audio head count; the official code requires equality.
        if heads != audio_heads:
            raise ConfigError("num_attention_heads", heads, f"equal to audio_num_attention_heads ({audio_heads})")
        inner_dims = {
            "cross_attention_dim": heads * head_dim,
            "audio_cross_attention_dim": audio_heads * audio_head_dim,
        }
        for key, inner in inner_dims.items():
            value = _positive_int(cfg, key)
            if value != inner:
                raise ConfigError(key, value, f"the stream's inner dim heads*head_dim = {inner}")
        for key, inner in (("attention_head_dim", head_dim), ("audio_attention_head_dim", audio_head_dim)):
            if inner % 2:
                raise ConfigError(key, inner, "an even number (split RoPE rotates two halves)")

        av_mult = float(_req(cfg, "av_ca_timestep_scale_multiplier", float))
        ts_mult = float(_req(cfg, "timestep_scale_multiplier", float))
        if ts_mult <= 0 or av_mult <= 0:
            raise ConfigError("timestep_scale_multiplier", ts_mult, "a positive number")

        caption_in_transformer = not _bool(cfg, "caption_proj_before_connector", False)
        cross_adaln = _bool(cfg, "cross_attention_adaln", False)
        return cls(
            num_layers=_positive_int(cfg, "num_layers"),
            heads=heads,
            head_dim=head_dim,
            in_channels=_positive_int(cfg, "in_channels"),
            out_channels=_positive_int(cfg, "out_channels"),
            audio_heads=audio_heads,
            audio_head_dim=audio_head_dim,
            # The released configs omit this key; 128 is the official configurator's default.
            audio_in_channels=_positive_int({"audio_in_channels": 128, **cfg}, "audio_in_channels"),
            audio_out_channels=_positive_int(cfg, "audio_out_channels"),
            norm_eps=float(_req(cfg, "norm_eps", float)),
            theta=float(_req(cfg, "positional_embedding_theta", float)),
            max_pos=_max_pos(cfg, "positional_embedding_max_pos", 3),
            audio_max_pos=_max_pos(cfg, "audio_positional_embedding_max_pos", 1),
            timestep_scale_multiplier=ts_mult,
            av_ca_timestep_scale_multiplier=av_mult,
            caption_channels=_positive_int(cfg, "caption_channels") if caption_in_transformer else None,
            gated_attention=_bool(cfg, "apply_gated_attention", False),
            cross_attention_adaln=cross_adaln,
            prompt_adaln=cross_adaln and _bool(cfg, "use_prompt_adaln_single", True),
            ff_bias=_bool(cfg, "ff_bias", True),
            audio_ff_bias=_bool(cfg, "audio_ff_bias", True),
            keyframes_embedding=_bool(cfg, "use_keyframes_abs_pos_embedding", False),
        )
