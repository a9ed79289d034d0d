"""`python -m ltxmlx.run +job=NAME [group=option ...] [key=value ...] [-m]`: the batch renderer CLI.

Every job of the command line is composed and validated first (`ltxmlx.config.preflight`); problems
print one line and exit with code 2. Then Hydra runs each job: plan, record, render, summary.
In a multirun a failing job is recorded (one line, `status.json` failed, traceback in its run.log)
and the other jobs still run; the sweep then exits 1 with a summary of what failed.
Exit codes: 0 done, 1 some multirun job failed, 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from ltxmlx import backend

backend.configure()  # before MLX is imported

import hydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig
from rich.console import Console
from rich.table import Table

from ltxmlx.config.compose import register_all
from ltxmlx.config.jobs import CONF_DIR
from ltxmlx.config.preflight import PASSTHROUGH_FLAGS, preflight
from ltxmlx.config.validate import to_run_config, validate
from ltxmlx.errors import ConfigError, LtxmlxError, RunInterrupted
from ltxmlx.fleet import job_renderer
from ltxmlx.runner.interrupt import StopOnSignal
from ltxmlx.runner.job import JobOutcome
from ltxmlx.runner.progress import RichProgress, summary_table
from ltxmlx.runner.status import write_status

log = logging.getLogger("ltxmlx.run")
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
EXIT_JOB_FAILED = 1  # a multirun in which some job failed (the others ran)

register_all()  # the schema, job files and resolvers must exist before Hydra composes


def _fail(e: LtxmlxError) -> None:
    log.info("stopped: %s", e)  # the console gets the message once, below; run.log keeps it too
    print(f"error: {e}", file=sys.stderr)
    sys.exit(EXIT_BAD_INPUT)


def _interrupted(finished: int | None, total: int | None, overrides: list[str], run_dir: str) -> None:
    if finished is None:  # stopped at once: the runner recorded how far it got
        status = json.loads((Path(run_dir) / "status.json").read_text()) if (Path(run_dir) / "status.json").is_file() else {}
        finished, total = status.get("finished", 0), status.get("total", "?")
    done = f"{finished} of {total} items finished"
    resume = " ".join(["python -m ltxmlx.run", *overrides, f"hydra.run.dir={run_dir}"])
    log.info("interrupted: %s", done)
    print(f"interrupted: {done}; resume with: {resume}", file=sys.stderr)
    sys.exit(EXIT_INTERRUPTED)


def _dry_run_report(console: Console, out: JobOutcome) -> None:
    plan, est = out.plan, out.estimate
    stages = " -> ".join(plan.stages) or "unknown until the weights are present"
    t = Table(title=f"plan: {len(plan.items)} items, stages {stages}, batch size {plan.batch_size}")
    for col in ("id", "seed", "conditioning", "prompt", "video"):
        t.add_column(col)
    for p in plan.items:
        t.add_row(p.item.id, str(p.item.seed), p.conditioning, p.item.prompt[:60], p.video_name())
    console.print(t)
    batches = plan.batches()
    console.print(f"batches per stage: {len(batches)} ({', '.join(str(len(b)) for b in batches)} items)")
    console.print("already cached: " + (", ".join(f"{k} {v}/{len(plan.items)}" for k, v in out.cached.items()) or "nothing"))
    for name, path in out.weights.items():
        console.print(f"weights {name}: {path}")
    if out.weights_missing:
        console.print("weights: not all present; estimates come from the config and the model version, "
                      "stage keys and cache status need the files")
    for line in est.describe(plan.batch_size):
        console.print(line)
    console.print(f"time estimate: {out.time_estimate}")
    console.print(f"plan written to {out.run_dir.plan}; dry run, nothing rendered")


# An absolute path: Hydra resolves relative ones differently for `python -m` and imports.
@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def _task(cfg: DictConfig) -> None:
    hc = HydraConfig.get()
    run_dir = str(Path(hc.runtime.output_dir).absolute())
    multirun = hc.mode == RunMode.MULTIRUN
    _jobs.append(run_dir)
    try:
        _run_job(cfg, hc, run_dir)
    except LtxmlxError as e:
        if not multirun:
            _fail(e)
        _job_failed(hc, run_dir, str(e))
    except Exception as e:  # a multirun goes on with its other jobs; run.log keeps the traceback
        if not multirun:
            raise
        log.exception("job failed")
        _job_failed(hc, run_dir, f"{type(e).__name__}: {e}")


def _run_job(cfg: DictConfig, hc, run_dir: str) -> None:
    if "job" in cfg:
        raise ConfigError("job", cfg.job, "+job=NAME naming a file in jobs/")
    rc = to_run_config(cfg)
    validate(rc)
    console = Console(stderr=True)
    choices = {k: v for k, v in hc.runtime.choices.items() if not k.startswith("hydra")}
    overrides = [o for o in hc.overrides.task if not o.startswith("hydra.run.dir=")]
    print(f"run directory: {run_dir}", file=sys.stderr)
    try:
        with StopOnSignal() as stop, RichProgress(console) as progress:
            out = job_renderer(rc)(rc, Path(run_dir), overrides=list(hc.overrides.task),
                                   choices=choices, progress=progress, should_stop=stop)
    except RunInterrupted as e:
        _interrupted(e.finished, e.total, overrides, run_dir)
    except KeyboardInterrupt:
        _interrupted(None, None, overrides, run_dir)
    if out.result is None:
        _dry_run_report(Console(), out)
        return
    r = out.result
    Console().print(summary_table([vars(s) for s in r.stats], len(r.finished), r.finished_before, str(out.run_dir.root)))


_jobs: list[str] = []  # run directory of every job this process ran
_failures: list[str] = []  # one line per failed multirun job


def _job_failed(hc, run_dir: str, reason: str) -> None:
    reason = reason.splitlines()[0] if reason else "failed"
    line = f"job {hc.job.num} ({','.join(hc.overrides.task) or 'no overrides'}): {reason}"
    _failures.append(line)
    log.error("failed: %s", reason)
    print(f"error: {line}", file=sys.stderr)
    status = Path(run_dir) / "status.json"
    previous = json.loads(status.read_text()) if status.is_file() else {}
    if Path(run_dir).is_dir() and previous.get("state") != "failed":
        write_status(Path(run_dir), "failed", previous.get("finished", 0), previous.get("total", 0), reason)


def main() -> None:
    argv = sys.argv[1:]
    if not PASSTHROUGH_FLAGS.intersection(argv):
        try:
            preflight(argv)
        except LtxmlxError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(EXIT_BAD_INPUT)
    _task()
    if _failures:
        print(f"multirun: {len(_failures)} of {len(_jobs)} jobs failed:", file=sys.stderr)
        for line in _failures:
            print(f"  {line}", file=sys.stderr)
        sys.exit(EXIT_JOB_FAILED)


if __name__ == "__main__":
    main()
