"""Per-item noise keys and the masked lerp noising."""

from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest
from safetensors import safe_open

from ltxmlx.components.latent_tools import LatentState, VideoLatentShape, VideoLatentTools
from ltxmlx.components.noisers import draw_noise, item_key, noise_latent
from ltxmlx.errors import ShapeError

PIPELINE = Path(__file__).parents[1] / "fixtures" / "parity" / "19b" / "pipeline_dev.safetensors"


def _state(batch: int) -> LatentState:
    tools = VideoLatentTools(VideoLatentShape(batch, 4, 2, 2, 2), fps=24.0)
    return tools.create_initial_state()


def _keyed(keys, state: LatentState) -> LatentState:
    return noise_latent(state, draw_noise(keys, tuple(state.latent.shape[1:])))


def test_item_noise_is_the_same_alone_or_in_a_batch():
    alone = _keyed([item_key(7, 0, "video")], _state(1))
    batch = _keyed([item_key(3, 0, "video"), item_key(11, 0, "video"), item_key(7, 0, "video")], _state(3))
    np.testing.assert_array_equal(np.array(alone.latent[0]), np.array(batch.latent[2]))
    assert not np.allclose(np.array(batch.latent[0]), np.array(batch.latent[2]))


def test_keys_differ_per_stage_and_modality_and_are_reproducible():
    shape = (4, 8)
    draws = {(s, m): np.array(draw_noise([item_key(5, s, m)], shape)) for s in (0, 1) for m in ("video", "audio")}
    values = list(draws.values())
    assert all(not np.allclose(values[i], values[j]) for i in range(4) for j in range(i + 1, 4))
    np.testing.assert_array_equal(draws[(1, "audio")], np.array(draw_noise([item_key(5, 1, "audio")], shape)))
    with pytest.raises(ValueError, match="modality"):
        item_key(5, 0, "image")


def test_masked_tokens_stay_clean():
    state = _state(1)
    clean = mx.ones_like(state.clean_latent)
    mask = mx.concatenate([mx.zeros((1, 4, 1)), mx.ones((1, 4, 1))], axis=1)
    state = LatentState(state.latent, mask, state.positions, clean)
    noise = mx.random.normal(state.latent.shape, key=mx.random.key(0))
    out = noise_latent(state, noise, 1.0)
    np.testing.assert_array_equal(np.array(out.latent[:, :4]), 1.0)
    np.testing.assert_array_equal(np.array(out.latent[:, 4:]), np.array(noise[:, 4:]))


def test_partial_noise_scale_matches_official_stage2_renoise():
    f = safe_open(str(PIPELINE), "np")
    tools = VideoLatentTools(VideoLatentShape.from_pixels(1, 4, 9, 64, 128), fps=24.0)
    state = tools.create_initial_state(initial_latent=mx.array(f.get_tensor("out.upsampled_video_latent")))
    out = noise_latent(state, mx.array(f.get_tensor("in.noise.stage2.video")), 0.909375011920929)
    np.testing.assert_allclose(np.array(out.latent), f.get_tensor("out.stage2.step0.video.latent"), atol=1e-6)


def test_given_noise_shape_is_checked():
    with pytest.raises(ShapeError, match="noise"):
        noise_latent(_state(1), mx.zeros((1, 3, 4)))
    with pytest.raises(ShapeError, match="noise"):  # noise for a batch of 2, state of 1
        _keyed([item_key(1, 0, "video"), item_key(2, 0, "video")], _state(1))
