"""Retake on the tiny model: only the window's tokens change, the rest keeps the encoded source;
batched == solo; the window is applied to video and audio."""

import numpy as np
import pytest

from ltxmlx.pipelines.api import RenderItem, SourceVideo
from ltxmlx.pipelines.config import ModelFiles, PipelineConfig
from ltxmlx.pipelines.factory import make_pipeline
from ltxmlx.pipelines.tiny import ensure_tiny_checkpoints
from ltxmlx.runner.render import render
from ltxmlx.text_encoders.gemma import TINY_MAX_LENGTH

RATE = 24000


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return ensure_tiny_checkpoints(tmp_path_factory.mktemp("tiny"))


def config(tiny, **kw) -> PipelineConfig:
    files = ModelFiles(str(tiny["checkpoint"]), str(tiny["text_encoder"]), str(tiny["spatial_upsampler"]))
    base = {"kind": "retake", "files": files, "height": 64, "width": 64, "num_frames": 17, "dtype": "float32",
            "text_max_length": TINY_MAX_LENGTH}
    base.update(kw)
    return PipelineConfig(**base)


def media(item, source, height, width, num_frames):
    """A synthetic clip per source name (with a tone unless the name says silent)."""
    rng = np.random.default_rng(len(source.path))
    pixels = rng.uniform(-1, 1, (1, 3, num_frames, height, width)).astype(np.float32)
    if "silent" in source.path:
        return pixels, None, 0
    t = np.arange(int(num_frames / 24 * RATE)) / RATE
    return pixels, np.stack([0.3 * np.sin(2 * np.pi * 330 * t)] * 2)[None].astype(np.float32), RATE


def run(cfg, items, batch_size):
    events = {}

    def on_event(event):
        if event.stage == "stage1" and event.step in (0, event.total):
            for m, rec in event.state.items():
                events[(m, "first" if event.step == 0 else "last")] = {k: np.array(v) for k, v in rec.items()}

    stages = make_pipeline(cfg, source=media)
    return render(cfg, items, batch_size=batch_size, stages=stages, on_event=on_event), events


def test_only_the_window_is_regenerated(tiny):
    item = RenderItem("r", "the car swerves", "", 3, source=SourceVideo("clip", 0.2, 0.5))
    (result,), events = run(config(tiny), [item], 1)
    assert result.video.shape == (17, 64, 64, 3)
    for m in ("video", "audio"):
        first, last = events[(m, "first")], events[(m, "last")]
        mask = first["denoise_mask"][0, :, 0]
        t0, t1 = first["positions"][0, 0, :, 0], first["positions"][0, 0, :, 1]
        np.testing.assert_array_equal(mask, ((t1 > 0.2) & (t0 < 0.5)).astype(np.float32))
        assert 0 < mask.sum() < mask.size
        kept = mask == 0
        np.testing.assert_allclose(last["next"][0, kept], first["clean_latent"][0, kept], atol=1e-6)
        assert np.abs(last["next"][0, ~kept] - first["clean_latent"][0, ~kept]).max() > 1e-2


def test_a_source_without_audio_gets_all_its_audio_generated(tiny):
    item = RenderItem("s", "the car swerves", "", 3, source=SourceVideo("silent clip", 0.2, 0.5))
    _, events = run(config(tiny), [item], 1)
    np.testing.assert_array_equal(events[("audio", "first")]["denoise_mask"], 1.0)
    assert 0 < events[("video", "first")]["denoise_mask"].sum() < events[("video", "first")]["denoise_mask"].size


def test_two_items_batched_match_each_rendered_alone(tiny):
    items = [RenderItem("a", "the car swerves", "", 3, source=SourceVideo("clip", 0.2, 0.5)),
             RenderItem("b", "a dog runs", "", 4, source=SourceVideo("other clip", 0.0, 0.3))]
    batched, _ = run(config(tiny), items, 2)
    solo, _ = run(config(tiny), items, 1)
    for b, s in zip(batched, solo):
        assert b.item.id == s.item.id
        assert np.abs(b.video.astype(int) - s.video.astype(int)).max() <= 1
        np.testing.assert_allclose(b.audio, s.audio, atol=1e-4)
