"""The text-to-audio pipeline on the tiny random-weight model: audio only, never the video stream."""

from dataclasses import replace

import numpy as np
import pytest

from ltxmlx.errors import ConfigError
from ltxmlx.model.transformer import LTXModel
from ltxmlx.pipelines.api import RenderItem
from ltxmlx.pipelines.config import PipelineConfig
from ltxmlx.pipelines.factory import make_pipeline
from ltxmlx.pipelines.t2a import AudioDecodeStage, AudioOnlyStage
from ltxmlx.pipelines.tiny import ensure_tiny_checkpoints
from ltxmlx.runner.render import render
from tests.model.test_pipeline import GUIDER, WAVEFORM_ATOL, config as pipeline_config

ITEMS = [RenderItem("a", "rain on a tin roof", "noise", 3), RenderItem("b", "a church bell", "hiss", 4)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return ensure_tiny_checkpoints(tmp_path_factory.mktemp("tiny"))


def config(tiny, **kw) -> PipelineConfig:
    return pipeline_config(tiny, "t2a", **kw)


def test_stages_and_audio_guidance(tiny):
    text, stage1, decode = make_pipeline(config(tiny))
    assert isinstance(stage1, AudioOnlyStage) and isinstance(decode, AudioDecodeStage)
    # Only the audio guider, its cross-modal term off (there is no video to attend to).
    assert stage1.guidance.video is None
    assert stage1.guidance.audio == replace(GUIDER, modality_scale=1.0)
    assert len(stage1.sigmas) == 3  # steps=2


def test_render_is_audio_only_and_never_computes_video(tiny, monkeypatch):
    seen = []
    real = LTXModel.__call__

    def spy(self, video, audio, perturbations=None):
        seen.append((video is None, audio is not None))
        return real(self, video, audio, perturbations)

    monkeypatch.setattr(LTXModel, "__call__", spy)
    results = render(config(tiny), ITEMS[:1])
    assert seen and all(v_none and a for v_none, a in seen)
    (r,) = results
    assert r.video is None
    # 9 frames at 24 fps, exactly, at the vocoder's rate.
    assert r.audio.shape == (2, round(9 / 24 * r.audio_sample_rate)) and np.abs(r.audio).max() > 0


def test_batched_equals_solo_and_picture_size_is_irrelevant(tiny):
    batched = render(config(tiny), ITEMS, batch_size=2)
    solo = [render(config(tiny), [item])[0] for item in ITEMS]
    for b, s in zip(batched, solo):
        np.testing.assert_allclose(b.audio, s.audio, atol=WAVEFORM_ATOL)
    assert not np.allclose(batched[0].audio, batched[1].audio)
    (other,) = render(config(tiny, height=128, width=96), ITEMS[:1])
    np.testing.assert_array_equal(other.audio, solo[0].audio)


def test_refuses_video_only_mode(tiny):
    with pytest.raises(ConfigError, match="audio.*t2a"):
        make_pipeline(config(tiny, audio=False))
