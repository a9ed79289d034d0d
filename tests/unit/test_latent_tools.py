"""Latent shapes, token positions and latent states."""

import mlx.core as mx
import numpy as np
import pytest

from ltxmlx.components.latent_tools import (
    AudioLatentShape,
    AudioLatentTools,
    VideoLatentShape,
    VideoLatentTools,
    audio_positions,
    video_positions,
)
from ltxmlx.errors import ShapeError


def test_latent_shape_from_pixels():
    assert VideoLatentShape.from_pixels(1, 128, 121, 512, 768) == (1, 128, 16, 16, 24)
    assert VideoLatentShape.from_pixels(2, 128, 1, 32, 32) == (2, 128, 1, 1, 1)
    with pytest.raises(ShapeError, match="8k\\+1"):
        VideoLatentShape.from_pixels(1, 128, 120, 512, 768)
    with pytest.raises(ShapeError, match="multiple of 32"):
        VideoLatentShape.from_pixels(1, 128, 121, 500, 768)
    with pytest.raises(ShapeError, match="width"):
        VideoLatentShape.from_pixels(1, 128, 121, 512, 770)


def test_audio_length_follows_duration():
    assert AudioLatentShape.from_video(1, 8, 16, 121, 24.0).frames == 126  # round(121/24*25)
    assert AudioLatentShape.from_video(1, 8, 16, 9, 24.0).frames == 9
    assert AudioLatentShape.from_video(1, 8, 16, 97, 25.0).frames == 97


def test_video_positions_causal_time_and_pixels():
    pos = np.array(video_positions(VideoLatentShape(2, 4, 3, 2, 2), fps=24.0))
    assert pos.shape == (2, 3, 12, 2) and pos.dtype == np.float32
    time = pos[0, 0, ::4] * 24.0  # one token per latent frame
    np.testing.assert_allclose(time, [[0, 1], [1, 9], [9, 17]], atol=1e-5)
    np.testing.assert_array_equal(pos[0, 1, :4], [[0, 32], [0, 32], [32, 64], [32, 64]])
    np.testing.assert_array_equal(pos[0, 2, :4], [[0, 32], [32, 64], [0, 32], [32, 64]])
    np.testing.assert_array_equal(pos[0], pos[1])


def test_audio_positions_in_seconds():
    pos = np.array(audio_positions(1, 4))
    np.testing.assert_allclose(pos[0, 0], [[0, 0.01], [0.01, 0.05], [0.05, 0.09], [0.09, 0.13]], atol=1e-7)


def test_initial_state_and_clear_conditioning():
    tools = VideoLatentTools(VideoLatentShape(1, 4, 2, 2, 3), fps=24.0)
    latent = mx.random.normal((1, 4, 2, 2, 3), key=mx.random.key(0))
    state = tools.create_initial_state(initial_latent=latent)
    assert state.latent.shape == (1, 12, 4) and state.denoise_mask.shape == (1, 12, 1)
    assert state.positions.shape == (1, 3, 12, 2)
    np.testing.assert_array_equal(np.array(tools.unpatchify(state.latent)), np.array(latent))
    longer = type(state)(
        latent=mx.concatenate([state.latent, mx.zeros((1, 6, 4))], axis=1),
        denoise_mask=mx.zeros((1, 18, 1)),
        positions=mx.concatenate([state.positions, state.positions[:, :, :6]], axis=2),
        clean_latent=mx.concatenate([state.clean_latent, mx.ones((1, 6, 4))], axis=1),
    )
    cleared = tools.clear_conditioning(longer)
    assert cleared.latent.shape == (1, 12, 4) and float(cleared.denoise_mask.min()) == 1.0
    with pytest.raises(ShapeError, match="expected"):
        tools.create_initial_state(initial_latent=mx.zeros((1, 4, 2, 2, 4)))
    audio = AudioLatentTools(AudioLatentShape(1, 8, 5, 16)).create_initial_state(mx.bfloat16)
    assert audio.latent.shape == (1, 5, 128) and audio.latent.dtype == mx.bfloat16
    assert audio.positions.shape == (1, 1, 5, 2)
