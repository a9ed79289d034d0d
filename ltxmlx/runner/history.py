"""Time estimates for dry runs from earlier runs of the same model, pipeline and size.

Looks at `<output_root>/*/*/record.json` + `manifest.jsonl` and takes the median seconds per item
over items that ran every stage. Without such history the estimate says so instead of guessing.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from ltxmlx.config.schema import RunConfig


def _same_setup(record: dict, cfg: RunConfig) -> bool:
    c = record.get("config", {})
    return (c.get("model", {}).get("name") == cfg.model.name
            and c.get("pipeline", {}).get("name") == cfg.pipeline.name
            and c.get("resolution") == {"height": cfg.resolution.height, "width": cfg.resolution.width,
                                        "frames": cfg.resolution.frames, "fps": cfg.resolution.fps}
            and c.get("scheduler", {}).get("steps") == cfg.scheduler.steps)


def seconds_per_item(cfg: RunConfig, output_root: Path, limit: int = 50) -> tuple[float, int] | None:
    """(median seconds per item, number of samples) or None without comparable history."""
    samples: list[float] = []
    records = sorted(Path(output_root).glob("*/*/record.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for rec_path in records[:limit]:
        try:
            record = json.loads(rec_path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        manifest = rec_path.parent / "manifest.jsonl"
        if not _same_setup(record, cfg) or not manifest.is_file():
            continue
        for line in manifest.read_text().splitlines():
            try:
                e = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not e.get("cached_stages"):
                samples.append(sum(e.get("timings_s", {}).values()))
    return (statistics.median(samples), len(samples)) if samples else None


def describe(cfg: RunConfig, output_root: Path, n_items: int) -> str:
    hist = seconds_per_item(cfg, output_root)
    if hist is None:
        return "unknown (no earlier run of this model, pipeline, size and step count on this machine)"
    per, n = hist
    total = per * n_items
    return f"~{total / 60:.1f} min for {n_items} items ({per:.1f} s/item, median of {n} earlier items)"
