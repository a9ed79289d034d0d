"""`python -m ltxmlx.replay RUN_DIR [--out DIR]`: render a run again from its `record.json` into a
new run directory (fresh stage cache) and compare everything it renders: every stage's cached output
bit for bit, every video's decoded frames and audio, and its output settings (codecs, size, frame
rate, sample rate, duration, embedded metadata, the manifest's item description).

Each recorded invocation (`history` of an extended directory) is replayed with its own resolved
config, not the conf/ files, so later edits to the groups do not change the replay.
Exit code 0: identical; 1: differences (each named); 2: cannot replay (one line).
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
import numpy as np
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException
from rich.console import Console

from ltxmlx.config.schema import RunConfig
from ltxmlx.config.validate import validate
from ltxmlx.errors import LtxmlxError
from ltxmlx.media.probe import decode_audio, decode_video, probe
from ltxmlx.runner.job import load_pipeline, render
from ltxmlx.runner.manifest import Manifest, output_file
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
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ReplayError(f"{path} is not readable JSON ({e})") from e
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        raise ReplayError(f"{path} has no recorded config")
    return record


def config_from_record(record: dict) -> RunConfig:
    try:
        cfg = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(RunConfig), record["config"]))
    except OmegaConfBaseException as e:
        raise ReplayError(f"the recorded config does not fit this version's schema: {str(e).splitlines()[0]}") from e
    # A fresh cache, so every stage is recomputed rather than read back from the original run.
    return dataclasses.replace(cfg, runner=dataclasses.replace(cfg.runner, cache_dir=None, dry_run=False))


def _tensor_diffs(label: str, a: dict, b: dict) -> list[str]:
    diffs = []
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b or a[name].shape != b[name].shape or a[name].dtype != b[name].dtype:
            diffs.append(f"{label}/{name}: missing, or shape or dtype differs")
        elif not mx.array_equal(a[name], b[name]).item():
            err = mx.max(mx.abs(a[name].astype(mx.float32) - b[name].astype(mx.float32))).item()
            diffs.append(f"{label}/{name}: max abs difference {err:.3g}")
    return diffs


def compare_latents(old: StageCache, new: StageCache, plan_items, stages: list[str]) -> list[str]:
    """Descriptions of every cached stage output that differs (empty: all identical)."""
    diffs = []
    for p in plan_items:
        for stage in stages:
            key = p.keys[stage]
            if not old.has(stage, key):
                diffs.append(f"{p.item.id} {stage}: not in the original run's cache (key changed, or file unusable)")
                continue
            diffs += _tensor_diffs(f"{p.item.id} {stage}", old.load(stage, key), new.load(stage, key))
    return diffs


# Manifest fields that describe an item's output (timings, memory and dates are allowed to differ).
OUTPUT_FIELDS = ("prompt", "negative_prompt", "seed", "conditioning", "video", "audio", "keys", "frames", "fps",
                 "audio_sample_rate", "duration_s")
VOLATILE_TAGS = ("git",)  # embedded metadata that names the code version, not the output


def compare_videos(old_root: Path, new_root: Path, item_ids: list[str]) -> list[str]:
    """Differences between the two runs' videos of `item_ids`: manifest description, container
    settings, embedded metadata, decoded frames and decoded audio."""
    old_m = {e["id"]: e for e in Manifest(old_root / "manifest.jsonl").entries()}
    new_m = {e["id"]: e for e in Manifest(new_root / "manifest.jsonl").entries()}
    diffs = []
    for iid in item_ids:
        if iid not in old_m or iid not in new_m:
            diffs.append(f"{iid}: finished in {'the replay only' if iid in new_m else 'the original only'}")
            continue
        a, b = old_m[iid], new_m[iid]
        diffs += [f"{iid} manifest {k}: {a.get(k)!r} vs {b.get(k)!r}" for k in OUTPUT_FIELDS if a.get(k) != b.get(k)]
        va, vb = old_root / output_file(a), new_root / output_file(b)  # an mp4, or an audio-only item's wav
        if not va.is_file():
            diffs.append(f"{iid}: original output {output_file(a)} is missing")
            continue
        ia, ib = probe(va), probe(vb)
        diffs += [f"{iid} video {f.name}: {getattr(ia, f.name)!r} vs {getattr(ib, f.name)!r}"
                  for f in dataclasses.fields(ia) if f.name != "comment" and getattr(ia, f.name) != getattr(ib, f.name)]
        ta, tb = ({k: v for k, v in i.metadata().items() if k not in VOLATILE_TAGS} for i in (ia, ib))
        diffs += [f"{iid} video metadata {k}: {ta.get(k)!r} vs {tb.get(k)!r}"
                  for k in sorted(set(ta) | set(tb)) if ta.get(k) != tb.get(k)]
        decoders = (("frames", decode_video), ("audio", decode_audio)) if "video" in a else (("audio", decode_audio),)
        for what, decode in decoders:
            xa, xb = decode(va), decode(vb)
            if xa.shape != xb.shape:
                diffs.append(f"{iid} decoded {what}: shape {xa.shape} vs {xb.shape}")
            elif not np.array_equal(xa, xb):
                err = np.max(np.abs(xa.astype(np.float64) - xb.astype(np.float64)))
                diffs.append(f"{iid} decoded {what}: max abs difference {err:.3g}")
    return diffs


def replay(run_dir: Path, out_dir: Path | None, console: Console, make_stages=load_pipeline) -> list[str]:
    record = load_record(run_dir)
    invocations = record.get("history") or [record]
    configs = [config_from_record(inv) for inv in invocations]
    for cfg in configs:
        validate(cfg)
    if record.get("git", {}).get("commit") != git_state()["commit"]:
        console.print(f"note: recorded at commit {record.get('git', {}).get('commit')}, replaying at {git_state()['commit']}")
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    out_dir = out_dir or Path(configs[-1].output_root) / configs[-1].job_name / f"{stamp}_replay"
    out_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(filename=out_dir / "run.log", level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    diffs = []
    orig_cache = Path(record["config"]["runner"].get("cache_dir") or run_dir / "cache")
    for inv, cfg in zip(invocations, configs):
        with RichProgress(console) as progress:
            out = render(cfg, out_dir, overrides=inv.get("overrides", []), choices=inv.get("choices", {}),
                         progress=progress, make_stages=make_stages)
        old_ids, new_ids = inv.get("item_ids", []), [p.item.id for p in out.plan.items]
        if old_ids != new_ids:
            return [f"item ids differ: recorded {old_ids}, replayed {new_ids}"]
        diffs += compare_latents(StageCache(orig_cache), StageCache(out.run_dir.default_cache), out.plan.items,
                                 out.plan.stages[:-1])
        diffs += compare_videos(run_dir, out.run_dir.root, new_ids)
    return list(dict.fromkeys(diffs))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ltxmlx.replay", description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--out", type=Path, default=None, help="new run directory (default: next to the original)")
    args = ap.parse_args(argv)
    console = Console(stderr=True)
    try:
        diffs = replay(args.run_dir, args.out, console)
    except (LtxmlxError, OSError) as e:
        print(f"error: cannot replay: {e}", file=sys.stderr)
        return 2
    if diffs:
        print(f"replay differs ({len(diffs)}):")
        for d in diffs:
            print(f"  {d}")
        return 1
    print("identical: every stage output, decoded frame and audio sample, and output setting matches the original run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
