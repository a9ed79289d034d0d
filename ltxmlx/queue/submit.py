"""`queue add`: the same pre-flight as `run`, then one queue entry per job of the command line.

Each entry gets its run directory now (what `run` would use; the points of a `-m` sweep go under the
sweep directory as `<n>_<overrides slug>`), resolved against the current directory so that a worker
started elsewhere writes to the same place.
"""

from __future__ import annotations

from pathlib import Path

from ltxmlx.config.compose import compose_config
from ltxmlx.config.naming import bounded_slug
from ltxmlx.config.preflight import preflight
from ltxmlx.errors import ConfigError
from ltxmlx.queue.store import QueueStore

DB_NAME = "queue.sqlite"


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def submit(argv: list[str], db: str | Path | None = None, priority: int = 0) -> tuple[list[int], Path]:
    """Validate `argv` (a `run` command line) and queue its job(s); returns (job ids, database)."""
    checked = preflight(argv)
    for cfg in checked.configs:
        if cfg.runner.dry_run:
            raise ConfigError("runner.dry_run", True, "false for a queued job (use `python -m ltxmlx.run` for a dry run)")
    entries = []
    sweep_dir = None
    for n, (job, cfg) in enumerate(zip(checked.jobs, checked.configs)):
        hydra = compose_config(job, with_hydra=True).hydra
        if checked.multirun:
            exclude = set(hydra.job.config.override_dirname.exclude_keys)
            swept = ",".join(sorted(o for o in job if _key(o) not in exclude))
            # One sweep directory for all points: each compose resolves `${now:...}` anew, and a
            # second may tick between two of them.
            sweep_dir = sweep_dir or Path(hydra.sweep.dir).expanduser().absolute()
            entries.append((job, cfg, sweep_dir / f"{n}_{bounded_slug(swept)}", str(sweep_dir)))
        else:
            entries.append((job, cfg, Path(hydra.run.dir).expanduser().absolute(), None))
    db_path = Path(db).expanduser().absolute() if db else \
        (Path(checked.configs[0].output_root).expanduser() / DB_NAME).absolute()
    store = QueueStore(db_path)
    try:
        ids = [store.add(job, cfg.job_name, str(run_dir), priority=priority, sweep_dir=sweep)
               for job, cfg, run_dir, sweep in entries]
    finally:
        store.close()
    return ids, db_path
