"""The queue's `index.html` (next to its database): every job's status and progress, and the videos
of the jobs that have any, side by side along the overrides that differ between them."""

from __future__ import annotations

import os
from html import escape
from pathlib import Path

from ltxmlx.queue.store import Job
from ltxmlx.report.data import is_run_dir, load_run
from ltxmlx.report.html import write_text_atomic
from ltxmlx.report.index_page import INDEX_NAME, render_index
from ltxmlx.report.run_page import REPORT_NAME


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}"


def _status_table(jobs: list[Job], base: Path) -> str:
    rows = []
    for j in jobs:
        link = Path(os.path.relpath(j.run_dir, base)).as_posix()
        report = f"<a href='{escape(link, quote=True)}/{REPORT_NAME}'>{escape(link)}</a>" \
            if (Path(j.run_dir) / REPORT_NAME).is_file() else escape(link)
        rows.append(f"<tr><td>{j.id}</td><td>{j.status}</td><td>{j.priority}</td>"
                    f"<td>{j.items_done}/{j.items_total if j.items_total is not None else '?'}</td>"
                    f"<td>{format_eta(j.eta_seconds())}</td><td>{escape(' '.join(j.overrides))}</td>"
                    f"<td>{report}</td><td>{escape(j.error or '')}</td></tr>")
    return ("<table id='jobs'><tr><th>id</th><th>status</th><th>priority</th><th>items</th><th>ETA</th>"
            "<th>overrides</th><th>run directory</th><th>error</th></tr>" + "".join(rows) + "</table><h2>videos</h2>")


def write_queue_index(db: Path, jobs: list[Job]) -> Path:
    base = Path(db).parent
    runs = [load_run(j.run_dir) for j in jobs if is_run_dir(Path(j.run_dir))]
    out = base / INDEX_NAME
    write_text_atomic(out, render_index(f"queue {Path(db).name}: {len(jobs)} jobs", base, runs,
                                        rows_before=_status_table(jobs, base)))
    return out
