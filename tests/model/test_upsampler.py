"""Latent upsampler on tiny configs: output shapes, batching, dtypes, and refusals."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest

from ltxmlx.errors import ConfigError, ShapeError
from ltxmlx.model.upsampler import LatentUpsampler, LatentUpsamplerConfig, upsample_video
from ltxmlx.model.upsampler.pixel_shuffle import pixel_shuffle_2d, pixel_shuffle_time
from ltxmlx.model.video_vae.per_channel_statistics import MEAN_KEY, STD_KEY, PerChannelStatistics

BASE = {"in_channels": 4, "mid_channels": 32, "num_blocks_per_stage": 1, "dims": 3}
SPATIAL = {**BASE, "spatial_upsample": True, "temporal_upsample": False}
TEMPORAL = {**BASE, "spatial_upsample": False, "temporal_upsample": True}
MISSING = object()  # marks a config key removed for a test


def _model(cfg: dict, seed: int = 0) -> LatentUpsampler:
    mx.random.seed(seed)  # only for the random init of a test module
    return LatentUpsampler(LatentUpsamplerConfig.from_config(cfg))


def _latent(*shape: int, seed: int = 1) -> mx.array:
    return mx.random.normal(shape, key=mx.random.key(seed))


@pytest.mark.parametrize("b", [1, 2])
def test_spatial_doubles_height_and_width(b: int) -> None:
    out = _model(SPATIAL)(_latent(b, 4, 3, 5, 7))
    assert out.shape == (b, 4, 3, 10, 14)
    assert out.dtype == mx.float32


@pytest.mark.parametrize(("b", "frames"), [(1, 1), (1, 2), (2, 3), (2, 5)])
def test_temporal_maps_f_to_2f_minus_1(b: int, frames: int) -> None:
    out = _model(TEMPORAL)(_latent(b, 4, frames, 3, 2))
    assert out.shape == (b, 4, 2 * frames - 1, 3, 2)


@pytest.mark.parametrize("cfg", [SPATIAL, TEMPORAL], ids=["spatial", "temporal"])
def test_batched_equals_solo(cfg: dict) -> None:
    model, x = _model(cfg), _latent(2, 4, 3, 4, 4)
    both = np.array(model(x))
    for i in range(2):
        np.testing.assert_allclose(np.array(model(x[i : i + 1]))[0], both[i], atol=1e-5, rtol=1e-5)


def test_runs_in_bfloat16() -> None:
    model = _model(SPATIAL)
    model.set_dtype(mx.bfloat16)
    x = _latent(1, 4, 2, 3, 3)
    out = model(x.astype(mx.bfloat16))
    assert out.dtype == mx.bfloat16
    model32 = _model(SPATIAL)
    ref = np.array(model32(x))
    assert np.abs(np.array(out.astype(mx.float32)) - ref).max() < 0.1 * np.abs(ref).max()


@pytest.mark.parametrize(
    ("shape", "match"),
    [
        ((4, 3, 5, 7), "B, C, F, H, W"),
        ((1, 3, 3, 5, 7), "expected 4 latent channels, got 3"),
        ((1, 4, 0, 2, 2), "non-empty"),
    ],
)
def test_wrong_input_shapes_raise(shape: tuple[int, ...], match: str) -> None:
    with pytest.raises(ShapeError, match=match):
        _model(SPATIAL)(mx.zeros(shape))


def test_upsample_video_un_normalizes_then_normalizes() -> None:
    model, x = _model(SPATIAL), _latent(1, 4, 2, 3, 3)
    stats = PerChannelStatistics(4)
    stats[MEAN_KEY] = mx.array([0.5, -1.0, 2.0, 0.0])
    stats[STD_KEY] = mx.array([2.0, 0.5, 1.5, 3.0])
    mean = np.array(stats[MEAN_KEY]).reshape(1, 4, 1, 1, 1)
    std = np.array(stats[STD_KEY]).reshape(1, 4, 1, 1, 1)
    expected = (np.array(model(mx.array(np.array(x) * std + mean))) - mean) / std
    np.testing.assert_allclose(np.array(upsample_video(x, model, stats)), expected, atol=1e-5, rtol=1e-5)
    with pytest.raises(ShapeError, match="expected 4 latent channels"):
        upsample_video(_latent(1, 3, 2, 3, 3), model, stats)


def test_pixel_shuffles_follow_the_checkpoint_channel_layout() -> None:
    # Channel index c*f*f + i*f + j goes to pixel (h*f + i, w*f + j), channel c (PyTorch order).
    x = np.arange(1 * 2 * 3 * 8, dtype=np.float32).reshape(1, 2, 3, 8)
    out = np.array(pixel_shuffle_2d(mx.array(x), 2))
    assert out.shape == (1, 4, 6, 2)
    for c, i, j in [(0, 0, 1), (1, 1, 0), (1, 1, 1)]:
        assert out[0, 2 * 1 + i, 2 * 2 + j, c] == x[0, 1, 2, c * 4 + i * 2 + j]
    t = np.arange(1 * 2 * 1 * 1 * 6, dtype=np.float32).reshape(1, 2, 1, 1, 6)
    out_t = np.array(pixel_shuffle_time(mx.array(t), 2))
    assert out_t.shape == (1, 4, 1, 1, 3)
    assert out_t[0, 3, 0, 0, 2] == t[0, 1, 0, 0, 2 * 2 + 1]


def test_pixel_shuffle_refuses_indivisible_channels() -> None:
    with pytest.raises(ShapeError, match="divisible by 4, got 6"):
        pixel_shuffle_2d(mx.zeros((1, 2, 2, 6)), 2)
    with pytest.raises(ShapeError, match="divisible by 2, got 5"):
        pixel_shuffle_time(mx.zeros((1, 2, 2, 2, 5)), 2)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"dims": 2}, "dims"),
        ({"mid_channels": 48}, "mid_channels"),
        ({"rational_resampler": True, "spatial_scale": 1.5}, "rational_resampler"),
        ({"spatial_scale": 1.5}, "spatial_scale"),
        ({"temporal_upsample": True}, "spatial_upsample/temporal_upsample"),
        ({"spatial_upsample": False}, "spatial_upsample/temporal_upsample"),
        ({"num_blocks_per_stage": True}, "num_blocks_per_stage"),
        ({"in_channels": MISSING}, "in_channels"),
    ],
)
def test_unsupported_configs_are_refused(change: dict, key: str) -> None:
    cfg = {k: v for k, v in {**SPATIAL, **change}.items() if v is not MISSING}
    with pytest.raises(ConfigError) as err:
        LatentUpsamplerConfig.from_config(cfg)
    assert err.value.key == key


def test_released_configs_are_accepted_with_official_defaults() -> None:
    released = {**SPATIAL, "in_channels": 128, "mid_channels": 512, "num_blocks_per_stage": 4}
    cfg = LatentUpsamplerConfig.from_config(released)
    assert (cfg.mode, cfg.in_channels, cfg.mid_channels, cfg.num_blocks_per_stage) == ("spatial", 128, 512, 4)
    explicit = {**TEMPORAL, "spatial_scale": 2.0, "rational_resampler": False}
    assert LatentUpsamplerConfig.from_config(explicit).mode == "temporal"
