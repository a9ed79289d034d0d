"""`fleet=ray`: the items of one job spread over resident Ray actors, one per machine.

The driver plans the job (writing `plan.json` and `record.json` as `run` does), splits the pending
items into the plan's batches and hands them out to whichever actor is free. Each actor holds one
`mlx` resource, so a machine started with `--resources='{"mlx": 1}'` runs one; it keeps its models
loaded across batches and jobs of this process. An actor that dies loses only its in-flight batch:
that batch goes back to the front of the line for another actor (the stage cache keeps what it had
finished). All workers write into one run directory, which therefore must be on a shared mount.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import os
from pathlib import Path

import ltxmlx
from ltxmlx.config.plan import expand_seeds
from ltxmlx.config.schema import RunConfig
from ltxmlx.errors import LtxmlxError, RunInterrupted
from ltxmlx.extras import require
from ltxmlx.fleet.worker import FleetError, FleetJob, FleetWorker
from ltxmlx.runner.job import WEIGHT_FIELDS, JobOutcome, render
from ltxmlx.runner.ownership import RunLock
from ltxmlx.runner.status import write_status
from ltxmlx.runner.manifest import Manifest
from ltxmlx.runner.outputs import write_json_atomic
from ltxmlx.runner.records import build_record
from ltxmlx.runner.runner import RunResult
from ltxmlx.weights import identity

log = logging.getLogger(__name__)

_actors: dict[tuple, list] = {}  # (address, workers) -> live actors, reused by later jobs of this process


def _ray():
    return require("ray", "ray", "fleet=ray")


def _connect(cfg: RunConfig) -> int:
    """Join (or start) Ray; the number of actors to run."""
    ray = _ray()
    address, workers = cfg.fleet.address, cfg.fleet.workers
    if not ray.is_initialized():
        if address == "local":
            # The workers import this very package, wherever it lives.
            path = os.pathsep.join(filter(None, [str(Path(ltxmlx.__file__).resolve().parents[1]),
                                                 os.environ.get("PYTHONPATH")]))
            ray.init(resources={"mlx": workers or 1}, include_dashboard=False, log_to_driver=False,
                     runtime_env={"env_vars": {"PYTHONPATH": path}})
        else:
            ray.init(address=address or "auto", log_to_driver=False)
    available = int(ray.cluster_resources().get("mlx", 0))
    if available < 1:
        raise FleetError("the Ray cluster has no `mlx` resource: start each machine with "
                         "ray start --address=HEAD:6379 --resources='{\"mlx\": 1}'")
    return min(workers or available, available)


def _spawn(cfg: RunConfig, n: int) -> list:
    ray = _ray()
    key = (cfg.fleet.address, n)
    live = _actors.get(key, [])
    actor_cls = ray.remote(num_cpus=0, resources={"mlx": 1}, max_restarts=0)(FleetWorker)
    while len(live) < n:
        live.append(actor_cls.remote())
    _actors[key] = live
    return live


def _write_record(cfg: RunConfig, out: JobOutcome, overrides: list[str], choices: dict) -> dict:
    hash_cache = Path(cfg.paths.cache).expanduser() / "weight_hashes.json"
    ids = {k: identity(p, hash_cache) for k, p in out.weights.items()}
    for k, spec in [(n, getattr(cfg.model, n)) for n in WEIGHT_FIELDS] + \
                   [(f"lora.{i}", lo.weights) for i, lo in enumerate(cfg.lora.stack)]:
        if k in ids:
            ids[k]["ref"] = spec
    record = build_record(cfg, overrides=overrides, choices=choices, weights=ids, seeds=expand_seeds(cfg),
                          item_ids=[p.item.id for p in out.plan.items], run_dir=out.run_dir.root)
    write_json_atomic(out.run_dir.record, record)
    return record


def render_on_ray(cfg: RunConfig, run_dir: Path, *, overrides: list[str], choices: dict, progress=None,
                  should_stop=None) -> JobOutcome:
    """Plan `cfg` here, render its items on the fleet's actors into `run_dir`; this process owns the
    run directory (its lock and status.json) for the whole job, the actors write their shares."""
    with RunLock(run_dir):
        return _render_on_ray(cfg, run_dir, overrides=overrides, choices=choices, should_stop=should_stop)


def _render_on_ray(cfg: RunConfig, run_dir: Path, *, overrides: list[str], choices: dict,
                   should_stop=None) -> JobOutcome:
    ray = _ray()
    out = render(dataclasses.replace(cfg, runner=dataclasses.replace(cfg.runner, dry_run=True)), run_dir,
                 overrides=overrides, choices=choices)  # plans and writes plan.json, renders nothing
    if cfg.runner.dry_run:
        return out
    record = _write_record(cfg, out, overrides, choices)
    manifest = Manifest(out.run_dir.manifest)
    expected = {p.item.id: p.keys for p in out.plan.items}
    done_before = manifest.finished(expected, out.run_dir.root)
    todo = collections.deque([b for b in out.plan.batches() if not set(b) <= set(done_before)])
    job = FleetJob(cfg, str(out.run_dir.root), out.plan.batch_size,
                   {"job": cfg.job_name, "model": cfg.model.name, "pipeline": cfg.pipeline.name,
                    "git": record["git"]["commit"], "tool": "ltxmlx"})
    actors = _spawn(cfg, _connect(cfg))
    idle, inflight, stopping = list(actors), {}, False
    log.info("fleet: %d batches over %d actors", len(todo), len(actors))
    while (todo and not stopping) or inflight:
        while idle and todo and not stopping:
            actor, batch = idle.pop(), todo.popleft()
            inflight[actor.render.remote(job, batch)] = (actor, batch)
        if not inflight:
            raise FleetError(f"every fleet worker died; {len(todo)} batches left (rerun to resume)")
        (ref,), _ = ray.wait(list(inflight), num_returns=1)
        actor, batch = inflight.pop(ref)
        try:
            ray.get(ref)
            idle.append(actor)
            stopping = stopping or bool(should_stop and should_stop())
        except (ray.exceptions.RayActorError, ray.exceptions.ActorUnschedulableError) as e:
            log.warning("fleet: a worker died (%s); its batch of %d items goes to another",
                        str(e).splitlines()[0], len(batch))
            actors.remove(actor)
            todo.appendleft(batch)
        except ray.exceptions.RayTaskError as e:
            cause = e.as_instanceof_cause()
            raise cause if isinstance(cause, LtxmlxError) else FleetError(str(e).splitlines()[-1]) from e
    finished = manifest.finished(expected, out.run_dir.root)
    if stopping and todo:
        write_status(out.run_dir.root, "interrupted", len(finished), len(expected))
        raise RunInterrupted(len(finished), len(expected))
    write_status(out.run_dir.root, "finished", len(finished), len(expected))
    entries = [finished[p.item.id] for p in out.plan.items if p.item.id in finished]
    out.result = RunResult([], entries, len(done_before))
    return out


def shutdown() -> None:
    """Drop the actors and disconnect (tests; a process that is done with the fleet)."""
    ray = _ray()
    _actors.clear()
    if ray.is_initialized():
        ray.shutdown()
