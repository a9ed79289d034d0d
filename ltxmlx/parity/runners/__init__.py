"""Parity runners: component name (as in the fixture index) -> module with `run(case) -> {output: array}`."""

from __future__ import annotations

import importlib
from types import ModuleType

RUNNERS: dict[str, str] = {
    "audio_vae": "ltxmlx.parity.runners.audio_vae",
    "duration_head": "ltxmlx.parity.runners.duration_head",
    "embeddings_processor": "ltxmlx.parity.runners.embeddings_processor",
    "latent_upsampler": "ltxmlx.parity.runners.latent_upsampler",
    "lora_fusion": "ltxmlx.parity.runners.lora_fusion",
    "numerics": "ltxmlx.parity.runners.numerics",
    "pipeline": "ltxmlx.parity.runners.pipeline",
    "gemma3_text_encoder": "ltxmlx.parity.runners.gemma3_text_encoder",
    "gemma4_text_encoder": "ltxmlx.parity.runners.gemma4_text_encoder",
    "spatial_upsampler": "ltxmlx.parity.runners.spatial_upsampler",
    "temporal_upsampler": "ltxmlx.parity.runners.temporal_upsampler",
    "transformer": "ltxmlx.parity.runners.transformer",
    "video_vae": "ltxmlx.parity.runners.video_vae",
    "video_vae_diffusion": "ltxmlx.parity.runners.video_vae_diffusion",
    "vocoder": "ltxmlx.parity.runners.vocoder",
}


def runner_for(component: str) -> ModuleType | None:
    path = RUNNERS.get(component)
    return importlib.import_module(path) if path else None
