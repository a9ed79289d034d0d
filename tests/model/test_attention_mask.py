"""Self-attention weights of appended conditioning tokens (IC-LoRA references): the mask's block
structure, the pixel-mask downsampling, and their effect inside the transformer."""

from __future__ import annotations

from dataclasses import replace

import mlx.core as mx
import numpy as np
import pytest

from ltxmlx.conditioning.attention_mask import cross_weights, extend_attention_mask, mask_to_latent_tokens
from ltxmlx.errors import ShapeError
from tests.model.test_transformer import TV, _inputs, _model


def test_mask_blocks_after_two_reference_groups():
    first = extend_attention_mask(None, num_noisy=3, num_existing=4, cross=cross_weights(0.5, 1, 2))
    both = np.array(extend_attention_mask(first, 3, 6, cross_weights(mx.array([0.2, 0.7, 0.9]), 1, 3)))[0]
    assert both.shape == (9, 9)
    np.testing.assert_array_equal(both[:4, :4], 1.0)  # the state's tokens before any mask: full attention
    np.testing.assert_allclose(both[:3, 4:6], 0.5)  # generated <-> first group
    np.testing.assert_allclose(both[4:6, :3], 0.5)
    np.testing.assert_allclose(both[:3, 6:], [[0.2, 0.7, 0.9]] * 3)  # per-token weights of the second group
    np.testing.assert_allclose(both[6:, :3], [[0.2] * 3, [0.7] * 3, [0.9] * 3])
    np.testing.assert_array_equal(both[4:6, 6:], 0.0)  # groups never see each other
    np.testing.assert_array_equal(both[6:, 4:6], 0.0)
    np.testing.assert_array_equal(both[3, 6:], 0.0)  # a non-generated earlier token does not see the new group
    np.testing.assert_array_equal(both[6:, 6:], 1.0)


def test_pixel_mask_downsamples_with_a_causal_first_frame():
    mask = np.zeros((1, 1, 9, 4, 4), np.float32)
    mask[:, :, 0] = 1.0  # frame 0 alone makes latent frame 0
    mask[:, :, 1:5, :2] = 1.0  # top half of frames 1-4 -> the top row of latent frame 1
    mask[:, :, 5:9, :, :2] = 0.5  # left half at 0.5 in frames 5-8 -> latent frame 2
    tokens = mask_to_latent_tokens(mask, frames=3, height=2, width=2).reshape(3, 2, 2)
    np.testing.assert_allclose(tokens[0], 1.0)
    np.testing.assert_allclose(tokens[1], [[1.0, 1.0], [0.0, 0.0]])
    np.testing.assert_allclose(tokens[2], [[0.5, 0.0], [0.5, 0.0]])
    with pytest.raises(ShapeError, match="frames"):
        mask_to_latent_tokens(np.zeros((1, 1, 8, 4, 4), np.float32), frames=3, height=2, width=2)


@pytest.mark.parametrize("gen", ["19b", "22b"])
def test_zero_weight_tokens_do_not_influence_the_generated_ones(gen):
    model = _model(gen)
    video, _ = _inputs(model, 1)
    kept = TV - 2  # the last two tokens play an appended reference
    cross = mx.zeros((1, 2))
    mask = extend_attention_mask(None, kept, kept, cross)
    masked, _ = model(replace(video, attention_mask=mask), None)
    alone, _ = model(replace(video, latent=video.latent[:, :kept], timesteps=video.timesteps[:, :kept],
                             positions=video.positions[:, :, :kept]), None)
    np.testing.assert_allclose(np.array(masked[:, :kept]), np.array(alone), atol=1e-5)
    full, _ = model(video, None)
    assert np.abs(np.array(full[:, :kept]) - np.array(alone)).max() > 1e-3  # unmasked, they do
    ones, _ = model(replace(video, attention_mask=mx.ones((1, TV, TV))), None)
    np.testing.assert_allclose(np.array(ones), np.array(full), atol=1e-6)
    half, _ = model(replace(video, attention_mask=extend_attention_mask(None, kept, kept, cross + 0.5)), None)
    assert np.abs(np.array(half) - np.array(full)).max() > 1e-4


def test_attention_mask_shape_is_checked():
    model = _model("22b")
    video, _ = _inputs(model, 1)
    with pytest.raises(ShapeError, match="attention_mask"):
        model(replace(video, attention_mask=mx.ones((1, TV, TV - 1))), None)
