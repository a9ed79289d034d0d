"""Parity runner for the text embeddings processor (feature extractor + connectors), per prompt.

Gemma 3 cases: the LTX single file plus the Gemma folder's config.json (checkpoint 1's folder).
Gemma 4 cases (LTX-2.5): the (transformer file, packed text-encoder file) pair, as the official loader.
"""

from __future__ import annotations

import json

import mlx.core as mx

from ltxmlx.loader import build
from ltxmlx.loader.checkpoint import open_checkpoint
from ltxmlx.text_encoders.gemma.config import Gemma3TextConfig
from ltxmlx.text_encoders.gemma.loading import with_text_encoder_config
from ltxmlx.text_encoders.gemma4.assets import GEMMA_CONFIG_KEY
from ltxmlx.text_encoders.gemma4.config import Gemma4TextConfig
from ltxmlx.text_encoders.gemma4.loading import load_gemma4_embeddings_processor

# Rows of the Gemma case's batch, in the order the official encoder got them.
_PROMPTS = ("positive", "negative")


def _processor(case):
    """(processor, number of Gemma hidden states) for the case's checkpoints."""
    ltx, text_encoder = case.checkpoint_path(0), case.checkpoint_path(1)
    metadata = open_checkpoint(text_encoder).metadata
    if GEMMA_CONFIG_KEY in metadata:
        gemma4 = Gemma4TextConfig.from_config(metadata[GEMMA_CONFIG_KEY])
        return load_gemma4_embeddings_processor(text_encoder, ltx, dtype=mx.float32), gemma4.num_hidden_states
    gemma = Gemma3TextConfig.from_config(json.loads((text_encoder.parent / "config.json").read_text()))
    processor = build("embeddings_processor", with_text_encoder_config(ltx, gemma), dtype=mx.float32)
    return processor, gemma.num_hidden_states


def run(case) -> dict[str, mx.array]:
    processor, num_states = _processor(case)
    states = [mx.array(case.input(f"hidden_states.{i}")) for i in range(num_states)]
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
