"""Embeddings processor: Gemma hidden states -> video / audio text contexts for the transformer.

feature extractor (V1 or V2) -> tokens stably reordered valid-first -> video and audio connectors.
The config comes from the LTX file's `config["transformer"]` (connector_* keys) plus the Gemma text
dims (hidden size, number of hidden states), which the LTX file does not carry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import mlx.core as mx
from mlx import nn

from ltxmlx.errors import ConfigError, ShapeError
from ltxmlx.text_encoders.gemma.embeddings_connector import Embeddings1DConnector
from ltxmlx.text_encoders.gemma.feature_extractor import (
    FeatureExtractorV1,
    FeatureExtractorV2,
)

# The config section holding the Gemma dims (hidden_size, num_hidden_states) that the LTX file lacks.
TEXT_ENCODER_SECTION = "text_encoder"
# The official connectors do not read these from the config: RoPE theta and register count are the
# constructor defaults of `Embeddings1DConnector`.
CONNECTOR_ROPE_THETA = 10000.0
NUM_REGISTERS = 128
# Present with exactly these values = LTX-2.3 (V2 features, caption projection before the connector);
# all absent = LTX-2 (V1, projection inside the transformer).
_V2_KEYS = {
    "caption_proj_before_connector": True,
    "caption_projection_first_linear": False,
    "caption_proj_input_norm": False,
    "caption_projection_second_linear": False,
}


@dataclass(frozen=True)
class ConnectorConfig:
    heads: int
    dim_head: int
    num_layers: int

    @property
    def dim(self) -> int:
        return self.heads * self.dim_head


@dataclass(frozen=True)
class EmbeddingsProcessorConfig:
    gemma_hidden: int
    gemma_states: int
    version: int  # feature extractor 1 (19B) or 2 (22B)
    video: ConnectorConfig
    audio: ConnectorConfig
    max_pos: int
    gated: bool
    v2_video_dim: int
    v2_audio_dim: int

    @classmethod
    def from_config(cls, config: dict, gemma_hidden: int, gemma_states: int) -> EmbeddingsProcessorConfig:
        """config: the LTX file's full config (reads `config["transformer"]`)."""
        t = config["transformer"]
        if t.get("rope_type") != "split":
            raise ConfigError("transformer.rope_type", t.get("rope_type"), "'split'")
        if t.get("frequencies_precision") != "float64":
            raise ConfigError("transformer.frequencies_precision", t.get("frequencies_precision"), "'float64'")
        max_pos = t["connector_positional_embedding_max_pos"]
        if not isinstance(max_pos, list) or len(max_pos) != 1:
            raise ConfigError("transformer.connector_positional_embedding_max_pos", max_pos, "a one-element list")
        registers = t.get("connector_num_learnable_registers", NUM_REGISTERS)
        if registers != NUM_REGISTERS:
            raise ConfigError("transformer.connector_num_learnable_registers", registers, f"{NUM_REGISTERS}")
        if not t.get("connector_ff_bias", True):
            raise ConfigError("transformer.connector_ff_bias", t["connector_ff_bias"], "true")
        video = ConnectorConfig(
            t["connector_num_attention_heads"], t["connector_attention_head_dim"], t["connector_num_layers"]
        )
        # As in the official configurator, the audio connector falls back to the video connector's keys.
        audio = ConnectorConfig(
            t.get("audio_connector_num_attention_heads", video.heads),
            t.get("audio_connector_attention_head_dim", video.dim_head),
            t.get("audio_connector_num_layers", video.num_layers),
        )
        present = {k: t[k] for k in _V2_KEYS if k in t}
        if not present:
            version, v2_video, v2_audio = 1, 0, 0
            for name, c in (("connector", video), ("audio_connector", audio)):
                if c.dim != gemma_hidden:
                    raise ConfigError(
                        f"transformer.{name}_num_attention_heads*{name}_attention_head_dim", c.dim,
                        f"the Gemma hidden size {gemma_hidden} (V1 features feed both connectors)",
                    )
        else:
            for k, v in _V2_KEYS.items():
                if present.get(k, not v) != v:
                    raise ConfigError(f"transformer.{k}", t.get(k), f"{v!r} (LTX-2.3 text path)")
            norm = t.get("text_encoder_norm_type", "per_token_rms")
            if norm != "per_token_rms":
                raise ConfigError("transformer.text_encoder_norm_type", norm, "'per_token_rms'")
            version = 2
            v2_video = t["num_attention_heads"] * t["attention_head_dim"]
            v2_audio = t["audio_num_attention_heads"] * t["audio_attention_head_dim"]
            if (v2_video, v2_audio) != (video.dim, audio.dim):
                raise ConfigError(
                    "transformer.connector dims", (video.dim, audio.dim),
                    f"the transformer's video/audio widths {(v2_video, v2_audio)}",
                )
        return cls(
            gemma_hidden=gemma_hidden, gemma_states=gemma_states, version=version, video=video, audio=audio,
            max_pos=int(max_pos[0]), gated=bool(t.get("connector_apply_gated_attention", False)),
            v2_video_dim=v2_video, v2_audio_dim=v2_audio,
        )


class TextEmbeddings(NamedTuple):
    video: mx.array  # (B, T, Dv)
    audio: mx.array  # (B, T, Da)
    mask: mx.array  # (B, T) all ones: registers fill the pads


def right_pad_order(mask: mx.array) -> mx.array:
    """(B, T) indices that move valid tokens first, each group in its original order (stable)."""
    t = mask.shape[-1]
    key = (mask == 0).astype(mx.int32) * t + mx.arange(t, dtype=mx.int32)
    return mx.argsort(key, axis=-1)


class EmbeddingsProcessor(nn.Module):
    """Keys: `feature_extractor.*`, `video_connector.*`, `audio_connector.*`."""

    def __init__(self, cfg: EmbeddingsProcessorConfig):
        super().__init__()
        self.cfg = cfg
        if cfg.version == 1:
            self.feature_extractor = FeatureExtractorV1(cfg.gemma_hidden, cfg.gemma_states)
        else:
            self.feature_extractor = FeatureExtractorV2(
                cfg.gemma_hidden, cfg.gemma_states, cfg.v2_video_dim, cfg.v2_audio_dim
            )

        def connector(c: ConnectorConfig) -> Embeddings1DConnector:
            return Embeddings1DConnector(
                c.heads, c.dim_head, c.num_layers, cfg.max_pos, CONNECTOR_ROPE_THETA, NUM_REGISTERS, cfg.gated
            )

        self.video_connector = connector(cfg.video)
        self.audio_connector = connector(cfg.audio)

    def features(self, states: list[mx.array], mask: mx.array) -> tuple[mx.array, mx.array]:
        """Feature extractor alone: L states (B, T, D) + mask (B, T) -> video, audio features."""
        return self.feature_extractor(states, mask)

    def __call__(self, states: list[mx.array], mask: mx.array) -> TextEmbeddings:
        """states: Gemma hidden states, L arrays (B, T, D); mask: (B, T) 1 = token (any padding side)."""
        if mask.ndim != 2:
            raise ShapeError(f"embeddings processor: expected a (B, T) mask, got {tuple(mask.shape)}")
        video, audio = self.features(states, mask)
        order = right_pad_order(mask)
        valid = mx.take_along_axis(mask != 0, order, axis=-1)
        video = self.video_connector(mx.take_along_axis(video, order[:, :, None], axis=1), valid)
        audio = self.audio_connector(mx.take_along_axis(audio, order[:, :, None], axis=1), valid)
        return TextEmbeddings(video, audio, mx.ones(mask.shape, dtype=mx.int32))
