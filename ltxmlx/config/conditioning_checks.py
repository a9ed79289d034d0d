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


def check_conditioning_media(cfg: RunConfig) -> None:
    if cfg.pipeline.name == "a2v" and not cfg.conditioning:
        raise ConfigError("conditioning", [], "conditioning sets with an input audio track for the a2v pipeline")
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
        elif cfg.pipeline.name == "a2v":
            raise ConfigError(f"conditioning.{s}.audio", None, "an input audio track for the a2v pipeline")
        for i, ref in enumerate(cond.references):
            key = f"conditioning.{s}.references.{i}"
            if not 0.0 <= ref.strength <= 1.0:
                raise ConfigError(f"{key}.strength", ref.strength, "a value in [0, 1]")
            for field in ("path", "mask"):
                if getattr(ref, field) is not None:
                    check_video(f"{key}.{field}", getattr(ref, field), cfg)


def check_video(key: str, path: str, cfg: RunConfig) -> None:
    """A video file with at least the render's frames and the output's aspect ratio."""
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
