"""Config of the latent upsampler, read from the flat metadata `config` of an upsampler file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ltxmlx.errors import ConfigError

# GroupNorm in every stage uses 32 groups over `mid_channels`.
NORM_GROUPS = 32


def _require(cfg: dict[str, Any], key: str, kind: type, expected: str) -> Any:
    """Read a key every released upsampler file carries; refuse it when absent or mistyped."""
    if key not in cfg:
        raise ConfigError(key, "<missing>", expected)
    value = cfg[key]
    # bool is a subclass of int: an int key given as true/false is a mistake, not a 1/0.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(key, value, expected)
    return value


@dataclass(frozen=True)
class LatentUpsamplerConfig:
    """Dims and mode of a `LatentUpsampler` (spatial x2 or temporal x2, Conv3d stages)."""

    in_channels: int
    mid_channels: int
    num_blocks_per_stage: int
    spatial_upsample: bool
    temporal_upsample: bool

    @property
    def mode(self) -> str:
        """Either "spatial" (H and W doubled) or "temporal" (F -> 2F - 1)."""
        return "spatial" if self.spatial_upsample else "temporal"

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> LatentUpsamplerConfig:
        """Validate the flat upsampler config; raise ConfigError for anything not ported."""
        in_channels = _require(cfg, "in_channels", int, "a positive int")
        mid_channels = _require(cfg, "mid_channels", int, f"a positive int divisible by {NORM_GROUPS}")
        blocks = _require(cfg, "num_blocks_per_stage", int, "an int >= 0")
        dims = _require(cfg, "dims", int, "3")
        spatial = _require(cfg, "spatial_upsample", bool, "true or false")
        temporal = _require(cfg, "temporal_upsample", bool, "true or false")
        if in_channels <= 0:
            raise ConfigError("in_channels", in_channels, "a positive int")
        if mid_channels <= 0 or mid_channels % NORM_GROUPS:
            raise ConfigError("mid_channels", mid_channels, f"a positive int divisible by {NORM_GROUPS}")
        if blocks < 0:
            raise ConfigError("num_blocks_per_stage", blocks, "an int >= 0")
        if dims != 3:
            raise ConfigError("dims", dims, "3 (the per-frame 2D variant is not ported)")
        if spatial == temporal:
            raise ConfigError(
                "spatial_upsample/temporal_upsample",
                (spatial, temporal),
                "exactly one of them true (combined spatio-temporal x2 is not ported)",
            )
        # The two keys below are absent from the released x2 files; the official loader
        # defaults them to 2.0 / false, and so do we.
        rational = cfg.get("rational_resampler", False)
        if rational is not False:
            raise ConfigError("rational_resampler", rational, "false (the x1.5 rational resampler is not ported)")
        scale = cfg.get("spatial_scale", 2.0)
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or float(scale) != 2.0:
            # Without the rational resampler the official model always doubles and ignores
            # this key; another value means the file expects a model we do not build.
            raise ConfigError("spatial_scale", scale, "2.0")
        return cls(in_channels, mid_channels, blocks, spatial, temporal)
