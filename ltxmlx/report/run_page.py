"""`report.html` of one run directory: a prompt x seed grid of video players with poster frames,
each cell with its seed, timings, peak memory and cached / missing status; filters by prompt and seed."""

from __future__ import annotations

import logging
from html import escape
from pathlib import Path

from ltxmlx.report.data import ReportItem, RunSummary, load_run
from ltxmlx.report.html import definition_list, gib, page, player, write_text_atomic

log = logging.getLogger(__name__)

REPORT_NAME = "report.html"

_FILTER_JS = """
const q=document.getElementById('prompt-filter'), s=document.getElementById('seed-filter');
function apply(){
  const text=q.value.toLowerCase(), seed=s.value;
  document.querySelectorAll('tr[data-prompt]').forEach(r=>{
    r.classList.toggle('hidden', !r.dataset.prompt.toLowerCase().includes(text));});
  document.querySelectorAll('[data-seed]').forEach(c=>{
    c.classList.toggle('hidden', seed!=='' && c.dataset.seed!==seed);});
}
q.addEventListener('input',apply); s.addEventListener('change',apply);
// report.html?prompt=fox&seed=11 opens filtered (links can be shared)
const params=new URLSearchParams(location.search);
if(params.has('prompt')) q.value=params.get('prompt');
if(params.has('seed')) s.value=params.get('seed');
apply();
"""


def _cell(it: ReportItem) -> str:
    if it.status == "missing":
        return f"<td data-seed='{it.seed}' class='item'><span class='missing'>not rendered</span><div class='meta'>id {it.id}</div></td>"
    timings = ", ".join(f"{k} {v:.2f}s" for k, v in it.timings_s.items()) or "all stages cached"
    status = "<span class='cached'>from cache</span>" if it.status == "cached" else "rendered"
    cached = f"; cached: {', '.join(it.cached_stages)}" if it.cached_stages else ""
    return (f"<td data-seed='{it.seed}' class='item'>"
            f"{player(it.video or '', it.poster)}"
            f"<div class='meta'>seed {it.seed} · id {it.id} · {status}{escape(cached)}<br>"
            f"{escape(timings)}<br>peak {gib(it.peak_memory_bytes)} · {escape(it.finished_at)}</div></td>")


def render_run_page(run: RunSummary) -> str:
    by_key = {(i.prompt, i.seed): i for i in run.items}
    head = "<tr><th>prompt</th>" + "".join(f"<th data-seed='{s}'>seed {s}</th>" for s in run.seeds) + "</tr>"
    rows = []
    for prompt in run.prompts:
        cells = "".join(_cell(by_key[(prompt, s)]) if (prompt, s) in by_key else f"<td data-seed='{s}'></td>"
                        for s in run.seeds)
        rows.append(f"<tr data-prompt='{escape(prompt, quote=True)}'><td class='prompt'>{escape(prompt)}</td>{cells}</tr>")
    seed_options = "".join(f"<option value='{s}'>{s}</option>" for s in run.seeds)
    total = sum(sum(i.timings_s.values()) for i in run.items)
    peak = max((i.peak_memory_bytes for i in run.items), default=0)
    body = (f"<h1>{escape(run.job_name)}: {run.n_done} of {len(run.items)} videos</h1>"
            f"<p class='meta'>{escape(str(run.root))}; overrides: {escape(' '.join(run.overrides) or 'none')}; "
            f"compute {total:.1f} s, peak {gib(peak)}</p>"
            + definition_list(run.settings)
            + "<div class='bar'><label>prompt <input id='prompt-filter' type='search' placeholder='filter'></label>"
            f"<label>seed <select id='seed-filter'><option value=''>all</option>{seed_options}</select></label></div>"
            f"<table id='grid'>{head}{''.join(rows)}</table>")
    return page(f"{run.job_name} report", body, _FILTER_JS)


def write_run_report(run_dir: str | Path) -> Path:
    """Write (or rewrite) `report.html` in `run_dir` and return its path."""
    run = load_run(run_dir)
    out = Path(run_dir) / REPORT_NAME
    write_text_atomic(out, render_run_page(run))
    log.info("report: %s (%d of %d videos)", out, run.n_done, len(run.items))
    return out
