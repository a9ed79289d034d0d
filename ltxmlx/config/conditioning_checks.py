"""Checks of a job's conditioning media that run before any model loads: each file is opened and its
header read (an image must decode as an image, a reference video must be a video long enough for
the render with the output's aspect ratio, an input audio track must cover the video), so a bad
file fails in one line with exit 2."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, UnidentifiedImageError

from ltxmlx.config.schema import RunConfig
from ltxmlx.errors import ConfigError, LtxmlxError

# A reference's aspect ratio may differ this much from the output's before the centre crop would
# cut off control content the video is meant to follow.
ASPECT_TOLERANCE = 0.02


# Pipelines whose every conditioning set needs a given input: name -> (field, what it is).
REQUIRED_INPUT = {"a2v": ("audio", "an input audio track"), "retake": ("source", "a source video to retake")}

# Pipelines that take no conditioning media at all: name -> what they generate from.
TEXT_ONLY = {"t2a": "the prompt alone"}


def check_no_media(cfg: RunConfig) -> None:
    """A text-only pipeline refuses conditioning sets that carry media (it would silently ignore them)."""
    name = cfg.pipeline.name
    if name not in TEXT_ONLY:
        return
    for s, cond in enumerate(cfg.conditioning):
        for field in ("images", "references", "audio", "source"):
            given = getattr(cond, field)
            if given:
                paths = [x.path for x in given] if isinstance(given, list) else given.path
                raise ConfigError(f"conditioning.{s}.{field}", paths,
                                  f"no {field} for the {name} pipeline (it generates from {TEXT_ONLY[name]})")


def check_conditioning_media(cfg: RunConfig) -> None:
    check_no_media(cfg)
    required = REQUIRED_INPUT.get(cfg.pipeline.name)
    if required is not None:
        if not cfg.conditioning:
            raise ConfigError("conditioning", [], f"conditioning sets with {required[1]} for the "
                                                  f"{cfg.pipeline.name} pipeline")
        for s, cond in enumerate(cfg.conditioning):
            if getattr(cond, required[0]) is None:
                raise ConfigError(f"conditioning.{s}.{required[0]}", None,
                                  f"{required[1]} for the {cfg.pipeline.name} pipeline")
    for s, cond in enumerate(cfg.conditioning):
        for i, img in enumerate(cond.images):
            try:
                with Image.open(img.path) as opened:
                    opened.size  # the header parsed
            except (UnidentifiedImageError, OSError) as e:
                raise ConfigError(f"conditioning.{s}.images.{i}.path", img.path,
                                  f"an image file ({type(e).__name__})") from e
        if cond.audio is not None:
            check_audio(f"conditioning.{s}.audio", cond.audio, cfg)
        if cond.source is not None:
            check_source(f"conditioning.{s}.source", cond.source, cfg)
        for i, ref in enumerate(cond.references):
            key = f"conditioning.{s}.references.{i}"
            if not 0.0 <= ref.strength <= 1.0:
                raise ConfigError(f"{key}.strength", ref.strength, "a value in [0, 1]")
            for field in ("path", "mask"):
                if getattr(ref, field) is not None:
                    check_video(f"{key}.{field}", getattr(ref, field), cfg)


def check_video(key: str, path: str, cfg: RunConfig):
    """A video file with at least the render's frames and the output's aspect ratio; its MediaInfo."""
    from ltxmlx.media.probe import probe

    r = cfg.resolution
    if not Path(path).expanduser().is_file():
        raise ConfigError(key, path, "an existing video file")
    try:
        info = probe(Path(path).expanduser())
    except LtxmlxError as e:
        raise ConfigError(key, path, "a readable video file") from e
    if not info.video_codec:
        raise ConfigError(key, path, "a file with a video stream")
    frames = round(info.duration * info.fps)
    if frames < r.frames:
        raise ConfigError(key, path, f"a video of at least {r.frames} frames (it has about {frames})")
    aspect, want = info.width / info.height, r.width / r.height
    if abs(aspect / want - 1.0) > ASPECT_TOLERANCE:
        raise ConfigError(key, path, f"a video with the output's aspect ratio {r.width}x{r.height} "
                                     f"(it is {info.width}x{info.height})")
    return info


def check_source(key: str, source, cfg: RunConfig) -> None:
    """A retake source: a video at the render's frame rate covering its frames, and a non-empty
    window inside the rendered span."""
    r = cfg.resolution
    info = check_video(f"{key}.path", source.path, cfg)
    if abs(info.fps - r.fps) > 1e-3 * r.fps:
        raise ConfigError(f"{key}.path", source.path, f"a video at the render's {r.fps:g} fps (it has {info.fps:g})")
    span = r.frames / r.fps
    if not 0.0 <= source.start_time < source.end_time <= span:
        raise ConfigError(f"{key}.start_time", [source.start_time, source.end_time],
                          f"a window 0 <= start_time < end_time <= {span:.3f} s (the rendered span of the source)")


def check_pipeline_loras(cfg: RunConfig) -> None:
    """The ic_lora pipeline needs an IC-LoRA in its LoRA stack; checked here when every LoRA of the
    stack is a local file (downloaded or built-in ones are checked once resolved, still before loading)."""
    from ltxmlx.pipelines.config import LoraSpec
    from ltxmlx.pipelines.ic_lora import reference_scales
    from ltxmlx.weights import parse

    if cfg.pipeline.name != "ic_lora":
        return
    stack = cfg.lora.stack
    if all(parse(lo.weights).kind == "local" for lo in stack):
        reference_scales([LoraSpec(str(Path(lo.weights).expanduser()), lo.strength) for lo in stack])


def check_audio(key: str, audio, cfg: RunConfig) -> None:
    """A file with an audio stream that covers the video from `start_time` (within `max_duration`)."""
    from ltxmlx.media.probe import probe

    if not Path(audio.path).expanduser().is_file():
        raise ConfigError(f"{key}.path", audio.path, "an existing audio (or video) file")
    try:
        info = probe(Path(audio.path).expanduser())
    except LtxmlxError as e:
        raise ConfigError(f"{key}.path", audio.path, "a readable audio file") from e
    if not info.audio_codec:
        raise ConfigError(f"{key}.path", audio.path, "a file with an audio stream")
    if audio.start_time < 0:
        raise ConfigError(f"{key}.start_time", audio.start_time, "a time >= 0 s")
    need = cfg.resolution.frames / cfg.resolution.fps
    if audio.max_duration is not None and audio.max_duration < need:
        raise ConfigError(f"{key}.max_duration", audio.max_duration, f"at least the video's {need:.3f} s")
    if info.duration - audio.start_time < need:
        raise ConfigError(f"{key}.path", audio.path, f"audio lasting at least {need:.3f} s from "
                                                     f"{audio.start_time:g} s (it lasts {info.duration:.3f} s)")
