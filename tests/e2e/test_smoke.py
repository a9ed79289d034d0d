"""`python -m ltxmlx.run +job=smoke` end to end on the tiny model: videos, records, resume after
SIGKILL, replay and multirun."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ltxmlx.media.probe import decode_video, probe

REPO = Path(__file__).resolve().parents[2]
SMOKE_FRAMES, SMOKE_FPS = 17, 24.0


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = dict(os.environ, LTXMLX_CACHE_DIR=str(tmp_path_factory.mktemp("weights")), HF_HUB_OFFLINE="1")
    e.pop("LTXMLX_JOBS_DIR", None)
    return e


def cli(args, env, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, env):
    run = tmp_path_factory.mktemp("smoke") / "run"
    t0 = time.perf_counter()
    proc = cli(["ltxmlx.run", "+job=smoke", f"hydra.run.dir={run}"], env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run, time.perf_counter() - t0


def check_video(path: Path) -> None:
    info = probe(path)
    assert info.video_codec == "h264" and info.pix_fmt == "yuv420p" and info.audio_codec == "aac"
    assert abs(info.duration - SMOKE_FRAMES / SMOKE_FPS) < 0.05, info
    assert decode_video(path).shape[0] == SMOKE_FRAMES


def test_smoke_renders_videos_and_records(smoke_run):
    run, seconds = smoke_run
    assert seconds < 120, f"smoke took {seconds:.0f} s"
    videos = sorted((run / "videos").glob("*.mp4"))
    assert len(videos) == 4
    for v in videos:
        check_video(v)
    manifest = [json.loads(line) for line in (run / "manifest.jsonl").read_text().splitlines()]
    assert len(manifest) == 4 and {e["seed"] for e in manifest} == {10, 11}
    assert all((run / e["video"]).is_file() and e["timings_s"] and e["peak_memory_bytes"] > 0 for e in manifest)
    assert all(probe(run / e["video"]).metadata()["id"] == e["id"] for e in manifest)
    record = json.loads((run / "record.json").read_text())
    assert record["seeds"] == [10, 11] and record["weights"]["checkpoint"]["sha256"]
    assert (run / "contact_sheet.png").stat().st_size > 0 and (run / "plan.json").is_file()
    assert (run / ".hydra" / "config.yaml").is_file() and (run / "run.log").is_file()


def test_sigkill_after_stage1_resumes_and_matches(smoke_run, tmp_path, env):
    clean, _ = smoke_run
    run = tmp_path / "killed"
    cmd = [sys.executable, "-m", "ltxmlx.run", "+job=smoke", f"hydra.run.dir={run}"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stage1 = None
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if stage1 is None and (run / "plan.json").is_file():
            plan = json.loads((run / "plan.json").read_text())
            first_latent_stage = [s for s in plan["stages"] if s != "text"][0]
            stage1 = (first_latent_stage, {i["keys"][first_latent_stage] for i in plan["items"]})
        if stage1 and len(list((run / "cache" / stage1[0]).glob("*.safetensors"))) == len(stage1[1]):
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    assert proc.wait() == -signal.SIGKILL, "the run finished before stage 1 could be observed; nothing was killed"
    done_before = (run / "manifest.jsonl").read_text().splitlines() if (run / "manifest.jsonl").exists() else []
    stamps = {p: p.stat().st_mtime_ns for p in (run / "cache" / stage1[0]).glob("*.safetensors")}
    resumed = cli(["ltxmlx.run", "+job=smoke", f"hydra.run.dir={run}"], env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # stage 1 was not recomputed
    manifest = [json.loads(line) for line in (run / "manifest.jsonl").read_text().splitlines()]
    new = manifest[len(done_before):]
    assert new and all(stage1[0] in e["cached_stages"] for e in new)
    for e in manifest:
        assert np.array_equal(decode_video(run / e["video"]), decode_video(clean / e["video"]))


def test_replay_reports_identical_latents(smoke_run, tmp_path, env):
    run, _ = smoke_run
    proc = cli(["ltxmlx.replay", str(run), "--out", str(tmp_path / "replay")], env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "identical: every stage output, decoded frame and audio sample, and output setting" in proc.stdout


def test_multirun_writes_one_run_dir_per_job(tmp_path, env):
    sweep = tmp_path / "multi"
    proc = cli(["ltxmlx.run", "-m", "+job=smoke", "resolution=smoke,smoke_wide", "seeds=one",
                "prompts=[A lighthouse at night]", f"hydra.sweep.dir={sweep}"], env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = sorted(p for p in sweep.iterdir() if p.is_dir() and (p / "manifest.jsonl").is_file())
    assert len(runs) == 2
    widths = sorted(probe(next((r / "videos").glob("*.mp4"))).width for r in runs)
    assert widths == [128, 192]


def test_ctrl_c_stops_after_the_batch_with_one_line_and_resume_command(tmp_path, env):
    run = tmp_path / "interrupted"
    cmd = [sys.executable, "-m", "ltxmlx.run", "+job=smoke", "runner.batch_size=1", f"hydra.run.dir={run}"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None and not (run / "status.json").is_file():
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 130, err[-3000:]
    assert f"run directory: {run}" in err and "Traceback" not in err
    line = next(ln for ln in err.splitlines() if ln.startswith("interrupted:"))
    assert "items finished; resume with: python -m ltxmlx.run" in line
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "interrupted" and status["total"] == 4
    assert "interrupted" in (run / "run.log").read_text()
    resume = line.split("resume with: python -m ")[1].split()
    again = cli(resume, env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads((run / "status.json").read_text())["state"] == "finished"
    assert len(list((run / "videos").glob("*.mp4"))) == 4


def test_multirun_failing_job_is_recorded_and_the_others_still_run(tmp_path, env):
    sweep = tmp_path / "multi"
    # Job 0's directory already holds another experiment: that job fails at run time, job 1 renders.
    (sweep / "0").mkdir(parents=True)
    (sweep / "0" / "record.json").write_text(json.dumps({"config": {"resolution": {"fps": 1.0}}}))
    proc = cli(["ltxmlx.run", "-m", "+job=smoke", "resolution=smoke,smoke_wide", "seeds=one",
                "prompts=[A lighthouse at night]", f"hydra.sweep.dir={sweep}", "hydra.sweep.subdir=${hydra.job.num}"],
               env)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "multirun: 1 of 2 jobs failed:" in proc.stderr and "holds another experiment" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert json.loads((sweep / "0" / "status.json").read_text())["state"] == "failed"
    assert len(list((sweep / "1" / "videos").glob("*.mp4"))) == 1
    assert json.loads((sweep / "1" / "status.json").read_text())["state"] == "finished"
