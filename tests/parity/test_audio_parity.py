"""decode_audio reproduces the official pipelines' decoded mel and waveform from their final audio latents."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

from ltxmlx.loader import build
from ltxmlx.model.audio_vae import decode_audio
from ltxmlx.parity.compare import compare_output
from ltxmlx.parity.fixtures import load_index

INDEX = Path(__file__).resolve().parents[1] / "fixtures" / "parity" / "index.json"
# The two-stage (dev) pipeline refines video only in stage 2 and decodes the stage-1 audio;
# the distilled pipeline decodes its stage-2 audio.
PIPELINES = {"19b.pipeline_dev": "stage1", "22b.pipeline_dev": "stage1", "22b.pipeline_distilled": "stage2"}


@lru_cache(maxsize=1)
def _cases() -> dict:
    _, cases = load_index(INDEX)
    return {c.id: c for c in cases}


@pytest.mark.parametrize("case_id", sorted(PIPELINES))
def test_decode_audio_reproduces_the_pipelines_final_audio(case_id: str) -> None:
    """The official pipeline's last step: its final audio latent -> mel -> waveform and sample rate."""
    case = _cases()[case_id]
    ckpt = case.checkpoint_path(f"{case_id.split('.')[0]}/tiny_{case_id.split('.')[0]}.safetensors")
    decoder = build("audio_decoder", ckpt, dtype=mx.float32)
    vocoder = build("vocoder", ckpt, dtype=mx.float32)
    latent = mx.array(case.reference(f"{PIPELINES[case_id]}.audio_latent"))
    waveform, rate = decode_audio(latent, decoder, vocoder)
    assert rate == int(case.reference("decoded.waveform_sampling_rate"))
    for name, got in (("decoded.audio_mel", decoder(latent)), ("decoded.waveform", waveform[0])):
        result = compare_output(case, name, np.array(got))
        assert result.passed, f"{name}: max_abs {result.max_abs:.3g} (atol {result.atol:.3g}) {result.problem}"
