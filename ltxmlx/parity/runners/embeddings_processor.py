"""Parity runner for the text embeddings processor (feature extractor + connectors), per prompt."""

from __future__ import annotations

import json

import mlx.core as mx

from ltxmlx.loader import build
from ltxmlx.text_encoders.gemma.config import Gemma3TextConfig
from ltxmlx.text_encoders.gemma.loading import with_text_encoder_config

# Rows of the Gemma case's batch, in the order the official encoder got them.
_PROMPTS = ("positive", "negative")


def run(case) -> dict[str, mx.array]:
    gemma_config_file = case.checkpoint_path(1).parent / "config.json"
    gemma = Gemma3TextConfig.from_config(json.loads(gemma_config_file.read_text()))
    processor = build(
        "embeddings_processor", with_text_encoder_config(case.checkpoint_path(0), gemma), dtype=mx.float32
    )
    states = [mx.array(case.input(f"hidden_states.{i}")) for i in range(gemma.num_hidden_states)]
    mask = mx.array(case.input("attention_mask"))
    out: dict[str, mx.array] = {}
    for row, name in enumerate(_PROMPTS):
        # The official PromptEncoder runs the processor on one prompt at a time (batch 1).
        one = [s[row : row + 1] for s in states]
        m = mask[row : row + 1]
        video_features, audio_features = processor.features(one, m)
        result = processor(one, m)
        wanted = {
            "feature_extractor.video": video_features,
            "feature_extractor.audio": audio_features,
            "video_encoding": result.video,
            "audio_encoding": result.audio,
            "attention_mask_out": result.mask,
        }
        for key, value in wanted.items():
            if f"{name}.{key}" in case.outputs:
                out[f"{name}.{key}"] = value
    return out
