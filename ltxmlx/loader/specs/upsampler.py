"""Latent upsampler files: flat `config`, no key prefix, PyTorch conv layouts turned channels-last."""

from __future__ import annotations

from ltxmlx.errors import ConfigError
from ltxmlx.loader.key_ops import KeyOps
from ltxmlx.loader.specs import ComponentSpec
from ltxmlx.model.upsampler import LatentUpsampler, LatentUpsamplerConfig

# PyTorch Conv3d (O, I, kF, kH, kW) -> MLX (O, kF, kH, kW, I); Conv2d (O, I, kH, kW) -> (O, kH, kW, I).
_CONV3D = (0, 2, 3, 4, 1)
_CONV2D = (0, 2, 3, 1)


def _key_ops(config: dict) -> KeyOps:
    cfg = LatentUpsamplerConfig.from_config(config)
    # Only the spatial upsampler's convolution is 2D (it runs per frame); every other conv is 3D.
    upsampler_axes = _CONV2D if cfg.spatial_upsample else _CONV3D
    return KeyOps(
        prefix="",
        transposes=(
            (r"^upsampler\.0\.weight$", upsampler_axes),
            (r"(^|\.)(initial_conv|final_conv|conv1|conv2)\.weight$", _CONV3D),
        ),
    )


def _maker(mode: str):
    def make(config: dict) -> LatentUpsampler:
        cfg = LatentUpsamplerConfig.from_config(config)
        if cfg.mode != mode:
            # A spatial file loaded where the pipeline wants the temporal one (or vice versa).
            raise ConfigError(f"{mode}_upsample", False, f"true for a {mode} upsampler file (this file is {cfg.mode})")
        return LatentUpsampler(cfg)

    return make


SPECS = {
    "spatial_upsampler": ComponentSpec("spatial_upsampler", _key_ops, _maker("spatial")),
    "temporal_upsampler": ComponentSpec("temporal_upsampler", _key_ops, _maker("temporal")),
}
