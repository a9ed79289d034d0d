"""The queue's SQLite file: jobs, their status, leases and progress.

One table, WAL journal, every state change in one short `BEGIN IMMEDIATE` transaction, so several
workers (processes) can share the file. A worker owns a job while its lease is in the future and
renews it from a heartbeat thread; a worker killed with SIGKILL stops renewing, and once the lease
has expired the next `claim` takes the job up again (it resumes from its run directory).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ltxmlx.errors import LtxmlxError

STATUSES = ("queued", "running", "done", "failed", "cancelled")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    overrides TEXT NOT NULL,          -- JSON list: the job's Hydra overrides
    job_name TEXT NOT NULL,
    sweep_dir TEXT,                   -- set for the points of one `add -m` sweep
    priority INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'queued',
    run_dir TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,                  -- start of the current attempt
    finished_at REAL,
    worker TEXT,
    lease_until REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    items_done INTEGER NOT NULL DEFAULT 0,
    items_total INTEGER,
    fraction REAL NOT NULL DEFAULT 0, -- share of this attempt's batches done, for the ETA
    error TEXT
);
CREATE INDEX IF NOT EXISTS jobs_order ON jobs(status, priority DESC, id);
"""


class QueueError(LtxmlxError):
    """A queue operation that does not apply (unknown job, wrong status)."""


@dataclass(frozen=True)
class Job:
    id: int
    overrides: list[str]
    job_name: str
    sweep_dir: str | None
    priority: int
    status: str
    run_dir: str
    created_at: float
    started_at: float | None
    finished_at: float | None
    worker: str | None
    lease_until: float | None
    attempts: int
    items_done: int
    items_total: int | None
    fraction: float
    error: str | None

    def eta_seconds(self, now: float | None = None) -> float | None:
        """Remaining seconds of a running job, extrapolated from this attempt's batches."""
        if self.status != "running" or not self.started_at or self.fraction <= 0:
            return None
        elapsed = (now or time.time()) - self.started_at
        return max(0.0, elapsed * (1 - self.fraction) / self.fraction)

    def to_json(self) -> dict:
        d = dict(vars(self))
        d["eta_s"] = self.eta_seconds()
        return d


def _job(row: sqlite3.Row) -> Job:
    d = dict(row)
    d["overrides"] = json.loads(d["overrides"])
    return Job(**d)


class QueueStore:
    def __init__(self, path: str | Path, timeout_s: float = 30.0):
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(_SCHEMA)

    def close(self) -> None:
        self.conn.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; IMMEDIATE takes the write lock up front so a read-then-update is atomic."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # ---- reading -----------------------------------------------------------------------------
    def get(self, job_id: int) -> Job:
        row = self.conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise QueueError(f"no job {job_id} in {self.path}")
        return _job(row)

    def jobs(self) -> list[Job]:
        return [_job(r) for r in self.conn.execute("SELECT * FROM jobs ORDER BY id")]

    # ---- adding ------------------------------------------------------------------------------
    def add(self, overrides: list[str], job_name: str, run_dir: str, priority: int = 0,
            sweep_dir: str | None = None) -> int:
        """Queue one job; a run directory another job already uses gets the suffix `-q<id>`."""
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO jobs (overrides, job_name, sweep_dir, priority, run_dir, created_at) VALUES (?,?,?,?,?,?)",
                (json.dumps(overrides), job_name, sweep_dir, priority, run_dir, time.time()))
            job_id = cur.lastrowid
            taken = c.execute("SELECT 1 FROM jobs WHERE run_dir = ? AND id != ?", (run_dir, job_id)).fetchone()
            if taken or Path(run_dir).exists():
                c.execute("UPDATE jobs SET run_dir = ? WHERE id = ?", (f"{run_dir}-q{job_id}", job_id))
        return job_id

    # ---- workers -----------------------------------------------------------------------------
    def claim(self, worker: str, lease_s: float) -> Job | None:
        """The next job by priority then age, now owned by `worker`: a queued one, or a running one
        whose worker stopped renewing its lease."""
        now = time.time()
        with self._tx() as c:
            row = c.execute(
                "SELECT id FROM jobs WHERE status = 'queued' OR (status = 'running' AND lease_until < ?) "
                "ORDER BY priority DESC, id LIMIT 1", (now,)).fetchone()
            if row is None:
                return None
            c.execute("UPDATE jobs SET status = 'running', worker = ?, lease_until = ?, started_at = ?, "
                      "attempts = attempts + 1, fraction = 0, error = NULL WHERE id = ?",
                      (worker, now + lease_s, now, row["id"]))
        return self.get(row["id"])

    def renew(self, job_id: int, worker: str, lease_s: float) -> bool:
        """Extend the lease; False when the job is no longer this worker's to run."""
        with self._tx() as c:
            cur = c.execute("UPDATE jobs SET lease_until = ? WHERE id = ? AND worker = ? AND status = 'running'",
                            (time.time() + lease_s, job_id, worker))
        return cur.rowcount == 1

    def progress(self, job_id: int, worker: str, items_done: int, items_total: int | None, fraction: float) -> None:
        with self._tx() as c:
            c.execute("UPDATE jobs SET items_done = ?, items_total = COALESCE(?, items_total), fraction = ? "
                      "WHERE id = ? AND worker = ?", (items_done, items_total, fraction, job_id, worker))

    def release(self, job_id: int, worker: str, status: str, error: str | None = None) -> None:
        """The worker is done with the job: `done`, `failed` (with a reason) or back to `queued`.
        A job cancelled meanwhile stays cancelled."""
        if status not in ("done", "failed", "queued"):
            raise QueueError(f"cannot release a job as {status!r}")
        finished = time.time() if status != "queued" else None
        with self._tx() as c:
            c.execute("UPDATE jobs SET status = ?, error = ?, finished_at = ?, lease_until = NULL "
                      "WHERE id = ? AND worker = ? AND status = 'running'", (status, error, finished, job_id, worker))

    # ---- users -------------------------------------------------------------------------------
    def cancel(self, job_id: int) -> Job:
        """Queued jobs never start; a running one stops at its next batch boundary."""
        job = self.get(job_id)
        if job.status not in ("queued", "running"):
            raise QueueError(f"job {job_id} is {job.status}; only queued or running jobs can be cancelled")
        with self._tx() as c:
            c.execute("UPDATE jobs SET status = 'cancelled', finished_at = ? WHERE id = ? AND status IN ('queued','running')",
                      (time.time(), job_id))
        return self.get(job_id)

    def retry(self, job_id: int) -> Job:
        """A failed or cancelled job goes back into the queue (it resumes from its run directory)."""
        job = self.get(job_id)
        if job.status not in ("failed", "cancelled"):
            raise QueueError(f"job {job_id} is {job.status}; only failed or cancelled jobs can be retried")
        with self._tx() as c:
            c.execute("UPDATE jobs SET status = 'queued', error = NULL, finished_at = NULL, worker = NULL WHERE id = ?",
                      (job_id,))
        return self.get(job_id)
