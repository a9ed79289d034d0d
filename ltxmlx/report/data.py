"""What a report shows, read from a run directory's own files only (plan, record, manifest, thumbs)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path

from ltxmlx.runner.manifest import Manifest, output_exists, output_file


@dataclass
class ReportItem:
    id: str
    prompt: str
    seed: int
    status: str  # "rendered", "cached" (every stage read back from the cache) or "missing"
    video: str | None = None  # the output (mp4, or an audio-only item's wav), relative to the run directory
    poster: str | None = None  # data: URI of the thumbnail
    timings_s: dict[str, float] = field(default_factory=dict)
    cached_stages: list[str] = field(default_factory=list)
    peak_memory_bytes: int = 0
    finished_at: str = ""


@dataclass
class RunSummary:
    root: Path
    job_name: str
    settings: dict[str, str]  # the group choices and the main knobs, for the header and sweep tables
    overrides: list[str]
    items: list[ReportItem]
    prompts: list[str]
    seeds: list[int]

    @property
    def n_done(self) -> int:
        return sum(i.status != "missing" for i in self.items)


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def data_uri(path: Path) -> str | None:
    if not path.is_file():
        return None
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def settings_of(record: dict) -> dict[str, str]:
    cfg = record.get("config", {})
    out = {k: str(v) for k, v in sorted(record.get("choices", {}).items()) if k != "job"}
    res = cfg.get("resolution", {})
    if res:
        out["size"] = f"{res.get('width')}x{res.get('height')}, {res.get('frames')} frames @ {res.get('fps')} fps"
    sched = cfg.get("scheduler", {})
    if sched:
        out["steps"] = str(sched.get("steps"))
    runner = cfg.get("runner", {})
    if runner:
        out["batch_size"] = str(runner.get("batch_size"))
    return out


def load_run(root: str | Path) -> RunSummary:
    """The report data of one run directory (which needs at least `plan.json` or `manifest.jsonl`)."""
    root = Path(root)
    plan, record = _read_json(root / "plan.json"), _read_json(root / "record.json")
    entries = {e["id"]: e for e in Manifest(root / "manifest.jsonl").entries() if "id" in e}
    planned = plan.get("items") or [{"id": k, "prompt": e.get("prompt", ""), "seed": e.get("seed", 0)}
                                    for k, e in entries.items()]
    stages = plan.get("stages", [])
    items = []
    for p in planned:
        e = entries.get(p["id"])
        if e is None or not output_exists(root, e):
            items.append(ReportItem(p["id"], p["prompt"], int(p["seed"]), "missing"))
            continue
        cached = list(e.get("cached_stages", []))
        all_cached = bool(stages) and set(stages[:-1]) <= set(cached)
        items.append(ReportItem(
            p["id"], e.get("prompt", p["prompt"]), int(e.get("seed", p["seed"])), "cached" if all_cached else "rendered",
            video=output_file(e), poster=data_uri(root / e["thumbnail"]) if "thumbnail" in e else None,
            timings_s=e.get("timings_s", {}),
            cached_stages=cached, peak_memory_bytes=int(e.get("peak_memory_bytes", 0)),
            finished_at=e.get("finished_at", "")))
    prompts = list(dict.fromkeys(i.prompt for i in items))
    seeds = list(dict.fromkeys(i.seed for i in items))
    job_name = record.get("config", {}).get("job_name") or plan.get("job_name") or root.name
    return RunSummary(root, job_name, settings_of(record), list(record.get("overrides", [])), items, prompts, seeds)


def is_run_dir(path: Path) -> bool:
    return (path / "plan.json").is_file() or (path / "manifest.jsonl").is_file()
