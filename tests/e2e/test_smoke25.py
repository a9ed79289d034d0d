"""LTX-2.5 end to end on its tiny split-file model: `+job=smoke25` offline, and batched == solo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ltxmlx.media.probe import probe
from ltxmlx.pipelines.api import RenderItem
from ltxmlx.pipelines.config import ModelFiles, PipelineConfig
from ltxmlx.pipelines.tiny25 import ensure_tiny25_checkpoints
from ltxmlx.runner.render import render

REPO = Path(__file__).resolve().parents[2]


def test_smoke25_renders_offline_with_48k_audio(tmp_path):
    env = dict(os.environ, LTXMLX_CACHE_DIR=str(tmp_path / "weights"), HF_HUB_OFFLINE="1")
    env.pop("LTXMLX_JOBS_DIR", None)
    run = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "ltxmlx.run", "+job=smoke25", f"hydra.run.dir={run}"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = [json.loads(line) for line in (run / "manifest.jsonl").read_text().splitlines()]
    assert len(manifest) == 2
    for entry in manifest:
        info = probe(run / entry["video"])
        assert info.video_codec == "h264" and info.audio_codec == "aac" and (info.width, info.height) == (128, 128)
        assert entry["audio_sample_rate"] == 48000 and abs(info.duration - 17 / 24) < 0.05
        # The ancestral stage 1 draws from the item's seed + 10000; the record says so.
        assert entry["notes"]["stage1"] == {"sampler": "euler_ancestral", "step_noise_seed": entry["seed"] + 10000,
                                            "step_noise_seed_offset": 10000}
    record = json.loads((run / "record.json").read_text())
    assert {"checkpoint", "text_encoder", "video_vae", "audio_vae"} <= set(record["weights"])


@pytest.fixture(scope="module")
def tiny25(tmp_path_factory):
    return ensure_tiny25_checkpoints(tmp_path_factory.mktemp("tiny25"))


def test_ltx25_item_renders_the_same_alone_and_in_a_batch_of_two(tiny25):
    files = ModelFiles(str(tiny25["checkpoint"]), str(tiny25["text_encoder"]), str(tiny25["spatial_upsampler"]),
                       video_vae=str(tiny25["video_vae"]), audio_vae=str(tiny25["audio_vae"]))
    cfg = PipelineConfig(kind="distilled", files=files, height=64, width=64, num_frames=9, dtype="float32",
                         text_max_length=128, generation="2.5")
    items = [RenderItem("a", "a red fox in snow", "", 3), RenderItem("b", "waves on a beach", "", 4)]
    both = render(cfg, items, batch_size=2)
    alone = render(cfg, items[1:], batch_size=1)
    np.testing.assert_array_equal(both[1].video, alone[0].video)  # uint8 frames identical
    np.testing.assert_allclose(both[1].audio, alone[0].audio, atol=1e-5)
    assert not np.array_equal(both[0].video, both[1].video)


def test_diffusion_video_decoder_renders_and_is_batch_invariant(tiny25):
    diffusion_vae = REPO / "tests" / "fixtures" / "parity" / "25" / "tiny_ltx-2.5-video-vae.safetensors"
    files = ModelFiles(str(tiny25["checkpoint"]), str(tiny25["text_encoder"]), str(tiny25["spatial_upsampler"]),
                       video_vae=str(diffusion_vae), audio_vae=str(tiny25["audio_vae"]))
    cfg = PipelineConfig(kind="distilled", files=files, height=64, width=64, num_frames=9, dtype="float32",
                         text_max_length=128, generation="2.5", video_decoder="diffusion")
    items = [RenderItem("a", "a red fox in snow", "", 3), RenderItem("b", "waves on a beach", "", 4)]
    both = render(cfg, items, batch_size=2)
    alone = render(cfg, items[1:], batch_size=1)
    assert both[1].video.shape == (9, 64, 64, 3) and both[1].video.dtype == np.uint8
    np.testing.assert_array_equal(both[1].video, alone[0].video)
    conv = render(PipelineConfig(**{**cfg.__dict__, "video_decoder": "conv",
                                    "files": ModelFiles(**{**files.__dict__, "video_vae": str(tiny25["video_vae"])})}),
                  items[1:], batch_size=1)
    assert not np.array_equal(conv[0].video, alone[0].video)  # really another decoder


def test_auto_frames_come_from_the_duration_head_and_leave_the_text_stage_cached(tiny25, tmp_path):
    from ltxmlx.config.plan import stage_keys
    from ltxmlx.loader import build
    from ltxmlx.model.duration_head.predict import predict_seconds, seconds_to_num_frames
    from ltxmlx.pipelines.text_stage import TextStage
    from ltxmlx.runner.duration import predict_frames
    from ltxmlx.runner.stage_cache import StageCache
    import mlx.core as mx

    files = ModelFiles(str(tiny25["checkpoint"]), str(tiny25["text_encoder"]), duration_head=str(tiny25["duration_head"]),
                       video_vae=str(tiny25["video_vae"]), audio_vae=str(tiny25["audio_vae"]))
    cfg = PipelineConfig(kind="one_stage", files=files, height=64, width=64, num_frames=None, dtype="float32",
                         text_max_length=128, generation="2.5")
    text = TextStage(cfg, negatives=False, kind="gemma4")
    cache = StageCache(tmp_path / "cache")
    key = lambda item: stage_keys([text], item)[text.name]  # noqa: E731
    prompts = ["a red fox in snow", "waves on a beach", "a red fox in snow"]
    frames = predict_frames(prompts, "", text, cache, key, files.duration_head, 24.0, mx.float32)
    assert set(frames) == {"a red fox in snow", "waves on a beach"}
    head = build("duration_head", files.duration_head, dtype=mx.float32)
    for prompt, n in frames.items():
        item = RenderItem("x", prompt, "", 5, num_frames=n)
        ctx = cache.load("text", key(item))  # the text stage's output is cached under its own key
        seconds = predict_seconds(head, ctx["context.video"], ctx["context.audio"])[0].item()
        assert n == seconds_to_num_frames(seconds, 24.0) and (n - 1) % 8 == 0 and 24 <= n <= 481
        assert item.shape_signature() != RenderItem("y", prompt, "", 5, num_frames=n + 8).shape_signature()


@pytest.mark.parametrize("overrides, key", [
    (["model.text_encoder=tiny://text_encoder"], "model.text_encoder"),  # a Gemma 3 folder for LTX-2.5
    (["model.checkpoint=tests/fixtures/parity/22b/tiny_22b.safetensors"], "model.version"),  # a 2.3 file
    (["model.video_decoder=diffusion"], "model.video_decoder"),  # the conv VAE file has no diffusion decoder
    (["model.duration_head=null", "resolution.frames=auto"], "resolution.frames"),
])
def test_ltx25_bad_input_is_one_line_before_loading(tmp_path, overrides, key):
    env = dict(os.environ, LTXMLX_CACHE_DIR=str(tmp_path / "weights"), HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-m", "ltxmlx.run", "+job=smoke25", f"output_root={tmp_path / 'out'}",
                           *overrides], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and key in proc.stderr, proc.stderr[-2000:]
    assert len([ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]) == 1
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").rglob("*.mp4"))


def test_ltx2_refuses_the_gemma4_file_and_auto_frames(tmp_path):
    env = dict(os.environ, LTXMLX_CACHE_DIR=str(tmp_path / "weights"), HF_HUB_OFFLINE="1")
    for overrides, key in ((["model.text_encoder=tiny://2.5/text_encoder"], "model.text_encoder"),
                           (["resolution.frames=auto"], "resolution.frames")):
        proc = subprocess.run([sys.executable, "-m", "ltxmlx.run", "+job=smoke", f"output_root={tmp_path / 'out'}",
                               *overrides], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 2 and key in proc.stderr, proc.stderr[-2000:]
