"""One render job end to end: weights -> pipeline -> plan.json -> (dry run | record + run).

Order matters: the plan is written before anything heavy, weights are resolved (and downloaded)
before any model is built, and `record.json` is written before the first stage runs.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ltxmlx.config.jobs import jobs_dir
from ltxmlx.config.plan import Plan, build_plan, expand_seeds
from ltxmlx.config.schema import WEIGHT_FIELDS, RunConfig
from ltxmlx.errors import ConfigError
from ltxmlx.runner import history, memory
from ltxmlx.runner.experiment import check_same_experiment, extend_record, read_record
from ltxmlx.runner.outputs import RunDir, write_json_atomic
from ltxmlx.runner.ownership import RunLock
from ltxmlx.runner.records import build_record
from ltxmlx.runner.runner import Runner, RunResult
from ltxmlx.runner.stage_cache import StageCache
from ltxmlx.weights import MissingWeightsError, identity, resolve

log = logging.getLogger(__name__)



@dataclass
class JobOutcome:
    plan: Plan
    run_dir: RunDir
    weights: dict[str, Path]  # weight field -> local path
    estimate: memory.MemoryEstimate
    cached: dict[str, int]  # stage -> items whose output is already cached
    time_estimate: str = ""
    result: RunResult | None = None  # None for a dry run
    weights_missing: bool = False  # a dry run planned without the weight files


def resolve_weights(cfg: RunConfig, download: bool) -> tuple[RunConfig, dict[str, Path]]:
    """A copy of `cfg` whose weight references are local paths, and those paths by field.

    Dry runs do not download (`download=False`); without the files they plan without stage keys
    (these include the weights' content hash, and the pipeline reads the checkpoint's config).
    """
    found: dict[str, Path] = {}
    for name in WEIGHT_FIELDS:
        spec = getattr(cfg.model, name)
        if spec:
            found[name] = resolve(spec, cfg.paths.cache, offline=cfg.paths.hf_offline, download=download)
    loras = []
    for i, lora in enumerate(cfg.lora.stack):
        found[f"lora.{i}"] = resolve(lora.weights, cfg.paths.cache, offline=cfg.paths.hf_offline, download=download)
        loras.append(dataclasses.replace(lora, weights=str(found[f"lora.{i}"])))
    model = dataclasses.replace(cfg.model, **{k: str(v) for k, v in found.items() if k in WEIGHT_FIELDS})
    return dataclasses.replace(cfg, model=model, lora=dataclasses.replace(cfg.lora, stack=loras)), found


def load_pipeline(cfg: RunConfig) -> list:
    """The pipeline's stages for a weight-resolved `cfg` (reads checkpoint headers, loads no model)."""
    # Imported here: the pipelines pull in every model module, which dry runs of other tools skip.
    from ltxmlx.config.pipeline_config import to_pipeline_config
    from ltxmlx.pipelines.factory import make_pipeline

    return list(make_pipeline(to_pipeline_config(cfg)))


def auto_frames(cfg: RunConfig, resolved: RunConfig, stages: list, cache: StageCache) -> dict[str, int]:
    """Each prompt's clip length from the duration head (`resolution.frames: auto`)."""
    from ltxmlx.config.plan import load_prompts, stage_keys
    from ltxmlx.pipelines.models import mx_dtype
    from ltxmlx.runner.duration import predict_frames

    text = stages[0]
    return predict_frames(load_prompts(cfg, [jobs_dir()]), cfg.negative_prompt, text, cache,
                          lambda item: stage_keys([text], item)[text.name], resolved.model.duration_head,
                          cfg.resolution.fps, mx_dtype(cfg.model.dtype))


def quantized_files(stages: list) -> dict[str, str]:
    """{stage name: quantized-weights cache file} of the stages that build quantized models; a stage
    building several ({component: file}) gets one entry per component, "<stage>.<component>"."""
    out = {}
    for stage in stages:
        found = stage.quantized_file() if hasattr(stage, "quantized_file") else None
        if isinstance(found, dict):
            out.update({f"{stage.name}.{component}": str(path) for component, path in found.items()})
        elif found is not None:
            out[stage.name] = str(found)
    return out


def render(cfg: RunConfig, run_dir: Path, *, overrides: list[str], choices: dict,
           progress=None, make_stages: Callable[[RunConfig], list] = load_pipeline,
           should_stop: Callable[[], bool] | None = None) -> JobOutcome:
    """Plan and (unless `cfg.runner.dry_run`) render `cfg` into `run_dir`, holding its lock throughout
    (RunDirLockedError when another live process holds it)."""
    rd = RunDir(run_dir)
    rd.prepare()
    with RunLock(rd.root):
        return _render(cfg, rd, overrides=overrides, choices=choices, progress=progress,
                       make_stages=make_stages, should_stop=should_stop)


def _render(cfg: RunConfig, rd: RunDir, *, overrides, choices, progress, make_stages, should_stop) -> JobOutcome:
    dry = cfg.runner.dry_run
    previous = read_record(rd.record) if rd.record.is_file() else None
    if previous is not None:  # a rerun: the same experiment (maybe more items) or refused
        check_same_experiment(previous, {"config": dataclasses.asdict(cfg)}, str(rd.root))
    try:
        resolved, weights = resolve_weights(cfg, download=not dry)
        stages = make_stages(resolved)
    except MissingWeightsError as e:
        if not dry:
            raise
        # A dry run plans without the weights: items, batches and a memory estimate from the config;
        # stage keys (and so the cache status) need the files.
        log.warning("dry run without the weights (%s): stage keys and cache status unknown, "
                    "memory estimated from the model version", e)
        weights, stages = {}, []
    est = memory.estimate(cfg, weights, [s.name for s in stages] or None)
    n_seeds = len(expand_seeds(cfg))
    batch = cfg.runner.batch_size
    if batch == "auto":
        batch = est.batch_size(cap=max(1, n_seeds * 4))
        log.info("batch_size auto -> %d (budget %.1f GiB)", batch, est.budget_bytes / memory.GIB)
    cache = StageCache(Path(cfg.runner.cache_dir).expanduser() if cfg.runner.cache_dir else rd.default_cache)
    frames = None
    if cfg.resolution.frames == "auto":
        if dry:
            raise ConfigError("resolution.frames", "auto", "a frame count for a dry run (the duration head "
                              "needs the text encoder to run; dry runs load no model)")
        frames = auto_frames(cfg, resolved, stages, cache)
    plan = build_plan(cfg, stages, batch, search_dirs=[jobs_dir()], frames=frames)
    write_json_atomic(rd.plan, plan.to_json())
    cached = {s.name: sum(cache.has(s.name, p.keys[s.name]) for p in plan.items) for s in stages[:-1]}
    outcome = JobOutcome(plan, rd, weights, est, cached, weights_missing=not stages)
    if dry:
        outcome.time_estimate = history.describe(cfg, Path(cfg.output_root), len(plan.items))
        return outcome
    hash_cache = Path(cfg.paths.cache).expanduser() / "weight_hashes.json"
    ids = {k: identity(p, hash_cache) for k, p in weights.items()}
    for k, spec in [(n, getattr(cfg.model, n)) for n in WEIGHT_FIELDS] + \
                   [(f"lora.{i}", lo.weights) for i, lo in enumerate(cfg.lora.stack)]:
        if k in ids:
            ids[k]["ref"] = spec
    quantized = quantized_files(stages)
    if quantized:  # the quantized-weights cache files the stages load (or write on their first build)
        ids["quantized"] = {"mode": cfg.model.quantization, "files": quantized}
    record = build_record(cfg, overrides=overrides, choices=choices, weights=ids, seeds=expand_seeds(cfg),
                          item_ids=[p.item.id for p in plan.items], run_dir=rd.root)
    if previous is not None:
        record = extend_record(previous, record)
    write_json_atomic(rd.record, record)

    def metadata(p) -> dict:
        return {"id": p.item.id, "prompt": p.item.prompt, "seed": p.item.seed, "job": cfg.job_name,
                "model": cfg.model.name, "pipeline": cfg.pipeline.name, "keys": p.keys,
                "git": record["git"]["commit"], "tool": "ltxmlx"}

    runner = Runner(stages, plan, rd, cache, order=cfg.runner.order, crf=cfg.runner.crf,
                    still_frame_mp4=cfg.runner.still_frame_mp4, contact_sheet=cfg.runner.contact_sheet,
                    video_metadata=metadata, progress=progress, should_stop=should_stop)
    outcome.result = runner.run()
    return outcome
