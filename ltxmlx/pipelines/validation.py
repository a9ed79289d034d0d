"""Checks that refuse bad pipeline input before any model is built or any heavy compute runs.

Three levels: the config alone (`validate_config`), the config against the checkpoint's metadata
config (`validate_against_checkpoint`: STG blocks, LoRA targets; no tensor data is read), and the
render items (`validate_items`: keyframe indices, image files).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from pathlib import Path

import mlx.core as mx

from ltxmlx.components.guiders import GuiderParams
from ltxmlx.media.images import load_image
from ltxmlx.errors import ConfigError
from ltxmlx.pipelines.api import RenderItem

DTYPES = {"float32": mx.float32, "bfloat16": mx.bfloat16, "float16": mx.float16}

# Sane ranges of the guidance scales: the official CLIs accept any float, but negative scales
# invert the guidance and huge ones only saturate; rescale is an interpolation weight.
SCALE_RANGES = {
    "cfg_scale": (0.0, 50.0),
    "stg_scale": (0.0, 20.0),
    "modality_scale": (0.0, 50.0),
    "rescale_scale": (0.0, 1.0),
}


def size_multiple(two_stage: bool) -> int:
    """Pixel multiple of height/width: 64 when stage 1 runs at half size (latents of 32 px), else 32."""
    return 64 if two_stage else 32


def _check_sigmas(key: str, sigmas: Sequence[float] | None) -> None:
    if sigmas is None:
        return
    vals = list(sigmas)
    ok = len(vals) >= 2 and all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in vals)
    ok = ok and vals[-1] == 0.0 and all(a > b for a, b in itertools.pairwise(vals))
    if not ok:
        raise ConfigError(key, sigmas, "a strictly decreasing list of >= 2 sigmas in [0, 1] ending in 0.0")


def check_guider(key: str, params: GuiderParams | None) -> None:
    if params is None:
        return
    for name, (lo, hi) in SCALE_RANGES.items():
        value = getattr(params, name)
        if not (isinstance(value, (int, float)) and math.isfinite(value) and lo <= value <= hi):
            raise ConfigError(f"{key}.{name}", value, f"a finite number in [{lo:g}, {hi:g}]")
    if any(b < 0 for b in params.stg_blocks):
        raise ConfigError(f"{key}.stg_blocks", params.stg_blocks, "block indices >= 0")


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
    if not isinstance(cfg.num_frames, int) or cfg.num_frames < 1 or (cfg.num_frames - 1) % 8:
        raise ConfigError("num_frames", cfg.num_frames, "8k+1 frames (1, 9, 17, ..., 121, ...)")
    if not (math.isfinite(cfg.fps) and cfg.fps > 0):
        raise ConfigError("fps", cfg.fps, "a positive frame rate")
    if cfg.steps is not None and (not isinstance(cfg.steps, int) or cfg.steps < 1):
        raise ConfigError("steps", cfg.steps, "an integer >= 1 (or None for the model's default)")
    if cfg.max_batch_size < 1:
        raise ConfigError("max_batch_size", cfg.max_batch_size, "an integer >= 1")
    if cfg.dtype not in DTYPES:
        raise ConfigError("dtype", cfg.dtype, f"one of {', '.join(DTYPES)}")
    if not 0 <= cfg.image_crf <= 51:
        raise ConfigError("image_crf", cfg.image_crf, "an H.264 CRF in [0, 51]")
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
    _check_file("files.text_encoder", f.text_encoder, True, folder=True)
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


def _check_guider_skips(video: GuiderParams | None, audio: GuiderParams | None) -> None:
    # A step where one modality reuses its x0 while the other runs needs a transformer that freezes
    # a stream in place; we only support skipping both together (equal skip_step).
    v, a = (video.skip_step if video else 0), (audio.skip_step if audio else 0)
    if v != a and video is not None and audio is not None:
        raise ConfigError("audio_guider.skip_step", a, f"{v} (= video_guider.skip_step; differing skips are not ported)")


def validate_against_checkpoint(cfg, transformer_config: dict, stg_params: Sequence[GuiderParams | None]) -> None:
    """STG blocks inside the model's depth (needs the checkpoint's `transformer` config)."""
    layers = int(transformer_config["num_layers"])
    for key, params in zip(("video_guider", "audio_guider"), stg_params):
        if params is not None and params.needs_perturbed:
            bad = [b for b in params.stg_blocks if not 0 <= b < layers]
            if bad:
                raise ConfigError(f"{key}.stg_blocks", params.stg_blocks, f"block indices in [0, {layers})")


def validate_items(cfg, items: Sequence[RenderItem], check_files: bool = True) -> None:
    """Keyframe indices inside the video and (check_files) readable image files, before any model runs."""
    for item in items:
        for i, image in enumerate(item.images):
            key = f"{item.id}.images[{i}]"
            if not isinstance(image.frame, int) or not 0 <= image.frame < cfg.num_frames:
                raise ConfigError(f"{key}.frame", image.frame, f"a frame index in [0, {cfg.num_frames})")
            if not 0.0 <= image.strength <= 1.0:
                raise ConfigError(f"{key}.strength", image.strength, "a strength in [0, 1]")
            if check_files:
                load_image(image.path)  # raises ImageInputError: not found / not an image
