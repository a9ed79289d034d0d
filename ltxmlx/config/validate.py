"""The one validation layer: every bound lives in the tables below, checked before any model loads.

Two entry points share the tables, each naming the keys its caller wrote:
- `validate(RunConfig)` for the renderer (`resolution.height`, `guider.video.rescale`, ...), run by
  pre-flight on every job of a command line;
- `validate_config(PipelineConfig)`, `validate_against_checkpoint` and `validate_items` for the
  library (`height`, `video_guider.rescale_scale`, ...), run by `make_pipeline` and `render`.
A config that passes the first passes the second, so a renderer user never sees a library key.

Bounds (documented in README.md): height and width in [64, 2048] and divisible by the pipeline's
multiple (32 one-stage; 64 when stage 1 runs at half size); frames = 8k+1 in [9, 513]; fps in
(0, 120]; seeds in [0, 2**63); at most 4096 prompts and 1024 seeds per job; guidance scales in
`GUIDER_RANGES`. Each failure raises `ConfigError(key, value, expected)`: one line naming the key.
New pipelines, schedulers or dtypes are one table entry each.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from pathlib import Path

import mlx.core as mx
from omegaconf import DictConfig, OmegaConf

from ltxmlx.config.conditioning_checks import check_conditioning_media, check_pipeline_loras
from ltxmlx.config.naming import slugify
from ltxmlx.config.schema import RunConfig
from ltxmlx.errors import ConfigError
from ltxmlx.generations import GENERATIONS
from ltxmlx.loader.builder import quantization_backend_error
from ltxmlx.loader.quantize import MODES as QUANTIZATION_MODES
from ltxmlx.media.images import load_image

MIN_SIDE, MAX_SIDE = 64, 2048
MIN_FRAMES, MAX_FRAMES = 9, 513
MAX_PROMPTS, MAX_SEEDS = 4096, 1024
MAX_SEED = 2**63
CRF_RANGE = (0, 51)
SCHEDULERS = ("ltx2", "distilled")
SAMPLERS = ("euler",)
ORDERS = ("stage_major", "item_major")
VARIANTS = ("dev", "distilled")
DTYPES = {"float32": mx.float32, "bfloat16": mx.bfloat16, "float16": mx.float16}
# Guidance scales: renderer key -> (library field, low, high). The official CLIs accept any float, but
# negative scales invert the guidance and huge ones only saturate; rescale is an interpolation weight.
GUIDER_RANGES = {
    "cfg": ("cfg_scale", 0.0, 50.0),
    "stg": ("stg_scale", 0.0, 20.0),
    "modality": ("modality_scale", 0.0, 50.0),
    "rescale": ("rescale_scale", 0.0, 1.0),
}


def _pipelines() -> dict:
    # The registry imports every pipeline module, and they import this one: read it at call time.
    from ltxmlx.pipelines.factory import PIPELINES

    return PIPELINES


def size_multiple(two_stage: bool) -> int:
    """Pixel multiple of height/width: 64 when stage 1 runs at half size (latents of 32 px), else 32."""
    return 64 if two_stage else 32


def _check(ok: bool, key: str, value: object, expected: str) -> None:
    if not ok:
        raise ConfigError(key, value, expected)


def _one_of(key: str, value: object, options) -> None:
    _check(value in options, key, value, f"one of {', '.join(map(str, options))}")


def _is_sigma_list(sigmas, allow_partial: bool) -> bool:
    """Strictly decreasing, finite, in [0, 1], ending with 0.0 (starting at 1.0 unless partial)."""
    vals = list(sigmas)
    if len(vals) < 2 or vals[-1] != 0.0 or not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in vals):
        return False
    if not 0.0 < vals[0] <= 1.0 or (not allow_partial and vals[0] != 1.0):
        return False
    return all(a > b for a, b in itertools.pairwise(vals))


def _in_range(value, lo: float, hi: float) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and lo <= value <= hi


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
            frames = cfg.resolution.frames if cfg.resolution.frames != "auto" else None
            _check(0 <= img.frame and (frames is None or img.frame < frames), f"{key}.frame", img.frame,
                   f"a frame index in [0, {frames})")
            _check(0.0 <= img.strength <= 1.0, f"{key}.strength", img.strength, "a value in [0, 1]")
    check_conditioning_media(cfg)
    check_pipeline_loras(cfg)


def _validate_model_pipeline(cfg: RunConfig) -> None:
    m, p = cfg.model, cfg.pipeline
    _one_of("model.version", m.version, tuple(GENERATIONS))
    gen = GENERATIONS[m.version]
    _one_of("model.video_decoder", m.video_decoder, gen.video_decoders)
    if gen.layout == "split":
        for name in ("video_vae", "audio_vae"):
            _check(bool(getattr(m, name)), f"model.{name}", getattr(m, name),
                   f"a weight reference (LTX-{gen.name} ships its {name.replace('_', ' ')} as its own file)")
    _one_of("model.variant", m.variant, VARIANTS)
    _one_of("model.quantization", m.quantization, QUANTIZATION_MODES)
    reason = quantization_backend_error(m.quantization)
    _check(reason is None, "model.quantization", m.quantization, f"a mode this MLX backend runs: {reason}")
    _one_of("model.dtype", m.dtype, tuple(DTYPES))
    _one_of("pipeline.name", p.name, tuple(_pipelines()))
    kind = _pipelines()[p.name]
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
    r, div = cfg.resolution, size_multiple(_pipelines()[cfg.pipeline.name].two_stage)
    for key, side in (("resolution.height", r.height), ("resolution.width", r.width)):
        _check(MIN_SIDE <= side <= MAX_SIDE, key, side, f"a size in [{MIN_SIDE}, {MAX_SIDE}]")
        _check(side % div == 0, key, side, f"a multiple of {div} for the {cfg.pipeline.name} pipeline")
    if r.frames == "auto":
        gen = GENERATIONS[cfg.model.version]
        _check(gen.duration_head and bool(cfg.model.duration_head), "resolution.frames", r.frames,
               "a frame count: 'auto' asks the LTX-2.5 duration head (model.duration_head) for each clip's length"
               if gen.duration_head else f"a frame count: {gen.title} has no duration head for 'auto'")
        return
    _check(isinstance(r.frames, int) and not isinstance(r.frames, bool), "resolution.frames", r.frames,
           "an integer number of frames (8k+1) or 'auto'")
    _check((r.frames - 1) % 8 == 0, "resolution.frames", r.frames, "8k+1 frames (9, 17, ..., 121, ...)")
    _check(MIN_FRAMES <= r.frames <= MAX_FRAMES, "resolution.frames", r.frames,
           f"a frame count in [{MIN_FRAMES}, {MAX_FRAMES}]")
    _check(0 < r.fps <= 120, "resolution.fps", r.fps, "a frame rate in (0, 120]")


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
        for name, (_, lo, hi) in GUIDER_RANGES.items():
            v = getattr(g, name)
            _check(_in_range(v, lo, hi), f"guider.{mod}.{name}", v, f"a finite number in [{lo:g}, {hi:g}]")
        _check(all(b >= 0 for b in g.stg_blocks), f"guider.{mod}.stg_blocks", g.stg_blocks, "block indices >= 0")
        _check(g.skip_step >= 0, f"guider.{mod}.skip_step", g.skip_step, "an integer >= 0")


def _validate_runner(cfg: RunConfig) -> None:
    r = cfg.runner
    bs = r.batch_size
    _check(bs == "auto" or (isinstance(bs, int) and not isinstance(bs, bool) and 1 <= bs <= 64),
           "runner.batch_size", bs, "an integer in [1, 64] or 'auto'")
    if r.memory_budget_gb is not None:
        _check(r.memory_budget_gb > 0, "runner.memory_budget_gb", r.memory_budget_gb, "a positive number")
    _one_of("runner.order", r.order, ORDERS)
    _check(CRF_RANGE[0] <= r.crf <= CRF_RANGE[1], "runner.crf", r.crf, f"an x264 CRF in [{CRF_RANGE[0]}, {CRF_RANGE[1]}]")
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


# ---- library (PipelineConfig) entry points -------------------------------------------------------
def _check_sigmas(key: str, sigmas: Sequence[float] | None) -> None:
    if sigmas is not None and not _is_sigma_list(sigmas, allow_partial=True):
        raise ConfigError(key, sigmas, "a strictly decreasing list of >= 2 sigmas in [0, 1] ending in 0.0")


def check_guider(key: str, params) -> None:
    """A library GuiderParams against `GUIDER_RANGES` (`key`: e.g. video_guider)."""
    if params is None:
        return
    for field, lo, hi in GUIDER_RANGES.values():
        value = getattr(params, field)
        _check(_in_range(value, lo, hi), f"{key}.{field}", value, f"a finite number in [{lo:g}, {hi:g}]")
    _check(all(b >= 0 for b in params.stg_blocks), f"{key}.stg_blocks", params.stg_blocks, "block indices >= 0")


def _check_file(key: str, path: str | None, required: bool, folder: bool = False) -> None:
    if path is None:
        if required:
            raise ConfigError(key, None, "a path (this pipeline needs the file)")
        return
    p = Path(path).expanduser()
    if not (p.is_dir() if folder else p.is_file()):
        raise ConfigError(key, path, f"an existing {'folder' if folder else 'file'}")


def validate_config(cfg) -> None:
    """Sizes, frames, steps, scales, sigma lists, dtype and files of a PipelineConfig."""
    m = size_multiple(cfg.two_stage)
    for key in ("height", "width"):
        value = getattr(cfg, key)
        if not isinstance(value, int) or value < m or value % m:
            raise ConfigError(key, value, f"a positive multiple of {m} for the {cfg.kind} pipeline")
    if cfg.num_frames is None:  # each item's length comes from the duration head
        if not cfg.files.duration_head:
            raise ConfigError("num_frames", None, "8k+1 frames, or a duration head file (files.duration_head)")
    elif not isinstance(cfg.num_frames, int) or cfg.num_frames < 1 or (cfg.num_frames - 1) % 8:
        raise ConfigError("num_frames", cfg.num_frames, "8k+1 frames (1, 9, 17, ..., 121, ...)")
    if not (math.isfinite(cfg.fps) and cfg.fps > 0):
        raise ConfigError("fps", cfg.fps, "a positive frame rate")
    if cfg.steps is not None and (not isinstance(cfg.steps, int) or cfg.steps < 1):
        raise ConfigError("steps", cfg.steps, "an integer >= 1 (or None for the model's default)")
    if cfg.max_batch_size < 1:
        raise ConfigError("max_batch_size", cfg.max_batch_size, "an integer >= 1")
    if cfg.dtype not in DTYPES:
        raise ConfigError("dtype", cfg.dtype, f"one of {', '.join(DTYPES)}")
    lo, hi = CRF_RANGE
    _check(cfg.image_crf is None or lo <= cfg.image_crf <= hi, "image_crf", cfg.image_crf,
           f"an H.264 CRF in [{lo}, {hi}] (or None: the generation's)")
    if cfg.decode_tile_budget_gb is not None and not cfg.decode_tile_budget_gb > 0:
        raise ConfigError("decode_tile_budget_gb", cfg.decode_tile_budget_gb, "a positive size in GB or None")
    _check_sigmas("stage1_sigmas", cfg.stage1_sigmas)
    _check_sigmas("stage2_sigmas", cfg.stage2_sigmas)
    if not cfg.two_stage and cfg.stage2_sigmas is not None:
        raise ConfigError("stage2_sigmas", cfg.stage2_sigmas, "None for the one-stage pipeline")
    check_guider("video_guider", cfg.video_guider)
    check_guider("audio_guider", cfg.audio_guider)
    if not cfg.guided and any(g is not None for g in (cfg.video_guider, cfg.audio_guider)):
        raise ConfigError("video_guider", cfg.video_guider, "None: the distilled pipeline does not guide")
    _check_guider_skips(cfg.video_guider, cfg.audio_guider)
    f = cfg.files
    _check_file("files.checkpoint", f.checkpoint, True)
    # A Gemma 3 folder or a Gemma 4 packed file: the generation's text-encoder kind checks which.
    _check(Path(f.text_encoder).expanduser().exists(), "files.text_encoder", f.text_encoder,
           "an existing text-encoder folder or file")
    for key in ("video_vae", "audio_vae", "duration_head"):
        _check_file(f"files.{key}", getattr(f, key), False)
    _check_file("files.spatial_upsampler", f.spatial_upsampler, cfg.two_stage)
    if cfg.traits.distilled_lora:
        _check_file("files.distilled_lora", f.distilled_lora.path if f.distilled_lora else None, True)
    elif f.distilled_lora is not None:
        raise ConfigError("files.distilled_lora", f.distilled_lora.path, f"None for the {cfg.kind} pipeline")
    for i, lora in enumerate(cfg.loras):
        _check_file(f"loras[{i}].path", lora.path, True)
    for i, lora in enumerate(cfg.loras + ((f.distilled_lora,) if f.distilled_lora else ())):
        if not math.isfinite(lora.strength):
            raise ConfigError(f"loras[{i}].strength", lora.strength, "a finite number")


def _check_guider_skips(video, audio) -> None:
    # A step where one modality reuses its x0 while the other runs needs a transformer that freezes
    # a stream in place; we only support skipping both together (equal skip_step).
    v, a = (video.skip_step if video else 0), (audio.skip_step if audio else 0)
    if v != a and video is not None and audio is not None:
        raise ConfigError("audio_guider.skip_step", a, f"{v} (= video_guider.skip_step; differing skips are not ported)")


def validate_against_checkpoint(cfg, transformer_config: dict, stg_params: Sequence) -> None:
    """STG blocks inside the model's depth (needs the checkpoint's `transformer` config)."""
    layers = int(transformer_config["num_layers"])
    for key, params in zip(("video_guider", "audio_guider"), stg_params):
        if params is not None and params.needs_perturbed:
            bad = [b for b in params.stg_blocks if not 0 <= b < layers]
            if bad:
                raise ConfigError(f"{key}.stg_blocks", params.stg_blocks, f"block indices in [0, {layers})")


def validate_items(cfg, items: Sequence, check_files: bool = True) -> None:
    """Keyframe indices inside the video and (check_files) readable image files, before any model runs."""
    for item in items:
        frames = item.num_frames if item.num_frames is not None else cfg.num_frames
        for i, image in enumerate(item.images):
            key = f"{item.id}.images[{i}]"
            if not isinstance(image.frame, int) or image.frame < 0 or (frames is not None and image.frame >= frames):
                raise ConfigError(f"{key}.frame", image.frame, f"a frame index in [0, {frames})")
            if not 0.0 <= image.strength <= 1.0:
                raise ConfigError(f"{key}.strength", image.strength, "a strength in [0, 1]")
            if check_files:
                load_image(image.path)  # raises ImageInputError: not found / not an image
