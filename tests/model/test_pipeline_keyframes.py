"""Keyframe interpolation on the tiny model: every image is appended as guiding tokens in both stages,
batched == solo, and the pipeline is selected through the registry."""

import numpy as np
import pytest
from PIL import Image

from ltxmlx.errors import ConfigError
from ltxmlx.pipelines.api import ImageCondition, RenderItem
from ltxmlx.pipelines.config import LoraSpec, ModelFiles, PipelineConfig
from ltxmlx.pipelines.factory import PIPELINES, make_pipeline
from ltxmlx.pipelines.tiny import ensure_tiny_checkpoints
from ltxmlx.runner.render import render
from ltxmlx.text_encoders.gemma import TINY_MAX_LENGTH
from tests.model.test_pipeline import GUIDER, WAVEFORM_ATOL


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return ensure_tiny_checkpoints(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    root = tmp_path_factory.mktemp("keyframes")
    x = np.linspace(0, 255, 80, dtype=np.float32)
    first = np.stack([np.add.outer(x[:48] * 0.5, x * 0.5), np.tile(x, (48, 1)), np.full((48, 80), 90.0)], -1)
    last = np.stack([np.full((48, 80), 200.0), np.tile(x[::-1], (48, 1)), np.add.outer(x[:48] * 0.5, x * 0.5)], -1)
    paths = []
    for name, rgb in (("first", first), ("last", last)):
        Image.fromarray(rgb.astype(np.uint8)).save(root / f"{name}.png")
        paths.append(str(root / f"{name}.png"))
    return paths


def config(tiny, **kw) -> PipelineConfig:
    files = ModelFiles(str(tiny["checkpoint"]), str(tiny["text_encoder"]), str(tiny["spatial_upsampler"]),
                       LoraSpec(str(tiny["distilled_lora"])))
    base = {"kind": "keyframe_interpolation", "files": files, "height": 64, "width": 64, "num_frames": 17,
            "steps": 2, "dtype": "float32", "video_guider": GUIDER, "audio_guider": GUIDER,
            "text_max_length": TINY_MAX_LENGTH, "image_crf": 0}
    base.update(kw)
    return PipelineConfig(**base)


def keyframed(item_id: str, seed: int, frames) -> RenderItem:
    return RenderItem(item_id, "a paper boat on a pond", "blurry", seed,
                      (ImageCondition(frames[0], 0, 1.0), ImageCondition(frames[1], 16, 0.9)))


def run(cfg, items, batch_size):
    """Rendered results and every stage's step-0 video state (mask, clean latent) per batch."""
    initial = {}

    def on_event(event):
        if event.step == 0 and event.stage in ("stage1", "stage2"):
            initial.setdefault(event.stage, []).append({k: np.array(v) for k, v in event.state["video"].items()})

    return render(cfg, items, batch_size=batch_size, stages=make_pipeline(cfg), on_event=on_event), initial


def test_every_keyframe_is_appended_as_guiding_tokens_in_both_stages(tiny, frames):
    (result,), initial = run(config(tiny), [keyframed("k", 3, frames)], 1)
    assert result.video.shape == (17, 64, 64, 3) and result.audio.shape[0] == 2
    # 17 frames -> 3 latent frames; stage 1 at 32x32 px = 1x1 latent, stage 2 at 64x64 = 2x2.
    for stage, (grid, per_image) in {"stage1": (3, 1), "stage2": (12, 4)}.items():
        mask = initial[stage][0]["denoise_mask"][0, :, 0]
        assert mask.shape == (grid + 2 * per_image,)
        # The frame-0 image is appended too (not written over latent frame 0): the video tokens stay free.
        np.testing.assert_array_equal(mask[:grid], 1.0)
        np.testing.assert_allclose(mask[grid:grid + per_image], 0.0)
        np.testing.assert_allclose(mask[grid + per_image:], 0.1, atol=1e-6)


def test_two_items_batched_match_each_rendered_alone(tiny, frames):
    items = [keyframed("a", 3, frames), keyframed("b", 4, frames)]
    batched, _ = run(config(tiny, max_batch_size=8), items, 2)
    solo, _ = run(config(tiny, max_batch_size=8), items, 1)
    for b, s in zip(batched, solo):
        assert b.item.id == s.item.id
        assert np.abs(b.video.astype(int) - s.video.astype(int)).max() <= 1
        np.testing.assert_allclose(b.audio, s.audio, atol=WAVEFORM_ATOL)
    assert np.abs(batched[0].video.astype(int) - batched[1].video.astype(int)).max() > 2


def test_unknown_pipeline_lists_the_registered_ones(tiny):
    with pytest.raises(ConfigError) as err:
        config(tiny, kind="interpolate")
    assert all(name in str(err.value) for name in PIPELINES)
    assert {"one_stage", "two_stage", "distilled", "keyframe_interpolation"} <= set(PIPELINES)


def test_keyframe_interpolation_needs_the_distilled_lora(tiny):
    files = ModelFiles(str(tiny["checkpoint"]), str(tiny["text_encoder"]), str(tiny["spatial_upsampler"]))
    with pytest.raises(ConfigError, match="distilled_lora"):
        make_pipeline(config(tiny, files=files))
