"""Duration head: loading, batched equals solo, frame snapping to 8k+1 and clamping, input checks."""

from __future__ import annotations

import logging

import mlx.core as mx
import numpy as np
import pytest
from mlx.utils import tree_flatten, tree_unflatten

from ltxmlx.errors import CheckpointError, ConfigError, ShapeError
from ltxmlx.loader import build
from ltxmlx.model.duration_head import (
    DurationHead,
    DurationHeadConfig,
    predict_num_frames,
    predict_seconds,
    seconds_to_num_frames,
)

from tests.conftest import PARITY

HEAD_FILE = PARITY / "25" / "tiny_ltx-2.5-duration-head.safetensors"
CFG = DurationHeadConfig(video_dim=16, audio_dim=8, hidden_dim=16, num_queries=2, num_heads=2, mlp_hidden=24)


def _head(seed: int = 0) -> DurationHead:
    head = DurationHead(CFG)
    params = tree_flatten(head.parameters())
    keys = mx.random.split(mx.random.key(seed), len(params))
    head.update(tree_unflatten([(k, mx.random.normal(v.shape, key=r) * 0.5) for (k, v), r in zip(params, keys)]))
    # log-duration around log(4 s), so the frame counts sit in the clamp range
    head.update({"mlp_out": {"bias": mx.array([1.4])}})
    return head


def _encodings(batch: int, seed: int = 1, length: int = 7):
    rng = np.random.default_rng(seed)
    return (
        mx.array(rng.standard_normal((batch, length, CFG.video_dim)).astype(np.float32)),
        mx.array(rng.standard_normal((batch, length, CFG.audio_dim)).astype(np.float32)),
    )


def test_builds_from_the_split_file_and_reads_its_config():
    head = build("duration_head", HEAD_FILE, dtype=mx.float32)
    assert head.cfg == CFG
    seconds = predict_seconds(head, *_encodings(2))
    assert seconds.shape == (2,) and seconds.dtype == mx.float32
    assert bool(mx.all(seconds > 0))


def test_a_file_without_duration_head_weights_is_refused():
    with pytest.raises(CheckpointError, match="no weights of component .duration_head."):
        build("duration_head", PARITY / "25" / "tiny_ltx-2.5-distilled-transformer.safetensors")


@pytest.mark.parametrize("streams", [(True, True), (True, False), (False, True)])
def test_batched_equals_each_item_alone(streams):
    head = _head()
    video, audio = _encodings(4)
    video, audio = (video if streams[0] else None), (audio if streams[1] else None)
    batched_s = np.array(predict_seconds(head, video, audio))
    batched_f = predict_num_frames(head, video, audio, fps=24.0)
    solo_s, solo_f = [], []
    for i in range(4):
        item = [None if x is None else x[i : i + 1] for x in (video, audio)]
        solo_s.append(np.array(predict_seconds(head, *item))[0])
        solo_f += predict_num_frames(head, *item, fps=24.0)
    np.testing.assert_allclose(batched_s, solo_s, rtol=1e-5)
    assert batched_f == solo_f
    assert len(set(batched_f)) > 1, "items must differ for this test to mean anything"
    assert all((f - 1) % 8 == 0 and 24 <= f <= 480 for f in batched_f)


def test_streams_both_matter():
    head = _head()
    video, audio = _encodings(1)
    av, v, a = (float(predict_seconds(head, *x)[0]) for x in ((video, audio), (video, None), (None, audio)))
    assert len({av, v, a}) == 3


@pytest.mark.parametrize(
    ("seconds", "fps", "clamp", "frames"),
    [
        (3.2184, 24.0, (1.0, 20.0), 73),  # 77 frames, floored to the grid
        (3.2321, 25.0, (1.0, 20.0), 81),  # 80.8 -> 81, already on the grid
        (0.2, 24.0, (1.0, 20.0), 25),  # clamped to 24, floor 17 < 24: next grid point up
        (100.0, 24.0, (1.0, 20.0), 473),  # clamped to 480, floored
        (100.0, 24.0, None, 2393),
        (0.01, 24.0, None, 1),
        (2.5, 30.0, (2.0, 3.0), 73),
    ],
)
def test_seconds_to_frames_snaps_and_clamps(seconds, fps, clamp, frames):
    assert seconds_to_num_frames(seconds, fps, clamp) == frames


def test_clamp_without_a_grid_point_and_bad_predictions_are_refused():
    with pytest.raises(ValueError, match="holds no 8k\\+1"):
        seconds_to_num_frames(1.0, 24.0, (1.0, 1.0))
    with pytest.raises(ValueError, match="finite"):
        seconds_to_num_frames(float("inf"), 24.0)
    with pytest.raises(ValueError, match="min <= max"):
        seconds_to_num_frames(1.0, 24.0, (3.0, 2.0))


def test_clamping_is_logged(caplog):
    head = _head()
    head.update({"mlp_out": {"bias": mx.array([8.0])}})  # ~ e^8 s
    with caplog.at_level(logging.WARNING, logger="ltxmlx.model.duration_head.predict"):
        frames = predict_num_frames(head, *_encodings(1), fps=24.0)
    assert frames == [473] and "outside" in caplog.text


def test_bad_inputs_are_refused():
    head = _head()
    video, audio = _encodings(2)
    with pytest.raises(ShapeError, match="neither"):
        predict_num_frames(head, None, None, fps=24.0)
    with pytest.raises(ShapeError, match="audio_encoding: expected \\(2, S, 8\\)"):
        predict_seconds(head, video, audio[:1])
    with pytest.raises(ShapeError, match="video_encoding"):
        predict_seconds(head, video[..., :-1], None)


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"duration_head": {"num_pooler_heads": 3}}, "duration_head.num_pooler_heads"),
        ({"duration_head": {"mlp_hidden": 0}}, "duration_head.mlp_hidden"),
        ({"transformer": {"cross_attention_dim": "4096"}}, "transformer.cross_attention_dim"),
    ],
)
def test_unsupported_config_is_refused(config, key):
    with pytest.raises(ConfigError) as err:
        DurationHeadConfig.from_config(config)
    assert err.value.key == key


def test_absent_keys_take_the_official_defaults():
    assert DurationHeadConfig.from_config({}) == DurationHeadConfig(4096, 2048, 256, 1, 4, 256)
