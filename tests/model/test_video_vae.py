"""Video VAE on the tiny configs of both generations: shapes, batching, dtypes, input and config checks."""

import json

import mlx.core as mx
import numpy as np
import pytest

from ltxmlx.errors import ConfigError, ShapeError
from ltxmlx.model.video_vae import (
    PerChannelStatistics,
    VideoDecoder,
    VideoDecoderConfig,
    VideoEncoder,
    VideoEncoderConfig,
    decode_video,
    to_rgb,
)
from tests.conftest import PARITY

_CHECKPOINTS = json.loads((PARITY / "index.json").read_text())["checkpoints"]


def vae_config(gen: str) -> dict:
    """The tiny checkpoint's `config["vae"]` (19b: reflect decoder, residual upsamplers; 22b: zeros)."""
    config = _CHECKPOINTS[f"{gen}/tiny_{gen}.safetensors"]["metadata"]["config"]
    return dict((json.loads(config) if isinstance(config, str) else config)["vae"])


@pytest.fixture(scope="module", params=["19b", "22b"])
def vae(request):
    cfg = vae_config(request.param)
    mx.random.seed(0)  # deterministic random init
    return VideoEncoder(VideoEncoderConfig.from_config(cfg)), VideoDecoder(VideoDecoderConfig.from_config(cfg))


@pytest.mark.parametrize("batch", [1, 2])
def test_encoder_maps_8k_plus_1_frames_to_latent_grid(vae, batch):
    encoder, _ = vae
    video = mx.random.uniform(-1, 1, (batch, 3, 17, 64, 32), key=mx.random.key(0))
    assert encoder(video).shape == (batch, 4, 3, 2, 1)


@pytest.mark.parametrize("batch", [1, 2])
def test_decoder_maps_latent_grid_to_8k_plus_1_frames(vae, batch):
    _, decoder = vae
    latent = mx.random.normal((batch, 4, 3, 2, 3), key=mx.random.key(1))
    assert decoder(latent).shape == (batch, 3, 17, 64, 96)
    assert decoder.output_shape(3, 2, 3) == (17, 64, 96)


def test_batched_decode_equals_solo_decodes(vae):
    _, decoder = vae
    latent = mx.random.normal((2, 4, 2, 2, 2), key=mx.random.key(2))
    both = np.array(decoder(latent))
    for i in range(2):
        np.testing.assert_allclose(np.array(decoder(latent[i : i + 1]))[0], both[i], atol=1e-5)


def test_bfloat16_decoder_tracks_float32(vae):
    _, decoder = vae
    latent = mx.random.normal((1, 4, 2, 2, 2), key=mx.random.key(3))
    ref = np.array(decoder(latent))
    decoder.set_dtype(mx.bfloat16)
    try:
        out = decoder(latent)
    finally:
        decoder.set_dtype(mx.float32)
    assert out.dtype == mx.float32  # output follows the latent's dtype
    out = np.array(out)
    assert np.isfinite(out).all()
    # Relative RMS error; the 4-channel pixel norms of the tiny configs amplify bf16 rounding (~4% here).
    assert np.sqrt(((out - ref) ** 2).mean() / (ref**2).mean()) < 0.1


def test_decode_video_yields_rgb_frames_in_unit_range(vae):
    _, decoder = vae
    latent = mx.random.normal((2, 4, 2, 2, 2), key=mx.random.key(4))
    chunks = list(decode_video(decoder, latent, tiling=None))
    assert len(chunks) == 1 and chunks[0].shape == (2, 9, 64, 64, 3)
    frames = np.array(chunks[0])
    assert frames.min() >= 0.0 and frames.max() <= 1.0
    expected = np.array(to_rgb(decoder(latent).transpose(0, 2, 3, 4, 1)))
    np.testing.assert_allclose(frames, expected, atol=1e-6)


@pytest.mark.parametrize(
    "shape, message",
    [
        ((1, 3, 10, 64, 64), r"8k\+1 frames, got 10"),
        ((1, 3, 9, 48, 64), "divisible by 32"),
        ((1, 4, 9, 64, 64), "expected 3 channels, got 4"),
        ((3, 9, 64, 64), "5-D"),
    ],
)
def test_encoder_rejects_bad_videos_before_compute(vae, shape, message):
    encoder, _ = vae
    with pytest.raises(ShapeError, match=message):
        encoder(mx.zeros(shape))


@pytest.mark.parametrize(
    "shape, message",
    [((1, 8, 2, 2, 2), "expected 4 latent channels"), ((4, 2, 2, 2), "5-D"), ((1, 2, 2, 2, 4), "expected 4 latent")],
)
def test_decoder_rejects_bad_latents(vae, shape, message):
    _, decoder = vae
    with pytest.raises(ShapeError, match=message):
        decoder(mx.zeros(shape))
    with pytest.raises(ShapeError, match=message):
        next(decode_video(decoder, mx.zeros(shape)))


def test_reflect_decoder_needs_two_latent_rows():
    decoder = VideoDecoder(VideoDecoderConfig.from_config(vae_config("19b")))
    with pytest.raises(ShapeError, match="reflect padding"):
        decoder(mx.zeros((1, 4, 1, 1, 2)))


def test_padding_defaults_follow_the_official_code():
    cfg19, cfg22 = vae_config("19b"), vae_config("22b")
    assert "spatial_padding_mode" not in cfg19
    assert VideoDecoderConfig.from_config(cfg19).padding_mode == "reflect"
    assert VideoEncoderConfig.from_config(cfg19).padding_mode == "zeros"
    assert VideoDecoderConfig.from_config(cfg22).padding_mode == "zeros"


@pytest.mark.parametrize(
    "change, key",
    [
        ({"timestep_conditioning": True}, "timestep_conditioning"),
        ({"norm_layer": "group_norm"}, "norm_layer"),
        ({"spatial_padding_mode": "replicate"}, "spatial_padding_mode"),
        ({"decoder_blocks": [["attn_res_x", {"num_layers": 1}]]}, "decoder_blocks[0]"),
        ({"decoder_blocks": [["res_x", {"num_layers": 1, "inject_noise": True}]]}, "inject_noise"),
        ({"_class_name": "CausalDiffusionVAE"}, "_class_name"),
        ({"latent_channels": 0}, "latent_channels"),
    ],
)
def test_decoder_config_refuses_unsupported_values(change, key):
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        VideoDecoderConfig.from_config({**vae_config("22b"), **change})


def test_decoder_config_refuses_missing_timestep_conditioning():
    # The official default is True (not implemented here), so the key must be present and false.
    cfg = vae_config("22b")
    del cfg["timestep_conditioning"]
    with pytest.raises(ConfigError, match="timestep_conditioning"):
        VideoDecoderConfig.from_config(cfg)


@pytest.mark.parametrize(
    "change, key",
    [
        ({"encoder_blocks": [["compress_all_x_y", {"multiplier": 2}]]}, "encoder_blocks"),
        ({"latent_log_var": "none"}, "latent_log_var"),
        ({"dims": 2}, "dims"),
    ],
)
def test_encoder_config_refuses_unsupported_values(change, key):
    with pytest.raises(ConfigError, match=key):
        VideoEncoderConfig.from_config({**vae_config("19b"), **change})


def test_latent_statistics_round_trip_on_the_channel_axis():
    stats = PerChannelStatistics(4)
    stats.update({"mean-of-means": mx.array([0.5, -1.0, 2.0, 0.0]), "std-of-means": mx.array([2.0, 0.5, 1.0, 3.0])})
    x = mx.random.normal((2, 3, 5, 5, 4), key=mx.random.key(5))
    normalized = stats.normalize(x)
    np.testing.assert_allclose(np.array(normalized)[..., 0], (np.array(x)[..., 0] - 0.5) / 2.0, rtol=1e-6)
    np.testing.assert_allclose(np.array(stats.un_normalize(normalized)), np.array(x), atol=1e-6)
    with pytest.raises(ShapeError, match="last axis of size 4"):
        stats.normalize(mx.zeros((1, 4, 2, 2, 2)))


def test_key_ops_keep_only_the_two_statistics_the_model_uses():
    from ltxmlx.loader.specs.video_vae import SPECS

    extra = ["vae.per_channel_statistics.channel", "vae.per_channel_statistics.mean-of-stds"]
    for name, part in (("video_encoder", "encoder"), ("video_decoder", "decoder")):
        ops = SPECS[name].ops({})
        assert ops.map_key("vae.per_channel_statistics.std-of-means") == "per_channel_statistics.std-of-means"
        assert ops.map_key(f"vae.{part}.conv_in.conv.weight") == "conv_in.conv.weight"
        assert ops.mapped_shape("conv_in.conv.weight", (128, 48, 3, 3, 3)) == (128, 3, 3, 3, 48)
        assert all(ops.map_key(k) is None for k in extra)
    stats_ops = SPECS["video_latent_stats"].ops({})
    assert stats_ops.map_key("vae.per_channel_statistics.mean-of-means") == "mean-of-means"
    assert all(stats_ops.map_key(k) is None for k in extra + ["vae.encoder.conv_in.conv.bias"])
