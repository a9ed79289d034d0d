"""Audio-to-video on the tiny model: the input track is encoded and never changes, only the video
is guided, the output keeps the input audio, batched == solo."""

import mlx.core as mx
import numpy as np
import pytest

from ltxmlx.loader import build
from ltxmlx.model.audio_vae import encode_audio
from ltxmlx.model.audio_vae.processing import resample
from ltxmlx.pipelines.api import AudioInput, RenderItem
from ltxmlx.pipelines.config import LoraSpec, ModelFiles, PipelineConfig
from ltxmlx.pipelines.factory import make_pipeline
from ltxmlx.pipelines.tiny import ensure_tiny_checkpoints
from ltxmlx.runner.render import render
from ltxmlx.text_encoders.gemma import TINY_MAX_LENGTH
from tests.model.test_pipeline import GUIDER

RATE = 44100


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return ensure_tiny_checkpoints(tmp_path_factory.mktemp("tiny"))


def config(tiny, **kw) -> PipelineConfig:
    files = ModelFiles(str(tiny["checkpoint"]), str(tiny["text_encoder"]), str(tiny["spatial_upsampler"]),
                       LoraSpec(str(tiny["distilled_lora"])))
    base = {"kind": "a2v", "files": files, "height": 64, "width": 64, "num_frames": 9, "steps": 2,
            "dtype": "float32", "video_guider": GUIDER, "text_max_length": TINY_MAX_LENGTH}
    base.update(kw)
    return PipelineConfig(**base)


def tone(item, audio):
    """A stereo tone per track name, 0.6 s at 44.1 kHz, cut at the item's start time."""
    freq = {"low": 220.0, "high": 880.0}[audio.path]
    t = np.arange(int(0.6 * RATE)) / RATE + audio.start_time
    x = 0.3 * np.sin(2 * np.pi * freq * t)
    return np.stack([x, 0.5 * x])[None].astype(np.float32), RATE


def run(cfg, items, batch_size):
    events = {}

    def on_event(event):
        if event.stage in ("stage1", "stage2") and event.step in (0, event.total):
            key = (event.stage, "first" if event.step == 0 else "last")
            events[key] = {k: np.array(v) for k, v in event.state["audio"].items()}

    stages = make_pipeline(cfg, audio=tone)
    return render(cfg, items, batch_size=batch_size, stages=stages, on_event=on_event), events, stages


def test_the_input_audio_conditions_and_is_kept(tiny):
    item = RenderItem("a", "a drummer on stage", "blurry", 3, audio=AudioInput("low"))
    (result,), events, stages = run(config(tiny), [item], 1)
    encoder = build("audio_encoder", tiny["checkpoint"], dtype=mx.float32)
    waveform, _ = tone(item, item.audio)
    encoded = np.array(encode_audio(mx.array(waveform), RATE, encoder))
    for stage in ("stage1", "stage2"):
        start, end = events[(stage, "first")], events[(stage, "last")]
        np.testing.assert_array_equal(start["denoise_mask"], 0.0)
        # The frozen audio never moves: the last step's latent equals the encoded clean tokens.
        np.testing.assert_allclose(end["next"], start["clean_latent"], atol=1e-6)
    frames = events[("stage1", "first")]["clean_latent"].shape[1]
    tokens = encoded[:, :, :frames].transpose(0, 2, 1, 3).reshape(1, frames, -1)
    np.testing.assert_allclose(events[("stage1", "first")]["clean_latent"], tokens, atol=1e-5)
    expected = np.array(resample(mx.array(waveform[0]), RATE, result.audio_sample_rate))
    np.testing.assert_allclose(result.audio, expected[:, : result.audio.shape[1]], atol=1e-6)
    assert result.audio.shape[1] == round(9 / 24 * result.audio_sample_rate)
    assert {s.name: s.guidance.audio for s in stages if hasattr(s, "guidance")} == {"stage1": None, "stage2": None}


def test_two_items_batched_match_each_rendered_alone(tiny):
    items = [RenderItem("a", "a drummer", "blurry", 3, audio=AudioInput("low")),
             RenderItem("b", "a singer", "blurry", 4, audio=AudioInput("high", start_time=0.1))]
    batched, _, _ = run(config(tiny), items, 2)
    solo, _, _ = run(config(tiny), items, 1)
    for b, s in zip(batched, solo):
        assert b.item.id == s.item.id
        assert np.abs(b.video.astype(int) - s.video.astype(int)).max() <= 1
        np.testing.assert_array_equal(b.audio, s.audio)
    assert np.abs(batched[0].audio - batched[1].audio).max() > 0.1
