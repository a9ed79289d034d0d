"""Vocoders on tiny configs: samples per mel frame, rates, batching, float32 BWE, refusals, bad inputs."""

from __future__ import annotations

import copy
import json
from functools import lru_cache

import mlx.core as mx
import numpy as np
import pytest
from mlx.utils import tree_flatten

from ltxmlx.errors import ConfigError, ShapeError
from ltxmlx.loader import build
from ltxmlx.model.audio_vae import VocoderConfig, VocoderWithBWE, decode_audio

from tests.conftest import FIXTURES, tiny_checkpoint, tiny_config

# generation -> (output rate, samples per mel frame) of the tiny public configs
TINY = {"19b": (24000, 240), "22b": (48000, 480)}




@lru_cache(maxsize=None)
def _vocoder(gen: str, dtype=mx.float32):
    return build("vocoder", tiny_checkpoint(gen), dtype=dtype)


def _mel(shape, seed: int) -> mx.array:
    return mx.random.normal(shape, key=mx.random.key(seed)) - 4.0


@pytest.mark.parametrize("gen", sorted(TINY))
@pytest.mark.parametrize("batch,frames", [(1, 1), (2, 5)])
def test_waveform_has_hop_samples_per_mel_frame(gen, batch, frames):
    rate, hop = TINY[gen]
    vocoder = _vocoder(gen)
    wave = vocoder(_mel((batch, 2, frames, 64), 1))
    assert wave.shape == (batch, 2, hop * frames)
    assert vocoder.output_sampling_rate == rate
    assert wave.dtype == mx.float32 and bool(mx.all(mx.isfinite(wave)))


@pytest.mark.parametrize(
    "manifest,rate,hop,bwe", [("manifest_ltx2_19b.json", 24000, 240, False), ("manifest_ltx23_22b.json", 48000, 480, True)]
)
def test_real_configs_give_100_mel_frames_per_second(manifest, rate, hop, bwe):
    cfg = VocoderConfig.from_config(json.loads((FIXTURES / manifest).read_text())["metadata"]["config"])
    assert cfg.output_sampling_rate == rate and (cfg.bwe is not None) == bwe
    per_frame = cfg.generator.hop * (cfg.bwe.ratio if cfg.bwe else 1)
    assert per_frame == hop and rate // per_frame == 100


@pytest.mark.parametrize("gen", sorted(TINY))
def test_batched_equals_solo(gen):
    vocoder = _vocoder(gen)
    mel = _mel((2, 2, 4, 64), 2)
    both = np.array(vocoder(mel))
    for i in range(2):
        assert np.allclose(both[i : i + 1], np.array(vocoder(mel[i : i + 1])), atol=1e-6)


@pytest.mark.parametrize("gen", sorted(TINY))
def test_output_stays_in_minus_one_one(gen):
    wave = _vocoder(gen)(_mel((1, 2, 3, 64), 3) * 50.0)
    assert float(mx.max(mx.abs(wave))) <= 1.0


def test_bwe_vocoder_stays_float32_in_a_bfloat16_build():
    vocoder = _vocoder("22b", mx.bfloat16)
    assert isinstance(vocoder, VocoderWithBWE)
    assert {v.dtype for _, v in tree_flatten(vocoder.parameters())} == {mx.float32}
    mel = _mel((1, 2, 4, 64), 4)
    got = vocoder(mel.astype(mx.bfloat16))
    ref = _vocoder("22b")(mel.astype(mx.bfloat16).astype(mx.float32))
    assert got.dtype == mx.bfloat16
    assert np.allclose(np.array(got.astype(mx.float32)), np.array(ref), atol=4e-3 * float(mx.max(mx.abs(ref))) + 1e-6)


def test_bwe_with_bfloat16_weights_still_computes_in_float32():
    """Weights cast to bf16 by hand: the pass upcasts them per op, as the official autocast does."""
    vocoder = build("vocoder", tiny_checkpoint("22b"), dtype=mx.float32)
    vocoder.set_dtype(mx.bfloat16)
    stages = vocoder.stages(_mel((1, 2, 3, 64), 5))
    assert all(s.dtype == mx.float32 for s in stages)


def test_hifigan_follows_the_run_dtype():
    vocoder = _vocoder("19b", mx.bfloat16)
    assert vocoder.conv_pre.weight.dtype == mx.bfloat16
    assert vocoder(_mel((1, 2, 2, 64), 6).astype(mx.bfloat16)).dtype == mx.bfloat16


def test_bwe_intermediates_have_documented_shapes():
    vocoder = _vocoder("22b")
    s = vocoder.stages(_mel((2, 2, 3, 64), 7))
    low = 3 * vocoder.config.generator.hop
    assert s.vocoder_16k.shape == (2, 2, low)
    assert s.mel.shape == (2, 2, low // vocoder.config.bwe.hop_length, 64)
    assert s.residual.shape == s.skip.shape == s.output.shape == (2, 2, 3 * low)


@pytest.mark.parametrize("gen", sorted(TINY))
def test_decode_audio_gives_waveform_and_rate(gen):
    rate, hop = TINY[gen]
    decoder = build("audio_decoder", tiny_checkpoint(gen), dtype=mx.float32)
    cfg = decoder.config
    latent = mx.random.normal((2, cfg.z_channels, 3, cfg.latent_mel_bins), key=mx.random.key(8))
    waveform, sr = decode_audio(latent, decoder, _vocoder(gen))
    assert sr == rate and waveform.shape == (2, 2, hop * (4 * 3 - 3))


@pytest.mark.parametrize("shape", [(1, 6, 64), (1, 1, 6, 64), (1, 2, 6, 80), (1, 2, 0, 64)])
@pytest.mark.parametrize("gen", sorted(TINY))
def test_bad_mel_shapes_are_refused(gen, shape):
    with pytest.raises(ShapeError, match="expected stereo mel|at least one"):
        _vocoder(gen)(mx.zeros(shape))


@pytest.mark.parametrize(
    "gen,path,value",
    [
        ("19b", "resblock", "2"),
        ("19b", "stereo", False),
        ("19b", "resblock_kernel_sizes", [3, 6, 11]),
        ("22b", "vocoder.activation", "snake"),
        ("22b", "vocoder.resblock", "1"),
        ("22b", "bwe.apply_final_activation", True),
        ("22b", "bwe.win_size", 100),
        ("22b", "bwe.output_sampling_rate", 44100),
        ("22b", "bwe.hop_length", 160),
    ],
)
def test_unsupported_vocoder_configs_are_refused(gen, path, value):
    cfg = copy.deepcopy(tiny_config(gen))
    node = cfg["vocoder"]
    *parents, leaf = path.split(".")
    for p in parents:
        node = node[p]
    node[leaf] = value
    with pytest.raises(ConfigError):
        VocoderConfig.from_config(cfg)
