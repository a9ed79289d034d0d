"""IC-LoRA on the tiny model: reference tokens with their attention weights in stage 1 only, the LoRA
stack in stage 1 only, batched == solo, and the IC-LoRA requirement."""

import numpy as np
import pytest

from ltxmlx.errors import ConfigError
from ltxmlx.pipelines.api import ReferenceVideo, RenderItem
from ltxmlx.pipelines.config import LoraSpec, ModelFiles, PipelineConfig
from ltxmlx.pipelines.factory import make_pipeline
from ltxmlx.pipelines.tiny import ensure_tiny_checkpoints
from ltxmlx.runner.render import render
from ltxmlx.text_encoders.gemma import TINY_MAX_LENGTH
from tests.model.test_pipeline import WAVEFORM_ATOL


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return ensure_tiny_checkpoints(tmp_path_factory.mktemp("tiny"))


def config(tiny, **kw) -> PipelineConfig:
    files = ModelFiles(str(tiny["checkpoint"]), str(tiny["text_encoder"]), str(tiny["spatial_upsampler"]))
    base = {"kind": "ic_lora", "files": files, "height": 128, "width": 128, "num_frames": 9, "dtype": "float32",
            "text_max_length": TINY_MAX_LENGTH, "loras": (LoraSpec(str(tiny["ic_lora"])),),
            "reference_attention": 0.8}
    base.update(kw)
    return PipelineConfig(**base)


def references(item, ref, height, width, num_frames):
    """A synthetic control video per reference path, with a left-half mask when one is named."""
    rng = np.random.default_rng(abs(hash(ref.path)) % 2**32)
    pixels = rng.uniform(-1, 1, (1, 3, num_frames, height, width)).astype(np.float32)
    mask = None
    if ref.mask:
        mask = np.zeros((1, 1, num_frames, height, width), np.float32)
        mask[..., : width // 2] = 1.0
    return pixels, mask


def run(cfg, items, batch_size):
    initial = {}

    def on_event(event):
        if event.step == 0 and event.stage in ("stage1", "stage2"):
            initial.setdefault(event.stage, []).append({k: np.array(v) for k, v in event.state["video"].items()})
        if event.stage == "stage1" and event.step == event.total:
            initial.setdefault("stage1_final", []).append(np.array(event.state["video"]["next"]))

    stages = make_pipeline(cfg, references=references)
    return render(cfg, items, batch_size=batch_size, stages=stages, on_event=on_event), initial, stages


def test_reference_tokens_and_lora_only_in_stage_1(tiny):
    item = RenderItem("r", "a dancer spins", "", 3, references=(ReferenceVideo("pose", 1.0, "left"),))
    (result,), initial, stages = run(config(tiny), [item], 1)
    assert result.video.shape == (9, 128, 128, 3)
    # Stage 1 at 64x64 px: 2x2x2 generated tokens; the reference at 32x32 px (downscale 2): 2x1x1.
    mask = initial["stage1"][0]["denoise_mask"][0, :, 0]
    np.testing.assert_array_equal(mask, [1.0] * 8 + [0.0] * 2)
    positions = initial["stage1"][0]["positions"][0]
    np.testing.assert_allclose(positions[1:, 8:, :], [[[0, 64]] * 2, [[0, 64]] * 2])  # pixel coords x2
    assert initial["stage2"][0]["denoise_mask"].shape[1] == 2 * 4 * 4  # no reference in stage 2
    by_name = {s.name: s for s in stages}
    assert by_name["stage1"].loras == (LoraSpec(str(tiny["ic_lora"])),) and by_name["stage2"].loras == ()


def test_two_items_batched_match_each_rendered_alone(tiny):
    items = [RenderItem("a", "a dancer spins", "", 3, references=(ReferenceVideo("pose", 1.0, "left"),)),
             RenderItem("b", "a cat jumps", "", 4, references=(ReferenceVideo("edges", 0.9),))]
    batched, _, _ = run(config(tiny), items, 2)
    solo, _, _ = run(config(tiny), items, 1)
    for b, s in zip(batched, solo):
        assert b.item.id == s.item.id
        assert np.abs(b.video.astype(int) - s.video.astype(int)).max() <= 1
        np.testing.assert_allclose(b.audio, s.audio, atol=WAVEFORM_ATOL)


def test_the_reference_attention_changes_the_render(tiny):
    item = RenderItem("r", "a dancer spins", "", 3, references=(ReferenceVideo("pose", 1.0),))
    _, weak, _ = run(config(tiny, reference_attention=0.1), [item], 1)
    _, full, _ = run(config(tiny, reference_attention=1.0), [item], 1)
    generated = slice(0, 8)  # the stage-1 generated tokens (the reference tokens stay clean)
    diff = np.abs(weak["stage1_final"][0][:, generated] - full["stage1_final"][0][:, generated]).max()
    assert diff > 1e-2


def test_a_stack_without_an_ic_lora_is_refused_before_loading(tiny):
    with pytest.raises(ConfigError, match="IC-LoRA"):
        make_pipeline(config(tiny, loras=(LoraSpec(str(tiny["distilled_lora"])),)))
    with pytest.raises(ConfigError, match="IC-LoRA"):
        make_pipeline(config(tiny, loras=()))
