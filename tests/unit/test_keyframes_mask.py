"""The LTX-2.5 keyframe marker of video states: first latent frame marked, appended tokens by kind."""

import mlx.core as mx
import numpy as np
import pytest

from ltxmlx.components.latent_tools import (
    VideoLatentShape,
    VideoLatentTools,
    extend_keyframes_mask,
    first_frame_keyframes_mask,
)
from ltxmlx.components.patchifiers import VideoLatentPatchifier
from ltxmlx.errors import ShapeError


def test_first_latent_frame_tokens_are_marked():
    shape = VideoLatentShape(2, 4, 3, 2, 3)
    mask = np.array(first_frame_keyframes_mask(shape))
    assert mask.shape == (2, 18, 1) and mask.dtype == np.float32
    np.testing.assert_array_equal(mask[:, :6], 1.0)
    np.testing.assert_array_equal(mask[:, 6:], 0.0)
    # Marked tokens are exactly those at time 0 in the state's own token order.
    state = VideoLatentTools(shape, fps=24.0).create_initial_state()
    at_frame0 = np.array(state.positions)[:, 0, :, 0] == 0.0
    np.testing.assert_array_equal(mask[..., 0] > 0, at_frame0)


def test_first_frame_mask_follows_the_patch_size():
    mask = np.array(first_frame_keyframes_mask(VideoLatentShape(1, 4, 2, 4, 4), VideoLatentPatchifier(2)))
    assert mask.shape == (1, 8, 1)
    np.testing.assert_array_equal(mask[0, :, 0], [1, 1, 1, 1, 0, 0, 0, 0])


def test_single_frame_target_is_all_marked():
    mask = np.array(first_frame_keyframes_mask(VideoLatentShape(1, 4, 1, 2, 2)))
    np.testing.assert_array_equal(mask, np.ones((1, 4, 1), np.float32))


def test_appended_conditioning_tokens_are_unmarked_and_slots_marked():
    denoise = mx.ones((2, 4, 1))
    first = first_frame_keyframes_mask(VideoLatentShape(2, 4, 2, 1, 2))
    images = np.array(extend_keyframes_mask(first, denoise, 3, marked=False))
    assert images.shape == (2, 7, 1)
    np.testing.assert_array_equal(images[0, :, 0], [1, 1, 0, 0, 0, 0, 0])
    slot = np.array(extend_keyframes_mask(first, denoise, 2, marked=True))
    np.testing.assert_array_equal(slot[1, :, 0], [1, 1, 0, 0, 1, 1])


def test_extending_no_mask():
    denoise = mx.ones((1, 3, 1))
    assert extend_keyframes_mask(None, denoise, 2, marked=False) is None
    got = np.array(extend_keyframes_mask(None, denoise, 2, marked=True))
    np.testing.assert_array_equal(got[0, :, 0], [0, 0, 0, 1, 1])


def test_mask_out_of_sync_with_the_state_is_refused():
    with pytest.raises(ShapeError, match=r"expected \(1, 5, 1\)"):
        extend_keyframes_mask(mx.zeros((1, 4, 1)), mx.ones((1, 5, 1)), 1, marked=False)
