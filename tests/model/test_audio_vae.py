"""Audio VAE on tiny configs: shapes for both generations, batching, dtypes, config refusals, bad inputs."""

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
from ltxmlx.model.audio_vae import AudioDecoder, AudioEncoder, AudioVAEConfig, encode_audio
from ltxmlx.model.audio_vae.decoder import decoded_frames
from ltxmlx.model.audio_vae.encoder import encoded_frames

from tests.conftest import FIXTURES, tiny_checkpoint, tiny_config

GENS = ("19b", "22b")




@lru_cache(maxsize=None)
def _models(gen: str, dtype=mx.float32):
    return build("audio_decoder", tiny_checkpoint(gen), dtype=dtype), build("audio_encoder", tiny_checkpoint(gen), dtype=dtype)


def _randn(shape, seed: int) -> mx.array:
    return mx.random.normal(shape, key=mx.random.key(seed))


def _randomize(module, seed: int) -> None:
    """Fan-in scaled random weights (positive std for the latent statistics)."""
    params = tree_flatten(module.parameters())
    keys = mx.random.split(mx.random.key(seed), len(params))
    new = []
    for (name, p), k in zip(params, keys):
        fan_in = int(np.prod(p.shape[1:])) if p.ndim > 1 else 1
        value = mx.random.normal(p.shape, key=k) / np.sqrt(fan_in) * (1.0 if p.ndim > 1 else 0.1)
        new.append((name, 1.0 + mx.abs(value) if name.endswith("std_of_means") else value))
    module.load_weights(new)


@pytest.mark.parametrize("gen", GENS)
@pytest.mark.parametrize("batch,frames", [(1, 1), (1, 4), (2, 5)])
def test_decoder_gives_4t_minus_3_mel_frames(gen, batch, frames):
    decoder, _ = _models(gen)
    cfg = decoder.config
    mel = decoder(_randn((batch, cfg.z_channels, frames, cfg.latent_mel_bins), 1))
    assert mel.shape == (batch, cfg.out_ch, 4 * frames - 3, cfg.mel_bins)
    assert mel.dtype == mx.float32 and bool(mx.all(mx.isfinite(mel)))


@pytest.mark.parametrize("gen", GENS)
@pytest.mark.parametrize("batch,mel_frames,latent_frames", [(1, 21, 6), (2, 26, 7), (1, 1, 1), (2, 4, 1), (2, 5, 2)])
def test_encoder_gives_causal_latent_frames(gen, batch, mel_frames, latent_frames):
    _, encoder = _models(gen)
    cfg = encoder.config
    latent = encoder(_randn((batch, cfg.in_channels, mel_frames, cfg.mel_bins), 2))
    assert latent.shape == (batch, cfg.z_channels, latent_frames, cfg.latent_mel_bins)
    assert encoded_frames(mel_frames, cfg.num_resolutions - 1) == latent_frames


def test_decoded_frame_count_inverts_encoded_frame_count():
    """Audio of 4T-3 mel frames encodes back to T latent frames (the causal 1 + 4(T-1) layout)."""
    for t in range(1, 12):
        assert encoded_frames(decoded_frames(t), 2) == t


@pytest.mark.parametrize("gen", GENS)
def test_batched_equals_solo(gen):
    decoder, encoder = _models(gen)
    cfg = decoder.config
    latent = _randn((2, cfg.z_channels, 3, cfg.latent_mel_bins), 3)
    both = decoder(latent)
    for i in range(2):
        assert np.allclose(np.array(both[i : i + 1]), np.array(decoder(latent[i : i + 1])), atol=1e-5)
    mel = _randn((2, cfg.in_channels, 9, cfg.mel_bins), 4)
    enc = encoder(mel)
    assert np.allclose(np.array(enc[1:]), np.array(encoder(mel[1:])), atol=1e-5)


@pytest.mark.parametrize("gen", GENS)
def test_decoder_is_causal_in_time(gen):
    """Changing latent frame k leaves mel frames before 4k-3 (those decoded from earlier frames) unchanged."""
    decoder, _ = _models(gen)
    cfg = decoder.config
    latent = _randn((1, cfg.z_channels, 4, cfg.latent_mel_bins), 5)
    changed = latent.at[:, :, 2].add(1.0)
    a, b = np.array(decoder(latent)), np.array(decoder(changed))
    assert np.allclose(a[:, :, :5], b[:, :, :5], atol=1e-6)
    assert not np.allclose(a[:, :, 5:], b[:, :, 5:], atol=1e-3)


@pytest.mark.parametrize("gen", GENS)
def test_bfloat16_runs_close_to_float32(gen):
    dec32, _ = _models(gen)
    dec16, _ = _models(gen, mx.bfloat16)
    cfg = dec32.config
    latent = _randn((1, cfg.z_channels, 3, cfg.latent_mel_bins), 6)
    ref, got = dec32(latent), dec16(latent.astype(mx.bfloat16))
    assert got.dtype == mx.bfloat16
    err = float(mx.max(mx.abs(got.astype(mx.float32) - ref)))
    assert err < 0.05 * float(mx.max(mx.abs(ref))), err


def test_dims_come_from_the_config():
    """Another width, depth and z than the public tiny set: built, run and shaped from the config alone."""
    cfg = copy.deepcopy(tiny_config("19b"))
    dd = cfg["audio_vae"]["model"]["params"]["ddconfig"]
    dd.update(z_channels=4, ch=64, ch_mult=[1, 2, 2], num_res_blocks=2)
    vae_cfg = AudioVAEConfig.from_config(cfg)
    decoder, encoder = AudioDecoder(vae_cfg), AudioEncoder(vae_cfg)
    _randomize(decoder, 7)
    _randomize(encoder, 8)
    assert decoder.conv_in.conv.weight.shape == (128, 3, 3, 4)
    assert len(decoder.up[0].block) == 3 and len(encoder.down[0].block) == 2
    assert decoder(_randn((2, 4, 3, 16), 9)).shape == (2, 2, 9, 64)
    assert encoder(_randn((2, 2, 9, 64), 10)).shape == (2, 4, 3, 16)


@pytest.mark.parametrize(
    "shape",
    [(1, 3, 4, 16), (1, 2, 4, 8), (2, 4, 16), (1, 2, 0, 16)],
    ids=["channels", "mel_bins", "rank", "no_frames"],
)
def test_decoder_rejects_bad_latents(shape):
    decoder, _ = _models("19b")
    with pytest.raises(ShapeError, match="expected"):
        decoder(mx.zeros(shape))


@pytest.mark.parametrize("shape", [(1, 2, 21, 80), (1, 1, 21, 64), (2, 21, 64)])
def test_encoder_rejects_bad_mels(shape):
    _, encoder = _models("22b")
    with pytest.raises(ShapeError, match="expected"):
        encoder(mx.zeros(shape))


def test_encode_audio_rejects_mono_waveform():
    _, encoder = _models("19b")
    with pytest.raises(ShapeError, match="samples"):
        encode_audio(mx.zeros((1, 1, 4000)), 16000, encoder)


@pytest.mark.parametrize(
    "path,value",
    [
        ("model.params.ddconfig.norm_type", "group"),
        ("model.params.ddconfig.causality_axis", "width"),
        ("model.params.ddconfig.mid_block_add_attention", True),
        ("model.params.ddconfig.attn_resolutions", [8]),
        ("model.params.ddconfig.double_z", False),
        ("model.params.ddconfig.ch", 48),
        ("preprocessing.mel.mel_fmax", 7600),
        ("preprocessing.stft.win_length", 800),
    ],
)
def test_unsupported_config_values_are_refused(path, value):
    cfg = copy.deepcopy(tiny_config("22b"))
    node = cfg["audio_vae"]
    *parents, leaf = path.split(".")
    for p in parents:
        node = node[p]
    node[leaf] = value
    with pytest.raises(ConfigError, match=leaf):
        AudioVAEConfig.from_config(cfg)


def test_missing_config_key_is_refused():
    cfg = copy.deepcopy(tiny_config("19b"))
    del cfg["audio_vae"]["model"]["params"]["ddconfig"]["z_channels"]
    with pytest.raises(ConfigError, match="z_channels"):
        AudioVAEConfig.from_config(cfg)


@pytest.mark.parametrize("manifest", ["manifest_ltx2_19b.json", "manifest_ltx23_22b.json"])
def test_real_configs_describe_the_known_audio_vae(manifest):
    cfg = AudioVAEConfig.from_config(json.loads((FIXTURES / manifest).read_text())["metadata"]["config"])
    assert (cfg.z_channels, cfg.latent_mel_bins, cfg.ch, cfg.sample_rate, cfg.hop_length) == (8, 16, 128, 16000, 160)
