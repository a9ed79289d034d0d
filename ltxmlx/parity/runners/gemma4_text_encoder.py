"""Parity runner for Gemma 4 hidden states: one batch-2 forward of left-padded token ids, loaded
from the packed text-encoder file."""

from __future__ import annotations

import mlx.core as mx

from ltxmlx.loader import build
from ltxmlx.text_encoders.gemma4.loading import open_gemma4_checkpoint


def run(case) -> dict[str, mx.array]:
    gemma = build("gemma4", open_gemma4_checkpoint(case.checkpoint_path(0)), dtype=mx.float32)
    states = gemma(mx.array(case.input("input_ids")), mx.array(case.input("attention_mask")))
    return {f"hidden_states.{i}": h for i, h in enumerate(states)}
