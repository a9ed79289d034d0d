"""One run directory holds one experiment.

A rerun into a directory that already has a `record.json` may only *extend* it: its resolved config
must equal the recorded one except for the item lists (prompts, prompt file, seeds) and settings that
do not change any output (batch size, order, memory budget, cache location, paths). Anything else
(sizes, sampler, guidance, weights, CRF, ...) would mix two experiments in one directory, so the
rerun is refused with the keys that differ. An accepted rerun is appended to the record's
`history`: every invocation keeps its own config, overrides, seeds and item ids, so every item in the
directory stays described and replayable.
"""

from __future__ import annotations

import json
from pathlib import Path

from ltxmlx.errors import LtxmlxError

# Keys (dotted prefixes) an extension may change: which items, or how they are computed, never what.
EXTENDABLE = ("prompts", "prompt_file", "seeds")
EXECUTION = ("runner.batch_size", "runner.order", "runner.memory_budget_gb", "runner.dry_run",
             "runner.cache_dir", "runner.contact_sheet", "paths", "output_root", "job_name")
INVOCATION_KEYS = ("created_at", "command", "overrides", "choices", "config", "seeds", "item_ids", "git")


class ExperimentMismatchError(LtxmlxError):
    """A rerun into a run directory whose record describes another experiment."""


def read_record(path: Path) -> dict:
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ExperimentMismatchError(f"{path} is unreadable ({e}); render into a new directory") from e
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        raise ExperimentMismatchError(f"{path} is not an ltxmlx record; render into a new directory")
    return record


def flatten(d, prefix: str = "") -> dict:
    if not isinstance(d, dict):
        return {prefix: d}
    out = {}
    for k, v in d.items():
        out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def _free(key: str) -> bool:
    return any(key == p or key.startswith(p + ".") for p in EXTENDABLE + EXECUTION)


def differing_keys(old_config: dict, new_config: dict) -> dict[str, tuple]:
    """{dotted key: (recorded, new)} of every setting that would change what the directory holds."""
    a, b = flatten(old_config), flatten(new_config)
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b))
            if not _free(k) and a.get(k) != b.get(k)}


def check_same_experiment(old: dict, new: dict, run_dir: str) -> None:
    diffs = differing_keys(old.get("config", {}), new["config"])
    if diffs:
        shown = "; ".join(f"{k}: {v[0]!r} -> {v[1]!r}" for k, v in list(diffs.items())[:6])
        more = f" (and {len(diffs) - 6} more)" if len(diffs) > 6 else ""
        raise ExperimentMismatchError(
            f"run directory {run_dir!r} holds another experiment ({len(diffs)} settings differ: {shown}{more}); "
            f"render into a new directory (with runner.cache_dir={run_dir}/cache it reuses every unchanged stage)")


def invocation(record: dict) -> dict:
    return {k: record[k] for k in INVOCATION_KEYS if k in record}


def extend_record(old: dict, new: dict) -> dict:
    """`new` with the history of `old` before it, and item ids and seeds covering every invocation."""
    history = old.get("history") or [invocation(old)]
    merged = dict(new)
    merged["created_at"] = old.get("created_at", new["created_at"])
    merged["history"] = [*history, invocation(new)]
    merged["item_ids"] = list(dict.fromkeys(i for h in merged["history"] for i in h.get("item_ids", [])))
    merged["seeds"] = list(dict.fromkeys(s for h in merged["history"] for s in h.get("seeds", [])))
    return merged
