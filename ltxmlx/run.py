"""`python -m ltxmlx.run +job=NAME [group=option ...] [key=value ...] [-m]`: the batch renderer CLI.

Every job of the command line is composed and validated first (`ltxmlx.config.preflight`); problems
print one line and exit with code 2. Then Hydra runs each job: plan, record, render, summary.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from ltxmlx import backend

backend.configure()  # before MLX is imported

import hydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig
from rich.console import Console
from rich.table import Table

from ltxmlx.config.compose import register_all
from ltxmlx.config.jobs import CONF_DIR
from ltxmlx.config.preflight import PASSTHROUGH_FLAGS, preflight
from ltxmlx.config.validate import to_run_config, validate
from ltxmlx.errors import ConfigError, LtxmlxError
from ltxmlx.runner import memory
from ltxmlx.fleet import job_renderer
from ltxmlx.runner.job import JobOutcome
from ltxmlx.runner.progress import RichProgress, summary_table

log = logging.getLogger("ltxmlx.run")
EXIT_BAD_INPUT = 2

register_all()  # the schema, job files and resolvers must exist before Hydra composes


def _fail(e: LtxmlxError) -> None:
    log.info("stopped: %s", e)  # the console gets the message once, below; run.log keeps it too
    print(f"error: {e}", file=sys.stderr)
    sys.exit(EXIT_BAD_INPUT)


def _dry_run_report(console: Console, out: JobOutcome) -> None:
    plan, est = out.plan, out.estimate
    t = Table(title=f"plan: {len(plan.items)} items, stages {' -> '.join(plan.stages)}, batch size {plan.batch_size}")
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
    console.print(f"memory estimate (rough): weights {est.weights_bytes / memory.GIB:.1f} GiB + "
                  f"{est.per_item_bytes / memory.GIB:.2f} GiB per item in a batch; budget {est.budget_bytes / memory.GIB:.1f} GiB")
    console.print(f"time estimate: {out.time_estimate}")
    console.print(f"plan written to {out.run_dir.plan}; dry run, nothing rendered")


# An absolute path: Hydra resolves relative ones differently for `python -m` and imports.
@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def _task(cfg: DictConfig) -> None:
    hc = HydraConfig.get()
    try:
        if "job" in cfg:
            raise ConfigError("job", cfg.job, "+job=NAME naming a file in jobs/")
        rc = to_run_config(cfg)
        validate(rc)
        console = Console(stderr=True)
        choices = {k: v for k, v in hc.runtime.choices.items() if not k.startswith("hydra")}
        with RichProgress(console) as progress:
            out = job_renderer(rc)(rc, Path(hc.runtime.output_dir), overrides=list(hc.overrides.task),
                         choices=choices, progress=progress)
        if out.result is None:
            _dry_run_report(Console(), out)
            return
        r = out.result
        Console().print(summary_table([vars(s) for s in r.stats], len(r.finished), r.finished_before, str(out.run_dir.root)))
    except LtxmlxError as e:
        _fail(e)


def main() -> None:
    argv = sys.argv[1:]
    if not PASSTHROUGH_FLAGS.intersection(argv):
        try:
            preflight(argv)
        except LtxmlxError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(EXIT_BAD_INPUT)
    _task()


if __name__ == "__main__":
    main()
