"""`index.html` over several runs (a multirun sweep directory, or the jobs of a queue): one column per
run labelled by the overrides that differ between the runs (the swept axes), one row per prompt and
seed, so the same item under each setting plays side by side."""

from __future__ import annotations

import logging
import os
from html import escape
from pathlib import Path

from ltxmlx.report.data import RunSummary, is_run_dir, load_run
from ltxmlx.report.html import page, player, write_text_atomic
from ltxmlx.report.run_page import REPORT_NAME, write_run_report

log = logging.getLogger(__name__)

INDEX_NAME = "index.html"


def swept_axes(runs: list[RunSummary]) -> list[dict[str, str]]:
    """Per run, the `key=value` overrides whose value is not the same in every run."""
    parsed = [dict(o.split("=", 1) if "=" in o else (o, "") for o in r.overrides) for r in runs]
    keys = sorted({k for p in parsed for k in p})
    varying = [k for k in keys if len({p.get(k) for p in parsed}) > 1]
    return [{k: p.get(k, "(default)") for k in varying} for p in parsed]


def _label(axes: dict[str, str], fallback: str) -> str:
    return ", ".join(f"{k.lstrip('+')}={v}" for k, v in axes.items()) or fallback


def render_index(title: str, base: Path, runs: list[RunSummary], rows_before: str = "") -> str:
    axes = swept_axes(runs)
    links = [Path(os.path.relpath(r.root, base)).as_posix() for r in runs]
    head = "<tr><th>prompt</th><th>seed</th>" + "".join(
        f"<th><a href='{escape(link, quote=True)}/{REPORT_NAME}'>{escape(_label(a, r.root.name))}</a>"
        f"<div class='meta'>{r.n_done}/{len(r.items)} videos</div></th>"
        for r, a, link in zip(runs, axes, links)) + "</tr>"
    keys = list(dict.fromkeys((i.prompt, i.seed) for r in runs for i in r.items))
    rows = []
    for prompt, seed in keys:
        cells = []
        for r, link in zip(runs, links):
            it = next((i for i in r.items if i.prompt == prompt and i.seed == seed), None)
            if it is None or it.video is None:
                cells.append("<td class='missing'>" + ("not rendered" if it else "") + "</td>")
            else:
                cells.append(f"<td class='item'>{player(f'{link}/{it.video}', it.poster)}</td>")
        rows.append(f"<tr data-prompt='{escape(prompt, quote=True)}'><td class='prompt'>{escape(prompt)}</td>"
                    f"<td>{seed}</td>{''.join(cells)}</tr>")
    body = (f"<h1>{escape(title)}</h1>{rows_before}"
            f"<table id='compare'>{head}{''.join(rows)}</table>")
    return page(title, body)


def write_sweep_index(sweep_dir: str | Path) -> Path:
    """`index.html` of a multirun directory; every sub-run's `report.html` is rewritten too."""
    sweep_dir = Path(sweep_dir)
    run_dirs = sorted((d for d in sweep_dir.iterdir() if d.is_dir() and is_run_dir(d)), key=_job_number)
    for d in run_dirs:
        write_run_report(d)
    out = sweep_dir / INDEX_NAME
    write_text_atomic(out, render_index(f"sweep {sweep_dir.name}: {len(run_dirs)} jobs", sweep_dir,
                                        [load_run(d) for d in run_dirs]))
    log.info("sweep index: %s (%d jobs)", out, len(run_dirs))
    return out


def _job_number(d: Path) -> tuple:
    head = d.name.split("_", 1)[0]
    return (int(head), d.name) if head.isdigit() else (1 << 30, d.name)
