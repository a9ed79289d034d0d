"""Tiled, chunked video decoding: blending geometry, agreement with the untiled decode, auto tile choice.

Why tiled is not exactly untiled: every decoder conv pads each tile at its own borders (repeated
frames in time, zeros / reflection in space) where the untiled decode sees the neighbours, so the
output differs within the decoder's receptive field of a tile border; the linear ramps only hide
that seam, as in the official implementation. What must be exact: positions that only one tile
covers and that lie beyond the receptive field of that tile's inner borders, and the blend itself
(checked with a stand-in decoder without receptive field).
"""

import json
from types import SimpleNamespace

import mlx.core as mx
import numpy as np
import pytest
from mlx.utils import tree_map

from ltxmlx.errors import ShapeError
from ltxmlx.model.video_vae.memory import estimate_terms
from ltxmlx.model.video_vae import (
    TilingConfig,
    VideoDecoder,
    VideoDecoderConfig,
    decode_video,
    estimate_decode_bytes,
    tiled_decode,
    to_rgb,
)
from ltxmlx.model.video_vae.tiling import plan_axis
from tests.conftest import FIXTURES

UNEVEN = [TilingConfig(4, 2, None, 2), TilingConfig(3, 1, 2, 0), TilingConfig(5, 3, 4, 2), TilingConfig(6, 4, 4, 3)]


class PointwiseDecoder:
    """Stand-in with no receptive field: latent frame 0 -> 1 frame, frame k -> 8 frames, 32x space."""

    config = SimpleNamespace(scale_factors=(8, 32, 32))

    def decode(self, z: mx.array) -> mx.array:
        x = mx.repeat(mx.repeat(mx.tanh(z[..., :3]), 32, axis=2), 32, axis=3)
        return mx.concatenate([x[:, :1], mx.repeat(x[:, 1:], 8, axis=1)], axis=1)


@pytest.mark.parametrize("tiling", UNEVEN, ids=str)
def test_blending_reassembles_an_uneven_latent_exactly(tiling):
    decoder = PointwiseDecoder()
    z = mx.random.normal((2, 7, 5, 7, 4), key=mx.random.key(1))
    chunks = [np.array(s.frames) for s in tiled_decode(decoder, z, tiling) if s.frames is not None]
    np.testing.assert_allclose(np.concatenate(chunks, axis=1), np.array(to_rgb(decoder.decode(z))), atol=1e-6)


def _short_field_decoder(padding: str) -> VideoDecoder:
    """Three upsamplers, no res blocks, patch 1: receptive field under 3 latents, cheap on CPU."""
    cfg = {
        "dims": 3, "in_channels": 3, "out_channels": 3, "latent_channels": 4, "patch_size": 1,
        "norm_layer": "pixel_norm", "latent_log_var": "uniform", "causal_decoder": False,
        "timestep_conditioning": False, "decoder_base_channels": 8, "spatial_padding_mode": padding,
        "decoder_blocks": [
            ["compress_all", {"multiplier": 1}],
            ["compress_all", {"residual": True, "multiplier": 1}],
            ["compress_all", {"multiplier": 1}],
        ],
    }  # fmt: skip
    decoder = VideoDecoder(VideoDecoderConfig.from_config(cfg))
    mx.random.seed(0)
    decoder.update(tree_map(lambda p: mx.random.normal(p.shape) * 0.2, decoder.parameters()))
    return decoder


def _far_from_inner_borders(length: int, tiling_size: int, overlap: int, scale: int, temporal: bool, r: int):
    """Output positions covered by one tile only and >= r latents from that tile's inner borders."""
    plan = plan_axis(length, tiling_size, overlap, scale, temporal)
    covered = np.zeros(len(plan.weights), int)
    far = np.zeros(len(plan.weights), bool)
    for iv, offset, mask in zip(plan.intervals, plan.offsets, plan.masks):
        covered[offset : offset + len(mask)] += 1
        for lat in range(iv.start + (r if iv.start else 0), iv.stop - (r if iv.stop < length else 0)):
            lo, hi = (
                (max(0, scale * lat - scale + 1), scale * lat + 1) if temporal else (lat * scale, (lat + 1) * scale)
            )
            far[lo:hi] = True
    return far & (covered == 1)


@pytest.mark.parametrize("padding", ["reflect", "zeros"])
def test_tiled_decode_of_uneven_latent_matches_untiled(padding):
    decoder = _short_field_decoder(padding)
    latent = mx.random.normal((1, 4, 9, 11, 13), key=mx.random.key(2))  # 9, 11, 13 do not divide into 5 / 7
    tiling = TilingConfig(tile_frames=5, frame_overlap=2, tile_size=7, spatial_overlap=2)
    untiled = [np.array(c) for c in decode_video(decoder, latent, tiling=None)]
    assert [c.shape[1] for c in untiled] == [24, 24, 17]  # even untiled, float32 RGB comes in chunks
    full = np.concatenate(untiled, axis=1)
    chunks = [np.array(c) for c in decode_video(decoder, latent, tiling=tiling)]
    assert [c.shape[1] for c in chunks] == [16, 16, 33]  # streamed in order, 65 frames in all
    tiled = np.concatenate(chunks, axis=1)
    assert tiled.shape == full.shape == (1, 65, 88, 104, 3)
    err = np.abs(tiled - full)[0]
    # Exact where a single tile decides and the tile borders are out of reach (radius < 3 latents).
    ft = _far_from_inner_borders(9, 5, 2, 8, True, 3)
    fh = _far_from_inner_borders(11, 7, 2, 8, False, 3)
    fw = _far_from_inner_borders(13, 7, 2, 8, False, 3)
    interior = ft[:, None, None] & fh[None, :, None] & fw[None, None, :]
    assert interior.sum() > 0.1 * interior.size
    assert err[interior].max() <= 1e-5
    # Elsewhere the seams differ; with these random weights (no smoothness) the measured mean error
    # on [0, 1] RGB is about 0.07 for both paddings; trained weights differ far less.
    assert err.mean() < 0.1


def test_tiles_covering_everything_equal_untiled_decode():
    decoder = _short_field_decoder("reflect")
    latent = mx.random.normal((2, 4, 3, 3, 2), key=mx.random.key(3))
    full = np.array(next(decode_video(decoder, latent, tiling=None)))
    whole = [np.array(c) for c in decode_video(decoder, latent, tiling=TilingConfig(8, 2, 8, 2))]
    assert len(whole) == 1
    np.testing.assert_array_equal(whole[0], full)


@pytest.mark.parametrize("bad", [(4, 4, None, 2), (4, 0, None, 2), (None, 4, 1, 0), (None, 4, 4, 4)])
def test_tiling_config_rejects_impossible_overlaps(bad):
    with pytest.raises(ShapeError):
        TilingConfig(*bad)


def _full_size_decoder_config(name: str) -> VideoDecoderConfig:
    config = json.loads((FIXTURES / name).read_text())["metadata"]["config"]
    return VideoDecoderConfig.from_config((json.loads(config) if isinstance(config, str) else config)["vae"])


@pytest.mark.parametrize("manifest", ["manifest_ltx2_19b.json", "manifest_ltx23_22b.json"])
def test_overlapping_tiles_estimate_follows_the_tile_not_the_video(manifest):
    config = _full_size_decoder_config(manifest)
    tiling = TilingConfig(tile_frames=10, frame_overlap=4, tile_size=24, spatial_overlap=2)
    whole = estimate_decode_bytes(config, 1, 16, 32, 48, mx.bfloat16)
    tiled = estimate_decode_bytes(config, 1, 16, 32, 48, mx.bfloat16, tiling)
    # The decoder's activations follow the tile; only the blend canvas (one full frame per output frame
    # of a temporal tile) grows with the video's area.
    small, large = (estimate_terms(config, 1, *fhw, mx.bfloat16, tiling) for fhw in ((16, 32, 48), (40, 64, 64)))
    assert small.step == large.step and large.blend > small.blend
    assert tiled < whole
