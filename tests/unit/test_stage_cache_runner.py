"""Runner + stage cache with fake stages: batching, dedupe, resume, SIGKILL recovery, outputs."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

from ltxmlx.config.compose import compose_config
from ltxmlx.config.plan import build_plan
from ltxmlx.config.validate import to_run_config
from ltxmlx.media.probe import decode_video, probe
from ltxmlx.runner.outputs import RunDir
from ltxmlx.runner.runner import Runner
from ltxmlx.runner.stage_cache import StageCache
from runner_fakes import fake_pipeline

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def smoke_cfg():
    return to_run_config(compose_config(["+job=smoke"]))


def render(cfg, root: Path, batch_size=2, order="stage_major", log=None, stage2_setting=1.0):
    stages = fake_pipeline(log, stage2_setting)
    plan = build_plan(cfg, stages, batch_size)
    rd = RunDir(root)
    result = Runner(stages, plan, rd, StageCache(rd.default_cache), order=order).run()
    return stages, plan, result


def events(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_stage_major_batches_dedupes_and_writes_outputs(smoke_cfg, tmp_path):
    stages, plan, result = render(smoke_cfg, tmp_path)
    text, s1, s2, dec = stages
    assert len(plan.items) == 4 and all(st.entered == 1 for st in stages)  # each model built once
    assert [len(b) for b in s1.batches] == [2, 2]  # batch_size 2 along the latent batch
    assert sum(len(b) for b in text.batches) == 2  # one text encoding per prompt, not per seed
    assert len(result.finished) == 4
    lines = (tmp_path / "manifest.jsonl").read_text().splitlines()
    assert len(lines) == 4
    for e in map(json.loads, lines):
        info = probe(tmp_path / e["video"])
        assert info.video_codec == "h264" and info.pix_fmt == "yuv420p" and info.audio_codec == "aac"
        assert info.sample_rate == 16000 and abs(info.duration - 9 / 24) < 0.05
        assert set(e["keys"]) == {"text", "stage1", "stage2", "decode"} and e["timings_s"]
        assert info.metadata()["id"] == e["id"]
    assert (tmp_path / "contact_sheet.png").stat().st_size > 0
    assert len(list((tmp_path / "cache" / "stage2").glob("*.safetensors"))) == 4


def test_batched_equals_solo(smoke_cfg, tmp_path):
    stages, plan, _ = render(smoke_cfg, tmp_path / "b2", batch_size=2)
    assert max(len(b) for b in stages[2].batches) == 2  # really batched
    render(smoke_cfg, tmp_path / "b1", batch_size=1)
    videos = {decode_video(tmp_path / "b2/videos" / p.video_name()).tobytes() for p in plan.items}
    assert len(videos) == len(plan.items)  # items stay distinct: the batch does not collapse them
    for p in plan.items:
        k = p.keys["stage2"]
        a = mx.load(str(tmp_path / "b2/cache/stage2" / f"{k}.safetensors"))["latent"]
        b = mx.load(str(tmp_path / "b1/cache/stage2" / f"{k}.safetensors"))["latent"]
        assert mx.array_equal(a, b).item()
        v = p.video_name()
        assert np.array_equal(decode_video(tmp_path / "b2/videos" / v), decode_video(tmp_path / "b1/videos" / v))


def test_rerun_skips_finished_and_later_stage_change_reuses_earlier(smoke_cfg, tmp_path):
    log = tmp_path / "calls.jsonl"
    render(smoke_cfg, tmp_path / "run", log=log)
    n = len(events(log))
    stages, _, result = render(smoke_cfg, tmp_path / "run", log=log)
    assert events(log)[n:] == [] and result.finished_before == 4  # nothing built, nothing run
    n = len(events(log))
    stages, _, result = render(smoke_cfg, tmp_path / "run", log=log, stage2_setting=0.5)
    ran = {e["stage"] for e in events(log)[n:] if e["event"] == "run"}
    assert ran == {"stage2", "decode"}  # text and stage1 outputs come from the cache
    assert stages[0].entered == 0 and stages[1].entered == 0
    assert result.finished_before == 0 and len(result.finished) == 4


def test_item_major_matches_stage_major(smoke_cfg, tmp_path):
    _, plan, _ = render(smoke_cfg, tmp_path / "sm")
    stages, _, _ = render(smoke_cfg, tmp_path / "im", order="item_major")
    assert all(st.entered == 1 for st in stages)  # built once, kept resident
    for p in plan.items:
        v = p.video_name()
        assert np.array_equal(decode_video(tmp_path / "sm/videos" / v), decode_video(tmp_path / "im/videos" / v))


def test_partial_cache_file_is_not_trusted(tmp_path):
    cache = StageCache(tmp_path)
    (tmp_path / "stage1").mkdir()
    (tmp_path / "stage1" / ".abc.123.tmp.safetensors").write_bytes(b"torn")
    assert not cache.has("stage1", "abc") and cache.clean_partials() == 1
    cache.save("stage1", "abc", {"latent": mx.ones((2, 3))}, {"item_id": "x", "seed": 1})
    assert cache.metadata("stage1", "abc")["seed"] == 1
    assert mx.array_equal(cache.load("stage1", "abc")["latent"], mx.ones((2, 3))).item()


KILL_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {here!r})
    from ltxmlx.config.compose import compose_config
    from ltxmlx.config.plan import build_plan
    from ltxmlx.config.validate import to_run_config
    from ltxmlx.runner.outputs import RunDir
    from ltxmlx.runner.runner import Runner
    from ltxmlx.runner.stage_cache import StageCache
    from runner_fakes import fake_pipeline
    from pathlib import Path
    cfg = to_run_config(compose_config(["+job=smoke"]))
    stages = fake_pipeline(Path({log!r}), kill_stage="stage2")
    rd = RunDir(Path({root!r}))
    Runner(stages, build_plan(cfg, stages, 2), rd, StageCache(rd.default_cache)).run()
""")


def test_sigkill_after_stage1_resumes_without_recomputing(smoke_cfg, tmp_path):
    log, root = tmp_path / "calls.jsonl", tmp_path / "run"
    script = KILL_SCRIPT.format(here=str(HERE), log=str(log), root=str(root))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr  # killed by SIGKILL when stage 2 started
    first = [e for e in events(log) if e["event"] == "run"]
    assert {e["stage"] for e in first} == {"text", "stage1"}
    assert not list((root / "videos").glob("*.mp4"))  # no video marked finished
    n = len(events(log))
    _, plan, result = render(smoke_cfg, root, log=log)
    again = {e["stage"] for e in events(log)[n:] if e["event"] == "run"}
    assert again == {"stage2", "decode"} and len(result.finished) == 4
    render(smoke_cfg, tmp_path / "clean")
    for p in plan.items:
        v = p.video_name()
        assert np.array_equal(decode_video(root / "videos" / v), decode_video(tmp_path / "clean/videos" / v))
