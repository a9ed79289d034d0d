"""`python -m ltxmlx.replay RUN_DIR [--out DIR]`: render a run again from its `record.json` into a
new run directory (fresh stage cache) and report whether every stage's latents match bit for bit.

The recorded resolved config is used, not the conf/ files, so later edits to the groups do not
change the replay. Exit code 0: identical latents; 1: differences (listed); 2: bad input.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from datetime import datetime
from pathlib import Path

from ltxmlx import backend

backend.configure()  # before MLX is imported

import mlx.core as mx  # noqa: E402
from omegaconf import OmegaConf
from rich.console import Console

from ltxmlx.config.schema import RunConfig
from ltxmlx.config.validate import validate
from ltxmlx.errors import LtxmlxError
from ltxmlx.runner.job import load_pipeline, render
from ltxmlx.runner.progress import RichProgress
from ltxmlx.runner.records import git_state
from ltxmlx.runner.stage_cache import StageCache

log = logging.getLogger("ltxmlx.replay")


class ReplayError(LtxmlxError):
    """The run directory has no usable record."""


def load_record(run_dir: Path) -> dict:
    path = run_dir / "record.json"
    if not path.is_file():
        raise ReplayError(f"{run_dir} has no record.json (is it a finished or started ltxmlx run directory?)")
    return json.loads(path.read_text(encoding="utf-8"))


def config_from_record(record: dict) -> RunConfig:
    cfg = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(RunConfig), record["config"]))
    # A fresh cache, so every stage is recomputed rather than read back from the original run.
    return dataclasses.replace(cfg, runner=dataclasses.replace(cfg.runner, cache_dir=None, dry_run=False))


def compare_latents(old: StageCache, new: StageCache, plan_items, stages: list[str]) -> list[str]:
    """Descriptions of every cached stage output that differs (empty: all identical)."""
    diffs = []
    for p in plan_items:
        for stage in stages:
            key = p.keys[stage]
            if not old.has(stage, key):
                diffs.append(f"{p.item.id} {stage}: not in the original run's cache (key changed?)")
                continue
            a, b = old.load(stage, key), new.load(stage, key)
            for name in sorted(set(a) | set(b)):
                if name not in a or name not in b or a[name].shape != b[name].shape:
                    diffs.append(f"{p.item.id} {stage}/{name}: missing or shape differs")
                elif not mx.array_equal(a[name], b[name]).item():
                    err = mx.max(mx.abs(a[name].astype(mx.float32) - b[name].astype(mx.float32))).item()
                    diffs.append(f"{p.item.id} {stage}/{name}: max abs difference {err:.3g}")
    return diffs


def replay(run_dir: Path, out_dir: Path | None, console: Console, make_stages=load_pipeline) -> list[str]:
    record = load_record(run_dir)
    cfg = config_from_record(record)
    validate(cfg)
    if record.get("git", {}).get("commit") != git_state()["commit"]:
        console.print(f"note: recorded at commit {record.get('git', {}).get('commit')}, replaying at {git_state()['commit']}")
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    out_dir = out_dir or Path(cfg.output_root) / cfg.job_name / f"{stamp}_replay"
    out_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(filename=out_dir / "run.log", level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with RichProgress(console) as progress:
        out = render(cfg, out_dir, overrides=record.get("overrides", []), choices=record.get("choices", {}),
                     progress=progress, make_stages=make_stages)
    old_ids = record.get("item_ids", [])
    new_ids = [p.item.id for p in out.plan.items]
    if old_ids != new_ids:
        return [f"item ids differ: recorded {old_ids}, replayed {new_ids}"]
    orig_cache = Path(record["config"]["runner"].get("cache_dir") or run_dir / "cache")
    return compare_latents(StageCache(orig_cache), StageCache(out.run_dir.default_cache), out.plan.items,
                           out.plan.stages[:-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ltxmlx.replay", description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--out", type=Path, default=None, help="new run directory (default: next to the original)")
    args = ap.parse_args(argv)
    console = Console(stderr=True)
    try:
        diffs = replay(args.run_dir, args.out, console)
    except LtxmlxError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if diffs:
        print(f"latents differ ({len(diffs)}):")
        for d in diffs:
            print(f"  {d}")
        return 1
    print("identical latents: every stage output of every item matches the original run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
