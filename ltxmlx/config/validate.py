"""Checks on a composed `RunConfig` that run before any model loads.

Bounds (documented in README.md): height and width in [64, 2048] and divisible by 32 (one-stage)
or 64 (two-stage and distilled, whose stage 1 runs at half size); frames = 8k+1 in [9, 513];
fps in (0, 120]; seeds in [0, 2**63); at most 4096 prompts and 1024 seeds per job.
Each failure raises `ConfigError(key, value, expected)`: one line naming the key.
"""

from __future__ import annotations

import math
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ltxmlx.config.conditioning_checks import check_conditioning_media, check_pipeline_loras
from ltxmlx.config.naming import slugify
from ltxmlx.config.schema import RunConfig
from ltxmlx.errors import ConfigError
from ltxmlx.pipelines.factory import PIPELINES
from ltxmlx.pipelines.validation import size_multiple

MIN_SIDE, MAX_SIDE = 64, 2048
MIN_FRAMES, MAX_FRAMES = 9, 513
MAX_PROMPTS, MAX_SEEDS = 4096, 1024
MAX_SEED = 2**63
SCHEDULERS = ("ltx2", "distilled")
SAMPLERS = ("euler",)
ORDERS = ("stage_major", "item_major")
DTYPES = ("bfloat16", "float16", "float32")


def to_run_config(cfg: DictConfig) -> RunConfig:
    """The typed config (interpolations resolved); `hydra` and `job` keys are dropped."""
    # Resolve node by node: the hydra node holds sweep-only interpolations that fail in a single run.
    data = {}
    for k in cfg:
        if k not in ("hydra", "job"):
            v = cfg[k]
            data[k] = OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v
    merged = OmegaConf.merge(OmegaConf.structured(RunConfig), data)
    return OmegaConf.to_object(merged)


def _check(ok: bool, key: str, value: object, expected: str) -> None:
    if not ok:
        raise ConfigError(key, value, expected)


def _one_of(key: str, value: object, options) -> None:
    _check(value in options, key, value, f"one of {', '.join(map(str, options))}")


def validate(cfg: RunConfig) -> None:
    """Raise ConfigError for the first invalid setting."""
    _validate_model_pipeline(cfg)
    _validate_size(cfg)
    _validate_sampling(cfg)
    _validate_runner(cfg)
    for i, lora in enumerate(cfg.lora.stack):
        _check(bool(lora.weights.strip()), f"lora.stack.{i}.weights", lora.weights, "a weight reference")
        _check(math.isfinite(lora.strength), f"lora.stack.{i}.strength", lora.strength, "a finite number")
    for s, cond in enumerate(cfg.conditioning):
        _check(bool(slugify(cond.name)), f"conditioning.{s}.name", cond.name, "a name with letters or digits")
        for i, img in enumerate(cond.images):
            key = f"conditioning.{s}.images.{i}"
            _check(Path(img.path).expanduser().is_file(), f"{key}.path", img.path, "an existing image file")
            _check(0 <= img.frame < cfg.resolution.frames, f"{key}.frame", img.frame,
                   f"a frame index in [0, {cfg.resolution.frames})")
            _check(0.0 <= img.strength <= 1.0, f"{key}.strength", img.strength, "a value in [0, 1]")
    check_conditioning_media(cfg)
    check_pipeline_loras(cfg)


def _validate_model_pipeline(cfg: RunConfig) -> None:
    m, p = cfg.model, cfg.pipeline
    _one_of("model.version", m.version, ("2.0", "2.3"))
    _one_of("model.variant", m.variant, ("dev", "distilled"))
    _one_of("model.quantization", m.quantization, ("none", "fp8"))
    _one_of("model.dtype", m.dtype, DTYPES)
    _one_of("pipeline.name", p.name, tuple(PIPELINES))
    kind = PIPELINES[p.name]
    if kind.two_stage:
        _check(bool(m.spatial_upsampler), "model.spatial_upsampler", m.spatial_upsampler,
               f"a weight reference (the {p.name} pipeline upsamples between its stages)")
        _check(_is_sigma_list(p.stage2_sigmas, allow_partial=True), "pipeline.stage2_sigmas",
               p.stage2_sigmas, "a decreasing list in (0, 1] ending with 0.0")
    if kind.distilled_lora:
        _check(m.variant == "dev", "model.variant", m.variant,
               f"dev for the {p.name} pipeline (use pipeline=distilled)")
        _check(bool(m.distilled_lora), "model.distilled_lora", m.distilled_lora,
               f"a weight reference (stage 2 of {p.name} fuses the distilled LoRA)")
    if not kind.two_stage:
        _check(not p.stage2_sigmas, "pipeline.stage2_sigmas", p.stage2_sigmas, "[] for the one_stage pipeline")
    _check(0.0 <= p.distilled_lora_strength <= 2.0, "pipeline.distilled_lora_strength",
           p.distilled_lora_strength, "a value in [0, 2]")
    if not kind.guided:
        _check(m.variant == "distilled", "model.variant", m.variant, f"distilled for the {p.name} pipeline")
    _check(0.0 <= p.reference_attention <= 1.0, "pipeline.reference_attention", p.reference_attention,
           "a weight in [0, 1]")
    strengths = p.distilled_lora_stage_strengths
    _check(len(strengths) == 2 and all(0.0 <= v <= 2.0 for v in strengths), "pipeline.distilled_lora_stage_strengths",
           strengths, "two values in [0, 2] (stage 1, stage 2)")


def _validate_size(cfg: RunConfig) -> None:
    r, div = cfg.resolution, size_multiple(PIPELINES[cfg.pipeline.name].two_stage)
    for key, side in (("resolution.height", r.height), ("resolution.width", r.width)):
        _check(MIN_SIDE <= side <= MAX_SIDE, key, side, f"a size in [{MIN_SIDE}, {MAX_SIDE}]")
        _check(side % div == 0, key, side, f"a multiple of {div} for the {cfg.pipeline.name} pipeline")
    _check((r.frames - 1) % 8 == 0, "resolution.frames", r.frames, "8k+1 frames (9, 17, ..., 121, ...)")
    _check(MIN_FRAMES <= r.frames <= MAX_FRAMES, "resolution.frames", r.frames,
           f"a frame count in [{MIN_FRAMES}, {MAX_FRAMES}]")
    _check(0 < r.fps <= 120, "resolution.fps", r.fps, "a frame rate in (0, 120]")


def _is_sigma_list(sigmas, allow_partial: bool) -> bool:
    if len(sigmas) < 2 or sigmas[-1] != 0.0 or not 0.0 < sigmas[0] <= 1.0:
        return False
    if not allow_partial and sigmas[0] != 1.0:
        return False
    return all(a > b for a, b in zip(sigmas, sigmas[1:]))


def _validate_sampling(cfg: RunConfig) -> None:
    s = cfg.scheduler
    _one_of("scheduler.name", s.name, SCHEDULERS)
    _one_of("scheduler.sampler", s.sampler, SAMPLERS)
    _check(1 <= s.steps <= 200, "scheduler.steps", s.steps, "1 to 200 steps")
    if s.name == "distilled":
        _check(_is_sigma_list(s.sigmas, allow_partial=False), "scheduler.sigmas", s.sigmas,
               "a decreasing list from 1.0 to 0.0")
        _check(s.steps == len(s.sigmas) - 1, "scheduler.steps", s.steps,
               f"{len(s.sigmas) - 1} (the length of scheduler.sigmas minus one)")
    else:
        _check(not s.sigmas, "scheduler.sigmas", s.sigmas, "an empty list for the ltx2 scheduler")
        _check(0.0 < s.terminal < 1.0, "scheduler.terminal", s.terminal, "a value in (0, 1)")
    for mod in ("video", "audio"):
        g = getattr(cfg.guider, mod)
        for name in ("cfg", "stg", "rescale", "modality"):
            v = getattr(g, name)
            _check(math.isfinite(v) and v >= 0, f"guider.{mod}.{name}", v, "a finite number >= 0")
        _check(g.skip_step >= 0, f"guider.{mod}.skip_step", g.skip_step, "an integer >= 0")


def _validate_runner(cfg: RunConfig) -> None:
    r = cfg.runner
    bs = r.batch_size
    _check(bs == "auto" or (isinstance(bs, int) and not isinstance(bs, bool) and 1 <= bs <= 64),
           "runner.batch_size", bs, "an integer in [1, 64] or 'auto'")
    if r.memory_budget_gb is not None:
        _check(r.memory_budget_gb > 0, "runner.memory_budget_gb", r.memory_budget_gb, "a positive number")
    _one_of("runner.order", r.order, ORDERS)
    _check(0 <= r.crf <= 51, "runner.crf", r.crf, "an x264 CRF in [0, 51]")
    _check(bool(slugify(cfg.job_name)) and slugify(cfg.job_name, 200) == cfg.job_name.lower(),
           "job_name", cfg.job_name, "letters, digits and dashes only")


def check_prompts(prompts: list[str], source: str) -> None:
    """Non-empty list of printable prompts, each naming a file safely (see `naming.slugify`)."""
    _check(len(prompts) > 0, source, prompts, "at least one prompt")
    _check(len(prompts) <= MAX_PROMPTS, source, len(prompts), f"at most {MAX_PROMPTS} prompts")
    for i, p in enumerate(prompts):
        _check(isinstance(p, str) and bool(p.strip()), f"{source}[{i}]", p, "a non-empty prompt")
        _check(all(c.isprintable() for c in p), f"{source}[{i}]", p, "no control characters (newlines, tabs, NUL)")
        _check(bool(slugify(p)), f"{source}[{i}]", p,
               "a prompt with at least one ASCII letter or digit (it names the video file)")


def check_seeds(seeds: list[int]) -> None:
    _check(len(seeds) > 0, "seeds", seeds, "at least one seed")
    _check(len(seeds) <= MAX_SEEDS, "seeds", len(seeds), f"at most {MAX_SEEDS} seeds")
    for s in seeds:
        _check(0 <= s < MAX_SEED, "seeds", s, "seeds in [0, 2**63)")
    _check(len(set(seeds)) == len(seeds), "seeds", seeds, "distinct seeds")
