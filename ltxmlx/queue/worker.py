"""Drain the queue: claim a job, render it into its run directory, release it, take the next.

Jobs run in this process through the same `render` entry as `python -m ltxmlx.run`, inside one
`resident()` context, so consecutive jobs that use the same weights reuse the built models. A
heartbeat thread renews the lease; the runner asks `should_stop` after every saved batch, which is
where progress is recorded and where a cancel, a lost lease or the `--until` deadline stops the job
(it stays resumable: its run directory holds the finished items and the stage cache).
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable

from ltxmlx.errors import LtxmlxError, RunInterrupted
from ltxmlx.loader.resident import ResidentPool, resident
from ltxmlx.queue.store import Job, QueueStore
from ltxmlx.runner.manifest import Manifest

log = logging.getLogger(__name__)


def next_time(hhmm: str, now: datetime) -> datetime:
    """The first local time `HH:MM` (or `HH:MM:SS`) after `now`: `--until 07:00` at 23:00 means tomorrow."""
    try:
        parts = [int(x) for x in hhmm.split(":")]
        if len(parts) not in (2, 3):
            raise ValueError(hhmm)
        target = now.replace(hour=parts[0], minute=parts[1], second=parts[2] if len(parts) == 3 else 0, microsecond=0)
    except ValueError as e:
        raise LtxmlxError(f"--until {hhmm!r}: expected a local time HH:MM (e.g. 07:00)") from e
    return target if target > now else target + timedelta(days=1)


def in_window(after: str, until: str, now: datetime) -> bool:
    """Whether `now` lies in the daily window [after, until) (which may span midnight)."""
    return next_time(until, now) <= next_time(after, now)


def one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


def run_progress(run_dir: Path) -> tuple[int, int | None, int]:
    """(items finished, items planned, batches a full run computes) from a run directory's files."""
    plan_path = run_dir / "plan.json"
    if not plan_path.is_file():
        return 0, None, 0
    plan = json.loads(plan_path.read_text(encoding="utf-8"))
    expected = {i["id"]: i["keys"] for i in plan["items"]}
    done = len(Manifest(run_dir / "manifest.jsonl").finished(expected, run_dir))
    batches = len(plan["stages"]) * math.ceil(len(expected) / max(1, plan["batch_size"]))
    return done, len(expected), batches


def default_render(job: Job, should_stop: Callable[[], bool]) -> None:
    """Compose the job's config as `run` would and render it into the job's run directory."""
    from ltxmlx.config.compose import compose_config
    from ltxmlx.config.validate import to_run_config, validate
    from ltxmlx.fleet import job_renderer
    from ltxmlx.report.run_page import write_run_report

    composed = compose_config(job.overrides, with_hydra=True)
    cfg = to_run_config(composed)
    validate(cfg)
    choices = {k: v for k, v in composed.hydra.runtime.choices.items() if not k.startswith("hydra")}
    run_dir = Path(job.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(run_dir / "run.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        job_renderer(cfg)(cfg, run_dir, overrides=list(job.overrides), choices=choices, should_stop=should_stop)
    finally:
        root.removeHandler(handler)
        handler.close()
        if (run_dir / "manifest.jsonl").is_file():
            write_run_report(run_dir)


@dataclass
class DrainResult:
    finished: list[int] = field(default_factory=list)  # jobs this worker ran to completion
    failed: list[int] = field(default_factory=list)
    interrupted: int | None = None  # the job left resumable at the deadline
    reached_until: bool = False


class Worker:
    def __init__(self, db: str | Path, *, until: datetime | None = None, max_jobs: int | None = None,
                 lease_s: float = 60.0, name: str | None = None,
                 render_job: Callable[[Job, Callable[[], bool]], None] = default_render,
                 clock: Callable[[], datetime] = datetime.now, pool: ResidentPool | None = None):
        self.db = Path(db)
        self.store = QueueStore(self.db)
        self.until, self.max_jobs, self.lease_s = until, max_jobs, lease_s
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.render_job, self.clock = render_job, clock
        self.pool = pool or ResidentPool()

    def deadline_passed(self) -> bool:
        return self.until is not None and self.clock() >= self.until

    def drain(self) -> DrainResult:
        result = DrainResult()
        with resident(self.pool):
            try:
                while not (self.max_jobs is not None and len(result.finished) + len(result.failed) >= self.max_jobs):
                    if self.deadline_passed():
                        result.reached_until = True
                        break
                    job = self.store.claim(self.name, self.lease_s)
                    if job is None:
                        break
                    if not self._run(job, result):
                        break
            finally:
                self.pool.clear()
        return result

    # ---- one job ------------------------------------------------------------------------------
    def _run(self, job: Job, result: DrainResult) -> bool:
        """Render `job`; False when the worker should stop draining (deadline)."""
        log.info("job %d (%s) -> %s, attempt %d", job.id, job.job_name, job.run_dir, job.attempts)
        self.pool.begin_job()
        lost = threading.Event()
        stop_beat = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(job.id, lost, stop_beat), daemon=True)
        beat.start()
        batches = 0

        def should_stop() -> bool:
            nonlocal batches
            batches += 1
            done, total, planned = run_progress(Path(job.run_dir))
            self.store.progress(job.id, self.name, done, total, min(0.99, batches / planned) if planned else 0.0)
            return lost.is_set() or self.deadline_passed()

        try:
            self.render_job(job, should_stop)
        except RunInterrupted as e:
            if lost.is_set():
                log.info("job %d: stopped (cancelled or taken over) with %d/%d items", job.id, e.finished, e.total)
                return True
            log.info("job %d: deadline reached with %d/%d items; it stays queued and resumes next time",
                     job.id, e.finished, e.total)
            self.store.progress(job.id, self.name, e.finished, e.total, 0.0)
            self.store.release(job.id, self.name, "queued")
            result.interrupted, result.reached_until = job.id, True
            return False
        except Exception as e:  # noqa: BLE001 - a failing job is recorded and the queue goes on
            log.exception("job %d failed", job.id)
            self.store.release(job.id, self.name, "failed", one_line(e))
            result.failed.append(job.id)
            return True
        finally:
            stop_beat.set()
            beat.join()
        done, total, _ = run_progress(Path(job.run_dir))
        self.store.progress(job.id, self.name, done, total, 1.0)
        self.store.release(job.id, self.name, "done")
        result.finished.append(job.id)
        return True

    def _heartbeat(self, job_id: int, lost: threading.Event, stop: threading.Event) -> None:
        store = QueueStore(self.db)  # sqlite connections belong to one thread
        try:
            while not stop.wait(self.lease_s / 3):
                if not store.renew(job_id, self.name, self.lease_s):
                    lost.set()
                    return
        finally:
            store.close()
