"""Image conditioning: latent replacement, keyframes, masks and the image preprocessing."""

from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest
from safetensors import safe_open

from ltxmlx.components.diffusion_steps import EulerStep
from ltxmlx.components.latent_tools import VideoLatentShape, VideoLatentTools
from ltxmlx.components.noisers import noise_latent
from ltxmlx.conditioning import (
    condition_by_keyframe,
    condition_by_latent_index,
    post_process_latent,
    resize_and_center_crop,
    timesteps_from_mask,
)
from ltxmlx.media.images import ImageInputError, h264_roundtrip, load_conditioning_image, load_image
from ltxmlx.errors import ShapeError

I2V = Path(__file__).parents[1] / "fixtures" / "parity" / "19b" / "pipeline_i2v.safetensors"


def _tools(frames=9, h=64, w=96, batch=1):
    return VideoLatentTools(VideoLatentShape.from_pixels(batch, 4, frames, h, w), fps=24.0)


def test_first_frame_conditioning_matches_official_i2v_state():
    f = safe_open(str(I2V), "np")
    ref = lambda k: f.get_tensor("out." + k)  # noqa: E731
    tools = _tools(9, 32, 64)
    image_latent = tools.unpatchify(mx.array(ref("stage1.video.clean_latent")))[:, :, :1]
    state = condition_by_latent_index(tools.create_initial_state(), tools, image_latent, strength=1.0)
    state = noise_latent(state, mx.array(f.get_tensor("in.noise.stage1.video")))
    np.testing.assert_array_equal(np.array(state.denoise_mask), ref("stage1.video.denoise_mask"))
    np.testing.assert_array_equal(np.array(state.latent), ref("stage1.step0.video.latent"))
    x0 = post_process_latent(mx.array(ref("stage1.step0.video.denoised")), state.denoise_mask, state.clean_latent)
    nxt = EulerStep().step(state.latent, x0, mx.array(ref("stage1.sigmas")), 0)
    np.testing.assert_allclose(np.array(nxt), ref("stage1.step1.video.latent"), atol=1e-6)


def test_strength_sets_mask_and_timesteps():
    tools = _tools()
    state = condition_by_latent_index(tools.create_initial_state(), tools, mx.ones((1, 4, 1, 2, 3)), 0.75)
    mask = np.array(state.denoise_mask).ravel()
    np.testing.assert_allclose(mask[:6], 0.25)
    np.testing.assert_array_equal(mask[6:], 1.0)
    t = np.array(timesteps_from_mask(state.denoise_mask, 0.8)).ravel()
    np.testing.assert_allclose(t[:6], 0.2, rtol=1e-6)
    with pytest.raises(ShapeError, match="spatial|height"):
        condition_by_latent_index(tools.create_initial_state(), tools, mx.ones((1, 4, 1, 2, 2)), 1.0)


def test_keyframe_appends_tokens_with_shifted_time_and_is_cleared():
    tools = _tools(17, 64, 96)
    base = tools.create_initial_state()
    state = condition_by_keyframe(base, tools, mx.ones((1, 4, 1, 2, 3)), frame_idx=16, strength=1.0)
    assert state.latent.shape == (1, base.latent.shape[1] + 6, 4)
    time = np.array(state.positions[0, 0, -6:]) * 24.0
    np.testing.assert_allclose(time, [[16, 17]] * 6, atol=1e-5)
    assert float(state.denoise_mask[:, -6:].max()) == 0.0 and float(state.latent[:, -6:].max()) == 0.0
    noised = noise_latent(state, mx.random.normal(state.latent.shape, key=mx.random.key(0)))
    np.testing.assert_array_equal(np.array(noised.latent[:, -6:]), 1.0)  # strength 1: stays clean
    assert tools.clear_conditioning(noised).latent.shape == base.latent.shape
    with pytest.raises(ShapeError, match="outside the video"):
        condition_by_keyframe(base, tools, mx.ones((1, 4, 1, 2, 3)), frame_idx=17, strength=1.0)


def test_post_process_keeps_clean_tokens():
    mask = mx.array([[[0.0], [1.0], [0.5]]])
    out = post_process_latent(mx.full((1, 3, 2), 4.0), mask, mx.zeros((1, 3, 2)))
    np.testing.assert_allclose(np.array(out)[0, :, 0], [0.0, 4.0, 2.0])


def test_resize_cover_and_center_crop():
    img = np.zeros((40, 100, 3), dtype=np.uint8)
    img[:, 45:55] = 255  # a centred bar survives the crop
    out = resize_and_center_crop(img, 32, 32)
    assert out.shape == (32, 32, 3)
    assert out[:, 16].min() > 200 and out[:, 0].max() < 1
    flat = resize_and_center_crop(np.full((7, 9, 3), 77, dtype=np.uint8), 64, 64)
    np.testing.assert_allclose(flat, 77.0)


def test_image_loading_errors_and_full_preprocess(tmp_path):
    pil = pytest.importorskip("PIL.Image")
    pytest.importorskip("imageio_ffmpeg")
    with pytest.raises(ImageInputError, match="not found"):
        load_image(tmp_path / "missing.png")
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    with pytest.raises(ImageInputError, match="not a readable image"):
        load_image(bad)
    grad = np.tile(np.linspace(0, 255, 64, dtype=np.uint8)[None, :, None], (48, 1, 3))
    pil.fromarray(grad).save(tmp_path / "grad.png")
    x = load_conditioning_image(tmp_path / "grad.png", 32, 64)
    assert x.shape == (1, 3, 1, 32, 64) and x.dtype == np.float32
    assert -1.0 <= x.min() and x.max() <= 1.0 and x[0, 0, 0, 16, 60] > x[0, 0, 0, 16, 4]
    again = h264_roundtrip(grad, 33)
    assert again.shape == grad.shape and np.abs(again.astype(int) - grad).mean() < 8
