"""`python -m ltxmlx.queue add|list|run|cancel|retry`: the durable render queue.

  add [--priority N] [-m] +job=NAME [overrides ...]   validate like `run`, queue, print the job id(s)
  list [--json]                                       id, status, items, ETA, run directory
  run [--until HH:MM] [--max-jobs N]                  drain the queue (priority, then oldest first)
  cancel ID | retry ID

The database defaults to `<output_root>/queue.sqlite` (`--db PATH` to choose). Bad input prints one
line and exits with code 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import datetime
from pathlib import Path

from ltxmlx import backend

backend.configure()  # before MLX is imported

from ltxmlx.errors import LtxmlxError  # noqa: E402
from ltxmlx.queue.page import format_eta, write_queue_index  # noqa: E402
from ltxmlx.report.index_page import write_sweep_index  # noqa: E402
from ltxmlx.queue.store import QueueError, QueueStore  # noqa: E402

EXIT_BAD_INPUT = 2
from ltxmlx.queue.submit import DB_NAME  # noqa: E402


def _default_db(overrides: list[str] = ()) -> Path:
    from ltxmlx.config.compose import compose_config

    return (Path(compose_config(list(overrides)).output_root).expanduser() / DB_NAME).absolute()


def cmd_add(args) -> int:
    from ltxmlx.queue.submit import submit

    argv = (["-m"] if args.multirun else []) + args.overrides
    db = args.db or None
    ids, db = submit(argv, db, priority=args.priority)
    for i in ids:
        print(i)
    logging.getLogger(__name__).info("queued %s in %s", ids, db)
    return 0


def cmd_list(args) -> int:
    store = QueueStore(args.db or _default_db())
    jobs = store.jobs()
    if args.json:
        print(json.dumps([j.to_json() for j in jobs], indent=2))
        return 0
    print(f"{'id':>4} {'status':<9} {'pri':>3} {'items':>7} {'ETA':>8}  run directory / error")
    for j in jobs:
        items = f"{j.items_done}/{j.items_total if j.items_total is not None else '?'}"
        print(f"{j.id:>4} {j.status:<9} {j.priority:>3} {items:>7} {format_eta(j.eta_seconds()):>8}  {j.run_dir}"
              + (f"  ({j.error})" if j.error else ""))
    return 0


def cmd_run(args) -> int:
    from ltxmlx.loader.resident import ResidentPool
    from ltxmlx.queue.worker import Worker, in_window, next_time

    db = args.db or _default_db()
    if args.after and not args.until:
        raise LtxmlxError("--after needs --until (the end of the window)")
    if args.after and not in_window(args.after, args.until, datetime.now()):
        print(f"queue: outside the window {args.after}-{args.until}; nothing started")
        return 0
    until = next_time(args.until, datetime.now()) if args.until else None
    pool = ResidentPool(max_bytes=int(args.resident_gb * 2**30)) if args.resident_gb is not None else None
    worker = Worker(db, until=until, max_jobs=args.max_jobs, lease_s=args.lease, pool=pool)
    result = worker.drain()
    jobs = worker.store.jobs()
    for sweep in sorted({j.sweep_dir for j in jobs if j.sweep_dir and j.id in result.finished}):
        write_sweep_index(Path(sweep))
    page = write_queue_index(Path(db), jobs)
    parts = [f"{len(result.finished)} done", f"{len(result.failed)} failed"]
    if result.interrupted is not None:
        parts.append(f"job {result.interrupted} stopped at the deadline and stays queued")
    elif result.reached_until:
        parts.append("deadline reached")
    print(f"queue: {', '.join(parts)}; {page}")
    return 0


def cmd_cancel(args) -> int:
    job = QueueStore(args.db or _default_db()).cancel(args.id)
    print(f"job {job.id}: {job.status}")
    return 0


def cmd_retry(args) -> int:
    job = QueueStore(args.db or _default_db()).retry(args.id)
    print(f"job {job.id}: {job.status}")
    return 0


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m ltxmlx.queue", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="validate and queue a job (or each job of a -m sweep)")
    add.add_argument("--priority", type=int, default=0, help="higher runs first (default 0)")
    add.add_argument("-m", "--multirun", action="store_true", help="queue every job of the sweep")
    add.add_argument("overrides", nargs="+", help="Hydra overrides, as for `python -m ltxmlx.run`")
    add.set_defaults(fn=cmd_add)
    ls = sub.add_parser("list", help="show the jobs")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(fn=cmd_list)
    run = sub.add_parser("run", help="drain the queue in this process")
    run.add_argument("--until", help="local time HH:MM: stop at the next batch boundary after it")
    run.add_argument("--after", help="local time HH:MM: do nothing unless now is between --after and --until "
                     "(a scheduler's late catch-up start)")
    run.add_argument("--max-jobs", type=int, default=None)
    run.add_argument("--lease", type=float, default=60.0,
                     help="seconds a job stays owned without a heartbeat (a killed worker's job waits this long)")
    run.add_argument("--resident-gb", type=float, default=None,
                     help="memory the models kept between jobs may use (default half of this machine's)")
    run.set_defaults(fn=cmd_run)
    for name, fn in (("cancel", cmd_cancel), ("retry", cmd_retry)):
        p = sub.add_parser(name)
        p.add_argument("id", type=int)
        p.set_defaults(fn=fn)
    for p in sub.choices.values():
        p.add_argument("--db", type=Path, default=None, help=f"queue database (default <output_root>/{DB_NAME})")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s][%(name)s][%(levelname)s] %(message)s",
                        stream=sys.stderr)
    try:
        return args.fn(args)
    except (LtxmlxError, QueueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
