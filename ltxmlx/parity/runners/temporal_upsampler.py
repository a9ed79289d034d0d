"""Parity runner for the temporal x2 latent upsampler (raw call, F' -> 2F' - 1)."""

from __future__ import annotations

import mlx.core as mx

from ltxmlx.loader import build


def run(case) -> dict[str, mx.array]:
    upsampler = build("temporal_upsampler", case.checkpoint_path(0), dtype=mx.float32)
    return {"output": upsampler(mx.array(case.input("input")))}
