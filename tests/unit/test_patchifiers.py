"""Patchify layouts: round trips, token order, and clear errors for shapes that do not divide."""

import mlx.core as mx
import numpy as np
import pytest

from ltxmlx.components.patchifiers import AudioPatchifier, VideoLatentPatchifier
from ltxmlx.errors import ShapeError


def test_video_round_trip_and_token_order():
    x = mx.random.normal((2, 4, 3, 5, 7), key=mx.random.key(0))
    p = VideoLatentPatchifier(1)
    tokens = p.patchify(x)
    assert tokens.shape == (2, 3 * 5 * 7, 4)
    # token index = f*H*W + h*W + w (frame-major, then row, then column)
    np.testing.assert_array_equal(np.array(tokens[1, 2 * 35 + 3 * 7 + 4]), np.array(x[1, :, 2, 3, 4]))
    np.testing.assert_array_equal(np.array(p.unpatchify(tokens, 3, 5, 7)), np.array(x))


def test_video_patch_size_2_round_trip_and_odd_sizes():
    x = mx.random.normal((1, 3, 2, 4, 6), key=mx.random.key(1))
    p = VideoLatentPatchifier(2)
    tokens = p.patchify(x)
    assert tokens.shape == (1, 2 * 2 * 3, 12)
    np.testing.assert_array_equal(np.array(p.unpatchify(tokens, 2, 4, 6)), np.array(x))
    with pytest.raises(ShapeError, match="divisible by 2"):
        p.patchify(mx.zeros((1, 3, 2, 5, 6)))


def test_video_unpatchify_wrong_token_count():
    with pytest.raises(ShapeError, match="expected 12 tokens"):
        VideoLatentPatchifier(1).unpatchify(mx.zeros((1, 13, 4)), 2, 2, 3)
    with pytest.raises(ShapeError, match="5-D"):
        VideoLatentPatchifier(1).patchify(mx.zeros((1, 4, 2, 3)))


def test_audio_round_trip_and_layout():
    x = mx.random.normal((2, 8, 5, 16), key=mx.random.key(2))
    p = AudioPatchifier()
    tokens = p.patchify(x)
    assert tokens.shape == (2, 5, 128)
    # token width is (channel, mel bin) channel-major
    np.testing.assert_array_equal(np.array(tokens[0, 3, 16:32]), np.array(x[0, 1, 3]))
    np.testing.assert_array_equal(np.array(p.unpatchify(tokens, 8, 16)), np.array(x))
    with pytest.raises(ShapeError, match="8\\*15=120"):
        p.unpatchify(tokens, 8, 15)
