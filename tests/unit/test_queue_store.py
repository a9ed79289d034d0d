"""The queue database: order, leases, status changes, and the worker loop with a fake renderer."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import datetime, timedelta

import pytest

from ltxmlx.errors import LtxmlxError, RunInterrupted
from ltxmlx.queue.store import QueueError, QueueStore
from ltxmlx.queue.worker import Worker, next_time


@pytest.fixture
def store(tmp_path):
    s = QueueStore(tmp_path / "q.sqlite")
    yield s
    s.close()


def add(store, tmp_path, name, priority=0):
    return store.add([f"+job={name}"], name, str(tmp_path / "runs" / name), priority=priority)


def test_wal_and_priority_then_fifo(store, tmp_path):
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    a, b, c = add(store, tmp_path, "a"), add(store, tmp_path, "b", priority=5), add(store, tmp_path, "c")
    order = [store.claim("w", 60).id for _ in range(3)]
    assert order == [b, a, c] and store.claim("w", 60) is None


def test_same_run_dir_gets_a_suffix(store, tmp_path):
    first = store.add(["+job=x"], "x", str(tmp_path / "same"))
    second = store.add(["+job=x"], "x", str(tmp_path / "same"))
    assert store.get(first).run_dir == str(tmp_path / "same")
    assert store.get(second).run_dir == f"{tmp_path / 'same'}-q{second}"


def test_two_connections_never_claim_one_job(store, tmp_path):
    other = QueueStore(store.path)
    ids = [add(store, tmp_path, f"j{i}") for i in range(6)]
    claimed = []
    for _ in range(3):
        claimed += [store.claim("w1", 60).id, other.claim("w2", 60).id]
    assert sorted(claimed) == ids
    other.close()


def test_expired_lease_is_taken_over_and_old_worker_loses_it(store, tmp_path):
    job = add(store, tmp_path, "a")
    assert store.claim("dead", 0.05).id == job
    assert store.claim("w2", 60) is None  # lease still valid
    time.sleep(0.1)
    again = store.claim("w2", 60)
    assert again.id == job and again.attempts == 2 and again.worker == "w2"
    assert not store.renew(job, "dead", 60) and store.renew(job, "w2", 60)
    store.release(job, "dead", "done")  # the old worker's late release changes nothing
    assert store.get(job).status == "running"


def test_cancel_and_retry(store, tmp_path):
    job = add(store, tmp_path, "a")
    assert store.cancel(job).status == "cancelled"
    assert store.claim("w", 60) is None
    with pytest.raises(QueueError, match="only failed or cancelled"):
        store.retry(add(store, tmp_path, "b"))
    assert store.retry(job).status == "queued"
    running = store.claim("w", 60)
    store.release(running.id, "w", "failed", "ShapeError: bad")
    assert store.get(job).error == "ShapeError: bad"
    with pytest.raises(QueueError, match="only queued or running"):
        store.cancel(job)
    assert store.retry(job).status == "queued" and store.get(job).error is None


def test_cancel_of_running_job_survives_its_release(store, tmp_path):
    job = add(store, tmp_path, "a")
    store.claim("w", 60)
    store.cancel(job)
    assert not store.renew(job, "w", 60)  # the worker's heartbeat learns it must stop
    store.release(job, "w", "done")
    assert store.get(job).status == "cancelled"


def test_next_time_is_the_next_occurrence():
    now = datetime(2026, 1, 1, 23, 0)
    assert next_time("07:00", now) == datetime(2026, 1, 2, 7, 0)
    assert next_time("23:30", now) == datetime(2026, 1, 1, 23, 30)
    with pytest.raises(LtxmlxError, match="HH:MM"):
        next_time("7pm", now)


def test_worker_marks_failures_and_goes_on(store, tmp_path):
    ids = [add(store, tmp_path, n) for n in ("ok1", "bad", "ok2")]
    rendered = []

    def render(job, should_stop):
        if job.job_name == "bad":
            raise LtxmlxError("weights vanished\nsecond line")
        rendered.append(job.id)

    result = Worker(store.path, render_job=render, lease_s=5).drain()
    assert rendered == [ids[0], ids[2]] and result.failed == [ids[1]]
    assert store.get(ids[1]).status == "failed" and store.get(ids[1]).error == "LtxmlxError: weights vanished"
    assert [store.get(i).status for i in (ids[0], ids[2])] == ["done", "done"]


def test_worker_stops_at_deadline_and_leaves_job_queued(store, tmp_path):
    ids = [add(store, tmp_path, n) for n in ("first", "second")]
    now = [datetime(2026, 1, 1, 6, 59)]

    def render(job, should_stop):
        now[0] += timedelta(minutes=2)  # a batch finishes after the deadline
        if should_stop():
            raise RunInterrupted(2, 4)

    worker = Worker(store.path, until=datetime(2026, 1, 1, 7, 0), clock=lambda: now[0], render_job=render, lease_s=5)
    result = worker.drain()
    assert result.interrupted == ids[0] and result.reached_until and not result.finished
    first = store.get(ids[0])
    assert first.status == "queued" and first.items_done == 2 and first.items_total == 4
    assert store.get(ids[1]).status == "queued" and store.get(ids[1]).attempts == 0


def test_max_jobs(store, tmp_path):
    for n in ("a", "b", "c"):
        add(store, tmp_path, n)
    result = Worker(store.path, max_jobs=2, render_job=lambda job, stop: None, lease_s=5).drain()
    assert len(result.finished) == 2 and [j.status for j in store.jobs()] == ["done", "done", "queued"]


def test_overrides_round_trip_as_json(store, tmp_path):
    job = store.add(["+job=smoke", "prompts=['a, b']"], "smoke", str(tmp_path / "r"))
    raw = sqlite3.connect(store.path).execute("SELECT overrides FROM jobs WHERE id=?", (job,)).fetchone()[0]
    assert json.loads(raw) == store.get(job).overrides == ["+job=smoke", "prompts=['a, b']"]


def test_eta_extrapolates_the_attempt(store, tmp_path):
    job = add(store, tmp_path, "a")
    store.claim("w", 60)
    store.progress(job, "w", 1, 4, 0.25)
    j = store.get(job)
    assert j.eta_seconds(now=j.started_at + 30) == pytest.approx(90)
    assert store.get(add(store, tmp_path, "b")).eta_seconds() is None  # not running


def test_submit_queues_each_sweep_point_under_the_sweep_dir(tmp_path, monkeypatch):
    from ltxmlx.config.preflight import BadOverrideError
    from ltxmlx.queue.submit import submit

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ids, db = submit(["-m", "+job=smoke", "resolution=smoke,smoke_wide", f"output_root={tmp_path}"], priority=2)
    assert db == tmp_path / "queue.sqlite" and len(ids) == 2
    s = QueueStore(db)
    jobs = [s.get(i) for i in ids]
    assert jobs[0].sweep_dir == jobs[1].sweep_dir and all(j.priority == 2 for j in jobs)
    names = [j.run_dir.removeprefix(jobs[0].sweep_dir + "/") for j in jobs]
    assert names[0].startswith("0_resolution-smoke-") and names[1].startswith("1_resolution-smoke-wide-")
    with pytest.raises(BadOverrideError):
        submit(["+job=smoke", "resolution=smoke,smoke_wide", f"output_root={tmp_path}"])  # a sweep without -m
    assert len(s.jobs()) == 2
