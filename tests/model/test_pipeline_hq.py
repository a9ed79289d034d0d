"""The HQ two-stage pipeline on the tiny model: res_2s evaluations per stage, per-stage LoRA strengths,
SDE noise independent of the item seed, batched == solo."""

import numpy as np
import pytest

from ltxmlx.components.guiders import GuiderParams
from ltxmlx.pipelines.api import RenderItem
from ltxmlx.pipelines.config import LoraSpec, ModelFiles, PipelineConfig
from ltxmlx.pipelines.factory import make_pipeline
from ltxmlx.pipelines.tiny import ensure_tiny_checkpoints
from ltxmlx.runner.render import render
from ltxmlx.text_encoders.gemma import TINY_MAX_LENGTH
from tests.model.test_pipeline import WAVEFORM_ATOL

HQ_VIDEO = GuiderParams(cfg_scale=3.0, stg_scale=0.0, stg_blocks=(), rescale_scale=0.45, modality_scale=3.0)
HQ_AUDIO = GuiderParams(cfg_scale=7.0, stg_scale=0.0, stg_blocks=(), rescale_scale=1.0, modality_scale=3.0)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return ensure_tiny_checkpoints(tmp_path_factory.mktemp("tiny"))


def config(tiny, **kw) -> PipelineConfig:
    files = ModelFiles(str(tiny["checkpoint"]), str(tiny["text_encoder"]), str(tiny["spatial_upsampler"]),
                       LoraSpec(str(tiny["distilled_lora"])))
    base = {"kind": "two_stage_hq", "files": files, "height": 64, "width": 64, "num_frames": 9, "steps": 2,
            "dtype": "float32", "video_guider": HQ_VIDEO, "audio_guider": HQ_AUDIO,
            "text_max_length": TINY_MAX_LENGTH}
    base.update(kw)
    return PipelineConfig(**base)


def run(cfg, items, batch_size):
    evals = {}

    def on_event(event):
        if "eval" in event.state:
            evals.setdefault(event.stage, []).append(float(np.array(event.state["eval"]["sigma"])))

    stages = make_pipeline(cfg)
    return render(cfg, items, batch_size=batch_size, stages=stages, on_event=on_event), evals, stages


def test_res2s_evaluations_and_lora_strengths(tiny):
    (result,), evals, stages = run(config(tiny), [RenderItem("x", "a glass of water", "blurry", 1)], 1)
    assert result.video.shape == (9, 64, 64, 3)
    by_name = {s.name: s for s in stages}
    for name in ("stage1", "stage2"):
        sigmas = by_name[name].sigmas
        n = len(sigmas) - 1
        assert len(evals[name]) == 2 * n + 1  # step point and midpoint per step, then the final x0
        np.testing.assert_allclose(evals[name][0::2][:n], sigmas[:-1], rtol=1e-6)
        np.testing.assert_allclose(evals[name][-1], 0.0011, rtol=1e-6)
        mids = [np.sqrt(a * b) for a, b in zip(sigmas[:-1], (*sigmas[1:-1], 0.0011))]
        np.testing.assert_allclose(evals[name][1::2], mids, rtol=1e-5)
    assert [lo.strength for lo in by_name["stage1"].loras] == [0.25]
    assert [lo.strength for lo in by_name["stage2"].loras] == [0.5]
    assert by_name["stage1"].item_notes(RenderItem("x", "", "", 1))["sde_noise_from_item_seed"] is False


def test_two_items_batched_match_each_rendered_alone(tiny):
    items = [RenderItem("a", "a glass of water", "blurry", 3), RenderItem("b", "a red fox", "blurry", 4)]
    batched, _, _ = run(config(tiny), items, 2)
    solo, _, _ = run(config(tiny), items, 1)
    for b, s in zip(batched, solo):
        assert b.item.id == s.item.id
        assert np.abs(b.video.astype(int) - s.video.astype(int)).max() <= 1
        np.testing.assert_allclose(b.audio, s.audio, atol=WAVEFORM_ATOL)
    assert np.abs(batched[0].video.astype(int) - batched[1].video.astype(int)).max() > 2
