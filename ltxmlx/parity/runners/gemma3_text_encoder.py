"""Parity runner for Gemma 3 hidden states: one batch-2 forward of left-padded token ids."""

from __future__ import annotations

import mlx.core as mx

from ltxmlx.loader import build
from ltxmlx.text_encoders.gemma.loading import open_gemma_checkpoint


def run(case) -> dict[str, mx.array]:
    # The Gemma weights file sits in a Hugging Face style folder next to its config.json.
    gemma = build("gemma3", open_gemma_checkpoint(case.checkpoint_path(0)), dtype=mx.float32)
    states = gemma(mx.array(case.input("input_ids")), mx.array(case.input("attention_mask")))
    return {f"hidden_states.{i}": h for i, h in enumerate(states)}
