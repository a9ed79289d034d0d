"""LTX-2.5 split component files: the audio file's three components, the upsamplers and bare VAE statistics."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest
from safetensors import safe_open

from ltxmlx.errors import ConfigError
from ltxmlx.loader import build
from ltxmlx.loader.specs.video_vae import STATS_KEY_OPS
from ltxmlx.model.audio_vae import VocoderWithBWE, decode_audio, encode_audio
from ltxmlx.model.upsampler import upsample_video
from ltxmlx.model.video_vae.per_channel_statistics import MEAN_KEY, STD_KEY

from tests.conftest import PARITY, tiny_checkpoint

GEN25 = PARITY / "25"
AUDIO = GEN25 / "tiny_ltx-2.5-audio-vae.safetensors"
CONV_VAE = GEN25 / "tiny_ltx-2.5-video-vae-conv.safetensors"
SPATIAL = GEN25 / "tiny_ltx-2.5-latent-spatial-upscaler-x2.safetensors"
TEMPORAL = GEN25 / "tiny_ltx-2.5-latent-temporal-upscaler-x2.safetensors"


def _tensor(path, key: str) -> np.ndarray:
    with safe_open(str(path), "np") as f:
        return f.get_tensor(key)


def test_audio_decoder_encoder_and_vocoder_build_from_the_split_audio_file():
    decoder = build("audio_decoder", AUDIO, dtype=mx.float32)
    encoder = build("audio_encoder", AUDIO, dtype=mx.float32)
    vocoder = build("vocoder", AUDIO, dtype=mx.float32)
    assert isinstance(vocoder, VocoderWithBWE) and vocoder.output_sampling_rate == 48000
    # A round trip through every component: 0.5 s of stereo noise -> latent -> waveform.
    wave = mx.random.normal((1, 2, 8000), key=mx.random.key(0)) * 0.1
    latent = encode_audio(wave, 16000, encoder)
    assert latent.shape[:2] == (1, 2) and latent.shape[-1] == 16
    out, rate = decode_audio(latent, decoder, vocoder)
    frames = latent.shape[2]
    assert rate == 48000 and out.shape == (1, 2, 480 * (4 * frames - 3)) and out.dtype == mx.float32
    assert np.isfinite(np.array(out)).all()
    # The statistics the decoder un-normalizes with are the file's `audio_vae.per_channel_statistics.*`.
    mean = _tensor(AUDIO, "audio_vae.per_channel_statistics.mean-of-means")
    np.testing.assert_array_equal(np.array(decoder.per_channel_statistics.mean_of_means), mean)


@pytest.mark.parametrize(("path", "prefix"), [(CONV_VAE, ""), (tiny_checkpoint("22b"), "vae.")])
def test_video_latent_stats_load_bare_and_nested_keys(path, prefix):
    stats = build("video_latent_stats", path, dtype=mx.float32)
    for key in (MEAN_KEY, STD_KEY):
        np.testing.assert_array_equal(np.array(stats[key]), _tensor(path, f"{prefix}per_channel_statistics.{key}"))


def test_stats_key_ops_refuse_a_file_holding_both_layouts():
    keys = ["vae.per_channel_statistics.mean-of-means", "per_channel_statistics.mean-of-means"]
    with pytest.raises(ValueError, match="map both"):
        STATS_KEY_OPS.map_keys(keys)
    assert STATS_KEY_OPS.map_keys(["per_channel_statistics.channel", "encoder.conv_in.conv.weight"]) == {}


def test_25_upsamplers_build_from_their_files_and_wrap_with_the_conv_vae_statistics():
    spatial = build("spatial_upsampler", SPATIAL, dtype=mx.float32)
    temporal = build("temporal_upsampler", TEMPORAL, dtype=mx.float32)
    stats = build("video_latent_stats", CONV_VAE, dtype=mx.float32)
    latent = mx.random.normal((1, 4, 3, 2, 2), key=mx.random.key(1))
    assert spatial(latent).shape == (1, 4, 3, 4, 4)
    assert temporal(latent).shape == (1, 4, 5, 2, 2)
    wrapped = upsample_video(latent, spatial, stats)
    assert wrapped.shape == (1, 4, 3, 4, 4)
    # The statistics are not the identity, so wrapping changes the result.
    assert np.abs(np.array(wrapped) - np.array(spatial(latent))).max() > 1e-4
    with pytest.raises(ConfigError, match="spatial"):
        build("spatial_upsampler", TEMPORAL)
