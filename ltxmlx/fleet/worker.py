"""One fleet worker: renders the items it is handed into the shared run directory, keeping its models.

A plain class (the Ray actor wraps it), so it also runs in-process. Each call gets a list of item ids
of one job; the worker plans the job once (the same plan as the driver's: same config, same weights),
runs that share through the ordinary `Runner` and returns the ids it finished. Its manifest lines
carry `"worker": "<host>:<pid>"`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from ltxmlx.config.jobs import jobs_dir
from ltxmlx.config.plan import Plan, build_plan
from ltxmlx.config.schema import RunConfig
from ltxmlx.errors import LtxmlxError
from ltxmlx.loader.resident import ResidentPool, resident
from ltxmlx.runner.job import load_pipeline, resolve_weights
from ltxmlx.runner.manifest import Manifest
from ltxmlx.runner.outputs import RunDir
from ltxmlx.runner.runner import Runner
from ltxmlx.runner.stage_cache import StageCache

log = logging.getLogger(__name__)


class FleetError(LtxmlxError):
    """The fleet cannot render the job (no workers, every worker lost, plans that disagree)."""


class WorkerManifest(Manifest):
    """The run's manifest, each appended line naming the worker that rendered it."""

    def __init__(self, path: str | Path, worker: str):
        super().__init__(path)
        self.worker = worker

    def append(self, entry: dict) -> None:
        super().append({**entry, "worker": self.worker})


@dataclass(frozen=True)
class FleetJob:
    """What every worker needs to render items of one job (sent once per call; small)."""

    cfg: RunConfig  # weight references as the user wrote them; each machine resolves its own copies
    run_dir: str
    batch_size: int
    metadata: dict  # job-level fields of each video's embedded metadata (job, model, pipeline, git)


class FleetWorker:
    def __init__(self):
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.pool = ResidentPool()
        self._job: tuple[str, list, Plan] | None = None  # (run dir, stages, plan) of the current job

    def worker_name(self) -> str:
        return self.name

    def _prepare(self, job: FleetJob) -> tuple[list, Plan]:
        if self._job is None or self._job[0] != job.run_dir:
            resolved, _ = resolve_weights(job.cfg, download=True)
            stages = load_pipeline(resolved)
            plan = build_plan(job.cfg, stages, job.batch_size, search_dirs=[jobs_dir()])
            self._job = (job.run_dir, stages, plan)
            self.pool.begin_job()
        return self._job[1], self._job[2]

    def render(self, job: FleetJob, ids: list[str]) -> list[str]:
        """Render the items `ids` of `job` (batched as the runner does); returns the ids finished."""
        with resident(self.pool):
            stages, plan = self._prepare(job)
            wanted = set(ids)
            share = dataclasses.replace(plan, items=[p for p in plan.items if p.item.id in wanted])
            if len(share.items) != len(wanted):
                raise FleetError(f"{self.name}: items {sorted(wanted - {p.item.id for p in share.items})} "
                                 f"are not in this worker's plan of {job.run_dir}; do all machines use the same weights?")
            rd = RunDir(Path(job.run_dir))
            cfg = job.cfg
            cache = StageCache(Path(cfg.runner.cache_dir).expanduser() if cfg.runner.cache_dir else rd.default_cache)

            def metadata(p) -> dict:
                return {"id": p.item.id, "prompt": p.item.prompt, "seed": p.item.seed, "keys": p.keys, **job.metadata}

            runner = Runner(stages, share, rd, cache, order=cfg.runner.order, crf=cfg.runner.crf,
                            still_frame_mp4=cfg.runner.still_frame_mp4, contact_sheet=False,
                            video_metadata=metadata, shared=True)
            runner.manifest = WorkerManifest(rd.manifest, self.name)
            log.info("%s: rendering %d items of %s", self.name, len(ids), job.run_dir)
            result = runner.run()
        return [e["id"] for e in result.finished]
