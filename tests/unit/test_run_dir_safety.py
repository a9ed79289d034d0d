"""One run directory, one owner: the lock, unique default directories, per-process temporaries,
stop requests at batch boundaries with status.json, and no writes through symbolic links."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

from ltxmlx.config.compose import compose_config
from ltxmlx.config.jobs import LAUNCH_ID
from ltxmlx.config.plan import build_plan
from ltxmlx.config.validate import to_run_config
from ltxmlx.errors import RunInterrupted
from ltxmlx.runner.outputs import OutputDirError, RunDir
from ltxmlx.runner.ownership import HOST, RunDirLockedError, RunLock, temp_path
from ltxmlx.runner.runner import Runner
from ltxmlx.runner.stage_cache import StageCache
from runner_fakes import fake_pipeline

HOLD_LOCK = textwrap.dedent("""
    import sys, time
    from ltxmlx.runner.ownership import RunLock
    with RunLock(sys.argv[1]):
        print("locked", flush=True)
        time.sleep(60)
""")


@pytest.fixture(scope="module")
def smoke_cfg():
    return to_run_config(compose_config(["+job=smoke"]))


def runner(cfg, root: Path, batch_size=2, **kw) -> Runner:
    stages = fake_pipeline()
    rd = RunDir(root)
    return Runner(stages, build_plan(cfg, stages, batch_size), rd, StageCache(rd.default_cache), **kw)


def test_second_launch_into_a_live_run_dir_is_refused_naming_the_holder(smoke_cfg, tmp_path):
    root = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(root)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunDirLockedError, match=f"process {holder.pid} on host {HOST}"):
            runner(smoke_cfg, root).run()
        assert not list((root / "videos").glob("*.mp4")) and not (root / "manifest.jsonl").exists()
    finally:
        holder.kill()
        holder.wait()
    # The holder is gone (killed, lock file left behind): its lock is stale and taken over.
    result = runner(smoke_cfg, root).run()
    assert len(result.finished) == 4
    assert json.loads((root / "status.json").read_text())["state"] == "finished"


def test_lock_is_reentrant_within_one_process(tmp_path):
    with RunLock(tmp_path), RunLock(tmp_path):
        info = json.loads((tmp_path / ".lock").read_text())
        assert info["pid"] == os.getpid() and info["host"] == HOST


def test_default_run_dirs_differ_between_launches_in_the_same_second():
    cfg = compose_config(["+job=smoke"], with_hydra=True)
    assert cfg.hydra.run.dir.endswith("_" + LAUNCH_ID) and cfg.hydra.sweep.dir.endswith(f"_{LAUNCH_ID}_multirun")
    code = "from ltxmlx.config.jobs import LAUNCH_ID; print(LAUNCH_ID)"
    ids = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout for _ in range(2)}
    assert len(ids) == 2


def test_cleanup_spares_a_live_runs_temporary_in_a_shared_cache(tmp_path):
    cache = StageCache(tmp_path)
    (tmp_path / "stage1").mkdir()
    live = temp_path(cache.path("stage1", "ab"), ".safetensors")  # this process: alive
    live.write_bytes(b"being written")
    dead_pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout.strip()
    dead = live.with_name(f".cd.safetensors~{HOST}~{dead_pid}~0123abcd.tmp.safetensors")
    dead.write_bytes(b"torn")
    assert cache.clean_partials() == 1
    assert live.exists() and not dead.exists()


def test_stop_request_finishes_the_batch_then_interrupts_and_resumes(smoke_cfg, tmp_path):
    root = tmp_path / "run"
    calls = []

    def stop_after_first_video_batch() -> bool:
        calls.append(1)
        return (root / "manifest.jsonl").exists()

    with pytest.raises(RunInterrupted) as err:
        runner(smoke_cfg, root, should_stop=stop_after_first_video_batch).run()
    assert (err.value.finished, err.value.total) == (2, 4)
    assert len((root / "manifest.jsonl").read_text().splitlines()) == 2  # the batch in flight was saved
    status = json.loads((root / "status.json").read_text())
    assert status["state"] == "interrupted" and status["finished"] == 2 and status["pid"] == os.getpid()
    result = runner(smoke_cfg, root).run()
    assert result.finished_before == 2 and len(result.finished) == 4
    assert len((root / "manifest.jsonl").read_text().splitlines()) == 4


def test_failing_stage_marks_status_failed(smoke_cfg, tmp_path):
    r = runner(smoke_cfg, tmp_path)
    r.stages[1].run = lambda items, inputs: (_ for _ in ()).throw(RuntimeError("device lost"))
    with pytest.raises(RuntimeError):
        r.run()
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["state"] == "failed" and "device lost" in status["reason"]


def test_symlink_inside_run_dir_is_refused_and_target_untouched(smoke_cfg, tmp_path):
    outside = tmp_path / "precious.jsonl"
    outside.write_text("keep me\n")
    root = tmp_path / "run"
    root.mkdir()
    (root / "manifest.jsonl").symlink_to(outside)
    with pytest.raises(OutputDirError, match="symbolic link 'manifest.jsonl'"):
        runner(smoke_cfg, root).run()
    assert outside.read_text() == "keep me\n"


def test_corrupt_or_foreign_cache_file_is_recomputed_with_what_follows(smoke_cfg, tmp_path, caplog):
    root = tmp_path / "run"
    r = runner(smoke_cfg, root)
    r.run()
    p = r.plan.items[0]
    cache = StageCache(root / "cache")
    s1 = cache.path("stage1", p.keys["stage1"])
    good = np.array(mx.load(str(s1))["latent"])  # read now: mx.load is lazy
    # Same size, other bytes (bit rot), and stage2's file replaced by stage1's (a foreign file).
    raw = bytearray(s1.read_bytes())
    raw[-1] ^= 0xFF
    s1.write_bytes(bytes(raw))
    s2 = cache.path("stage2", p.keys["stage2"])
    s2.write_bytes(cache.path("stage1", r.plan.items[1].keys["stage1"]).read_bytes())
    (root / "manifest.jsonl").unlink()  # render the videos again
    again = runner(smoke_cfg, root)
    result = again.run()
    assert len(result.finished) == 4
    assert "unusable" in caplog.text
    assert np.array_equal(np.array(mx.load(str(s1))["latent"]), good)  # recomputed, intact again
    assert p.keys["stage2"] in again.computed_keys["stage2"]  # derived output recomputed too
    assert StageCache(root / "cache").has("stage2", p.keys["stage2"])


def test_truncated_cache_file_does_not_crash_rerun(smoke_cfg, tmp_path):
    root = tmp_path / "run"
    r = runner(smoke_cfg, root)
    r.run()
    for f in (root / "cache" / "stage2").glob("*.safetensors"):
        f.write_bytes(f.read_bytes()[:100])
    (root / "manifest.jsonl").unlink()
    t0 = time.time()
    assert len(runner(smoke_cfg, root).run().finished) == 4 and time.time() - t0 < 60


def test_cli_refuses_a_live_run_dir_before_hydra_touches_it(tmp_path):
    from ltxmlx.config.preflight import preflight

    root = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(root)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunDirLockedError, match=f"process {holder.pid}"):
            preflight(["+job=smoke", f"hydra.run.dir={root}"])
        assert not (root / ".hydra").exists()
    finally:
        holder.kill()
        holder.wait()
    assert preflight(["+job=smoke", f"hydra.run.dir={root}"]).configs  # stale lock: fine
