"""`python -m ltxmlx.queue` end to end on the tiny model: add/list/run/cancel/retry, resident models
between jobs, a worker killed with SIGKILL, two workers on one queue."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ONE_PROMPT = "prompts=[A lighthouse at night]"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = dict(os.environ, LTXMLX_CACHE_DIR=str(tmp_path_factory.mktemp("weights")), HF_HUB_OFFLINE="1")
    e.pop("LTXMLX_JOBS_DIR", None)
    return e


def queue(args, env, db, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ltxmlx.queue", *args, "--db", str(db)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def jobs(db, env) -> dict[int, dict]:
    proc = queue(["list", "--json"], env, db)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {j["id"]: j for j in json.loads(proc.stdout)}


def manifest_ids(run_dir: str) -> list[str]:
    return [json.loads(line)["id"] for line in (Path(run_dir) / "manifest.jsonl").read_text().splitlines()]


def add(env, db, *overrides, priority=None) -> int:
    args = ["add", "+job=smoke", f"output_root={db.parent}", *overrides]
    if priority is not None:
        args += ["--priority", str(priority)]
    proc = queue(args, env, db)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return int(proc.stdout.split()[0])


def test_add_list_run_cancel_retry(tmp_path, env):
    db = tmp_path / "out" / "queue.sqlite"
    bad = queue(["add", "+job=smoke", "resolution.frames=16", f"output_root={db.parent}"], env, db)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "resolution.frames" in bad.stderr
    assert not db.exists() or not jobs(db, env)
    first = add(env, db, "seeds.values=[7]")
    urgent = add(env, db, "seeds.values=[8]", priority=3)
    dropped = add(env, db, "seeds.values=[9]")
    assert queue(["cancel", str(dropped)], env, db).stdout.strip() == f"job {dropped}: cancelled"
    listed = queue(["list"], env, db).stdout
    assert f"{dropped} cancelled" in " ".join(listed.split()) and "queued" in listed

    ran = queue(["run"], env, db)
    assert ran.returncode == 0, ran.stderr[-3000:]
    state = jobs(db, env)
    assert [state[i]["status"] for i in (first, urgent, dropped)] == ["done", "done", "cancelled"]
    assert state[urgent]["started_at"] < state[first]["started_at"]  # priority first
    for i in (first, urgent):
        assert state[i]["items_done"] == state[i]["items_total"] == 2
        assert sorted(manifest_ids(state[i]["run_dir"])) == sorted(set(manifest_ids(state[i]["run_dir"])))
        assert (Path(state[i]["run_dir"]) / "report.html").is_file()
    # The second job reused every model the first one built.
    second_log = (Path(state[first]["run_dir"]) / "run.log").read_text()
    assert "resident: reusing transformer" in second_log and "resident: reusing video_decoder" in second_log
    assert (db.parent / "index.html").is_file()

    assert queue(["retry", str(dropped)], env, db).stdout.strip() == f"job {dropped}: queued"
    assert queue(["retry", str(first)], env, db).returncode == 2  # done jobs are not retried
    assert queue(["run", "--max-jobs", "1"], env, db).returncode == 0
    assert jobs(db, env)[dropped]["status"] == "done"


def test_sigkill_worker_then_next_run_finishes_without_rendering_twice(tmp_path, env):
    db = tmp_path / "out" / "queue.sqlite"
    killed_job, other = add(env, db), add(env, db, "seeds.values=[5]")
    cmd = [sys.executable, "-m", "ltxmlx.queue", "run", "--lease", "2", "--db", str(db)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run_dir = Path(jobs(db, env)[killed_job]["run_dir"])
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if len(list((run_dir / "cache" / "stage1").glob("*.safetensors"))) >= 2:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    assert proc.wait() == -signal.SIGKILL, "the worker finished before it could be killed mid-job"
    assert jobs(db, env)[killed_job]["status"] == "running"  # still leased by the dead worker
    time.sleep(2.5)  # the lease expires
    again = queue(["run", "--lease", "2"], env, db)
    assert again.returncode == 0, again.stderr[-3000:]
    state = jobs(db, env)
    assert state[killed_job]["status"] == state[other]["status"] == "done"
    assert state[killed_job]["attempts"] == 2
    ids = manifest_ids(str(run_dir))
    assert len(ids) == len(set(ids)) == 4


def test_two_workers_drain_one_queue_without_running_a_job_twice(tmp_path, env):
    db = tmp_path / "out" / "queue.sqlite"
    ids = [add(env, db, f"seeds.values=[{s}]", ONE_PROMPT) for s in (1, 2, 3)]
    cmd = [sys.executable, "-m", "ltxmlx.queue", "run", "--db", str(db)]
    workers = [subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    for w in workers:
        _, err = w.communicate(timeout=400)
        assert w.returncode == 0, err[-3000:]
    state = jobs(db, env)
    assert all(state[i]["status"] == "done" and state[i]["attempts"] == 1 for i in ids)
    for i in ids:
        assert manifest_ids(state[i]["run_dir"]) == manifest_ids(state[i]["run_dir"])[:1]  # one item, once
