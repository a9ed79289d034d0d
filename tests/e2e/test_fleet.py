"""`fleet=ray fleet.address=local fleet.workers=2`: the smoke job's items spread over two resident Ray
actors, videos identical to a one-machine run, and the job still finishes when one actor is killed."""

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

from ltxmlx.extras import available
from ltxmlx.media.probe import decode_video

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not available("ray"), reason="needs pip install 'ltxmlx[ray]'")
FLEET = ["fleet=ray", "fleet.address=local", "fleet.workers=2", "runner.batch_size=1"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = dict(os.environ, LTXMLX_CACHE_DIR=str(tmp_path_factory.mktemp("weights")), HF_HUB_OFFLINE="1")
    e.pop("LTXMLX_JOBS_DIR", None)
    return e


def run_cmd(run_dir: Path, extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "ltxmlx.run", "+job=smoke", f"hydra.run.dir={run_dir}", *extra]


def manifest(run_dir: Path) -> list[dict]:
    path = run_dir / "manifest.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


@pytest.fixture(scope="module")
def single(tmp_path_factory, env):
    run = tmp_path_factory.mktemp("single") / "run"
    proc = subprocess.run(run_cmd(run, []), cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run


def test_fleet_uses_both_workers_and_matches_one_machine(single, tmp_path, env):
    run = tmp_path / "fleet"
    proc = subprocess.run(run_cmd(run, FLEET), cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    entries = manifest(run)
    assert len(entries) == len({e["id"] for e in entries}) == 4
    assert len({e["worker"] for e in entries}) == 2
    by_id = {e["id"]: e for e in manifest(single)}
    for e in entries:
        assert np.array_equal(decode_video(run / e["video"]), decode_video(single / by_id[e["id"]]["video"]))
    assert (run / "record.json").is_file() and (run / "report.html").is_file()


def test_killed_actor_loses_only_its_batch(tmp_path, env):
    run = tmp_path / "killed"
    proc = subprocess.Popen(run_cmd(run, FLEET), cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    victim = None
    deadline = time.time() + 500
    while time.time() < deadline and proc.poll() is None and victim is None:
        first = manifest(run)[:1]
        if first:
            victim = int(first[0]["worker"].rsplit(":", 1)[1])
            os.kill(victim, signal.SIGKILL)
        time.sleep(0.02)
    _, err = proc.communicate(timeout=500)
    assert victim is not None, "the job finished before a worker could be killed"
    assert proc.returncode == 0, err[-3000:]
    entries = manifest(run)
    assert len(entries) == len({e["id"] for e in entries}) == 4
    assert "a worker died" in (run / "run.log").read_text()
    assert sum(e["worker"].endswith(f":{victim}") for e in entries) == 1
