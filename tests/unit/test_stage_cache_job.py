"""A whole job (weights -> plan.json -> record.json -> render) and its replay, with fake stages."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from ltxmlx.config.compose import compose_config
from ltxmlx.config.validate import to_run_config
from ltxmlx.replay import replay
from ltxmlx.runner.job import render
from runner_fakes import fake_pipeline


@pytest.fixture
def cfg(tmp_path):
    ckpt = tmp_path / "weights" / "model.safetensors"
    ckpt.parent.mkdir()
    ckpt.write_bytes(b"not really weights")
    (tmp_path / "weights" / "gemma").mkdir()
    overrides = ["+job=smoke", f"model.checkpoint={ckpt}", f"model.spatial_upsampler={ckpt}",
                 f"model.text_encoder={tmp_path / 'weights' / 'gemma'}", f"paths.cache={tmp_path / 'cache'}",
                 f"output_root={tmp_path / 'outputs'}"]
    return to_run_config(compose_config(overrides))


def make(cfg):
    return fake_pipeline()


def test_dry_run_writes_plan_only(cfg, tmp_path):
    import dataclasses
    dry = dataclasses.replace(cfg, runner=dataclasses.replace(cfg.runner, dry_run=True))
    out = render(dry, tmp_path / "run", overrides=[], choices={}, make_stages=make)
    plan = json.loads((tmp_path / "run" / "plan.json").read_text())
    assert out.result is None and len(plan["items"]) == 4 and plan["batches"] == [
        [i["id"] for i in plan["items"][:2]], [i["id"] for i in plan["items"][2:]]]
    assert set(plan["items"][0]["keys"]) == {"text", "stage1", "stage2", "decode"}
    assert not (tmp_path / "run" / "record.json").exists()
    assert not list((tmp_path / "run" / "videos").glob("*"))
    assert "unknown" in out.time_estimate  # no history yet: says so instead of guessing


def test_render_writes_record_and_replay_matches(cfg, tmp_path):
    run = tmp_path / "outputs" / "smoke" / "first"
    out = render(cfg, run, overrides=["+job=smoke"], choices={"job": "smoke"}, make_stages=make)
    assert len(out.result.finished) == 4
    record = json.loads((run / "record.json").read_text())
    assert record["seeds"] == [10, 11] and record["overrides"] == ["+job=smoke"]
    assert record["weights"]["checkpoint"]["sha256"] and record["packages"]["mlx"]
    assert record["config"]["model"]["name"] == "tiny" and "commit" in record["git"]
    diffs = replay(run, tmp_path / "replayed", Console(quiet=True), make_stages=make)
    assert diffs == []
    assert len(list((tmp_path / "replayed" / "videos").glob("*.mp4"))) == 4


def test_replay_reports_differences(cfg, tmp_path):
    run = tmp_path / "outputs" / "smoke" / "first"
    render(cfg, run, overrides=[], choices={}, make_stages=make)
    # The original run's stage 1 had produced something else (an intact file, other values): replay notices.
    victim = sorted((run / "cache" / "stage1").glob("*.safetensors"))[0]
    import mlx.core as mx
    from ltxmlx.runner.stage_cache import StageCache
    arrays = mx.load(str(victim))
    StageCache(run / "cache").save("stage1", victim.stem, {k: v + 1 for k, v in arrays.items()}, {})
    diffs = replay(run, tmp_path / "replayed", Console(quiet=True), make_stages=make)
    assert len(diffs) == 1 and "stage1/latent" in diffs[0]


def test_replay_compares_the_videos_not_only_the_latents(cfg, tmp_path):
    run = tmp_path / "outputs" / "smoke" / "first"
    render(cfg, run, overrides=[], choices={}, make_stages=make)
    videos = sorted((run / "videos").glob("*.mp4"))
    # Same latents, but the original's first video holds other frames and metadata (e.g. re-encoded).
    videos[0].write_bytes(videos[1].read_bytes())
    diffs = replay(run, tmp_path / "replayed", Console(quiet=True), make_stages=make)
    entries = [json.loads(line) for line in (run / "manifest.jsonl").read_text().splitlines()]
    victim = next(e["id"] for e in entries if e["video"] == f"videos/{videos[0].name}")
    assert diffs and all(d.startswith(victim) for d in diffs)
    assert any("decoded frames" in d for d in diffs) and any("video metadata id" in d for d in diffs)
    assert not any("/latent" in d for d in diffs)  # the stage outputs themselves match


def test_replay_cannot_replay_exits_2_with_one_line(tmp_path, capsys):
    from ltxmlx.replay import main

    assert main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no record.json" in err
    (tmp_path / "record.json").write_text("[1, 2")
    assert main([str(tmp_path)]) == 2
    assert "not readable JSON" in capsys.readouterr().err
