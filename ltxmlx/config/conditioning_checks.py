"""Checks of a job's conditioning media that run before any model loads: each file is opened and
its header read (an image must decode as an image), so a bad file fails in one line with exit 2."""

from __future__ import annotations

from PIL import Image, UnidentifiedImageError

from ltxmlx.config.schema import RunConfig
from ltxmlx.errors import ConfigError


def check_conditioning_media(cfg: RunConfig) -> None:
    for s, cond in enumerate(cfg.conditioning):
        for i, img in enumerate(cond.images):
            try:
                with Image.open(img.path) as opened:
                    opened.size  # the header parsed
            except (UnidentifiedImageError, OSError) as e:
                raise ConfigError(f"conditioning.{s}.images.{i}.path", img.path,
                                  f"an image file ({type(e).__name__})") from e
