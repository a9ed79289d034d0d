"""End-to-end pipelines on the tiny random-weight model: batched == solo, video-only mode, outputs."""

from dataclasses import replace

import mlx.core as mx
import numpy as np
import pytest
from PIL import Image

from ltxmlx.components.guiders import GuiderParams
from ltxmlx.model.transformer import LTXModel
from ltxmlx.pipelines import decode_stage
from ltxmlx.pipelines.api import ImageCondition, RenderItem
from ltxmlx.pipelines.config import LoraSpec, ModelFiles, PipelineConfig
from ltxmlx.pipelines.factory import make_pipeline
from ltxmlx.runner.render import render, run_stage
from ltxmlx.pipelines.tiny import ensure_tiny_checkpoints
from ltxmlx.text_encoders.gemma import TINY_MAX_LENGTH

GUIDER = GuiderParams(cfg_scale=3.0, stg_scale=1.0, stg_blocks=(1,), rescale_scale=0.7, modality_scale=3.0)

# Batched and solo runs differ only by float32 summation order inside batched matmuls.
LATENT_ATOL = 1e-4
WAVEFORM_ATOL = 1e-4


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return ensure_tiny_checkpoints(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def image_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "gradient.png"
    x = np.linspace(0, 255, 80, dtype=np.float32)
    rgb = np.stack([np.add.outer(x[:48] * 0.5, x * 0.5), np.tile(x, (48, 1)), np.full((48, 80), 90.0)], -1)
    Image.fromarray(rgb.astype(np.uint8)).save(path)
    return str(path)


def config(tiny, kind="two_stage", **kw) -> PipelineConfig:
    guided = kind != "distilled"
    files = ModelFiles(str(tiny["checkpoint"]), str(tiny["text_encoder"]), str(tiny["spatial_upsampler"]),
                       LoraSpec(str(tiny["distilled_lora"])) if kind == "two_stage" else None)
    base = {"kind": kind, "files": files, "height": 64, "width": 64, "num_frames": 9, "steps": 2, "dtype": "float32",
                "video_guider": GUIDER if guided else None, "audio_guider": GUIDER if guided else None,
                "text_max_length": TINY_MAX_LENGTH, "image_crf": 0}
    base.update(kw)
    return PipelineConfig(**base)


def items(image_file) -> list[RenderItem]:
    return [
        RenderItem("a", "a red fox in snow", "blurry", 3),
        RenderItem("b", "waves on a beach", "blurry", 4, (ImageCondition(image_file, 0, 1.0),)),
        RenderItem("c", "a red fox in snow", "low quality", 5),
    ]


def final_latents(cfg, its, batch_size):
    """Stage-2 output latents per item, collected from the last step event of each batch."""
    stages = make_pipeline(cfg)
    latents = []

    def on_event(event):
        if event.stage == "stage2" and event.step == event.total:
            latents.extend(np.array(event.state["video"]["next"][i]) for i in range(event.state["video"]["next"].shape[0]))

    results = render(cfg, its, batch_size=batch_size, stages=stages, on_event=on_event)
    return latents, results


def test_three_items_in_one_batch_match_each_rendered_alone(tiny, image_file):
    its = items(image_file)
    # Batched: 3 items x 4 guidance passes = 12 rows in chunks of 5; solo: one call of 4 rows per item.
    batched_latents, batched = final_latents(config(tiny, max_batch_size=5), its, batch_size=3)
    solo_latents, solo = final_latents(config(tiny, max_batch_size=8), its, batch_size=1)
    for b, s, lb, ls in zip(batched, solo, batched_latents, solo_latents):
        assert b.item.id == s.item.id
        np.testing.assert_allclose(lb, ls, atol=LATENT_ATOL)
        assert np.abs(b.video.astype(int) - s.video.astype(int)).max() <= 1
        np.testing.assert_allclose(b.audio, s.audio, atol=WAVEFORM_ATOL)
    # Different seeds and prompts give different videos (the batch does not collapse items).
    assert np.abs(batched_latents[0] - batched_latents[2]).max() > 1e-2


def test_two_stage_outputs_are_frames_and_stereo_waveform(tiny):
    cfg = config(tiny)
    (result,) = render(cfg, [RenderItem("x", "a red fox", "blurry", 1)])
    assert result.video.shape == (9, 64, 64, 3) and result.video.dtype == np.uint8
    assert result.audio.dtype == np.float32 and result.audio.shape[0] == 2
    # 9 frames at 24 fps = 0.375 s; the vocoder yields hop * (4T - 3) samples for T latent frames.
    assert result.audio.shape[1] == 240 * (4 * 9 - 3)
    assert result.audio_sample_rate == 24000 and result.fps == 24.0
    assert np.isfinite(result.audio).all()


def test_video_only_mode_never_computes_audio(tiny, monkeypatch):
    calls = []
    original = LTXModel.__call__

    def spy(self, video, audio, perturbations=None):
        calls.append(audio is None)
        return original(self, video, audio, perturbations)

    built = []
    original_build = decode_stage.build

    def build_spy(component, *args, **kwargs):
        built.append(component)
        return original_build(component, *args, **kwargs)

    monkeypatch.setattr(LTXModel, "__call__", spy)
    monkeypatch.setattr(decode_stage, "build", build_spy)
    (result,) = render(config(tiny, audio=False), [RenderItem("x", "a red fox", "blurry", 1)])
    assert calls and all(calls)
    assert built == ["video_decoder"]
    assert result.audio.shape == (2, 0)
    assert result.video.shape == (9, 64, 64, 3)


def test_distilled_and_one_stage_render(tiny):
    item = RenderItem("x", "a red fox", "", 1)
    (distilled,) = render(config(tiny, "distilled"), [item])
    (one,) = render(config(tiny, "one_stage", steps=2), [item])
    for r in (distilled, one):
        assert r.video.shape == (9, 64, 64, 3) and r.audio.shape == (2, 240 * 33)


def test_stage_events_are_lazy_until_the_caller_evaluates(tiny, monkeypatch):
    """The denoise loop yields unevaluated state: stage code never calls mx.eval itself."""
    cfg = config(tiny, "distilled")
    stages = make_pipeline(cfg)
    text, stage1 = stages[0], stages[1]
    item = RenderItem("x", "a red fox", "", 1)
    with text:
        contexts = run_stage(text, [item], [{}])

    def refuse(*args, **kwargs):
        raise AssertionError("mx.eval called inside stage code")

    with stage1:  # models are built (and evaluated by the loader) on entry
        gen = stage1.run([item], contexts)
        with monkeypatch.context() as m:
            m.setattr(mx, "eval", refuse)
            m.setattr(mx, "async_eval", refuse)
            next(gen)  # step-0 event: the initial states
            event = next(gen)
        assert event.stage == "stage1" and event.step == 1 and event.total == 8
        nxt = event.state["video"]["next"]
        assert isinstance(nxt, mx.array)
        mx.eval(event.state)
        assert np.isfinite(np.array(nxt)).all()


def test_seed_changes_output_and_is_reproducible(tiny):
    cfg = config(tiny, "distilled")
    a = render(cfg, [RenderItem("x", "a red fox", "", 1)])[0]
    b = render(cfg, [RenderItem("x", "a red fox", "", 1)])[0]
    c = render(cfg, [replace(RenderItem("x", "a red fox", "", 1), seed=2)])[0]
    assert np.array_equal(a.video, b.video)
    assert not np.array_equal(a.video, c.video)
