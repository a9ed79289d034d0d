"""Video VAE configs read from the checkpoint's `config["vae"]`; unsupported values are refused."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ltxmlx.errors import ConfigError

# (time, height, width) strides of the sampling blocks.
BLOCK_STRIDES = {
    "compress_time": (2, 1, 1),
    "compress_space": (1, 2, 2),
    "compress_all": (2, 2, 2),
}
ENCODER_BLOCKS = ("res_x", "compress_time_res", "compress_space_res", "compress_all_res")
DECODER_BLOCKS = ("res_x", "compress_time", "compress_space", "compress_all")
# The official decoder defaults to reflect when the key is absent (LTX-2 19B files lack it);
# the official encoder defaults to zeros.
DECODER_DEFAULT_PADDING = "reflect"
ENCODER_DEFAULT_PADDING = "zeros"
PADDING_MODES = ("zeros", "reflect")


@dataclass(frozen=True)
class Block:
    """One entry of `encoder_blocks` / `decoder_blocks`."""

    name: str
    num_layers: int = 0  # res_x only
    multiplier: int = 1  # channel factor of sampling blocks
    residual: bool = False  # decoder upsamplers only

    @property
    def stride(self) -> tuple[int, int, int]:
        return BLOCK_STRIDES[self.name.removesuffix("_res")] if self.name != "res_x" else (1, 1, 1)


def _require(cfg: dict, key: str) -> Any:
    if key not in cfg:
        raise ConfigError(f"vae.{key}", None, "a value (key missing from the checkpoint config)")
    return cfg[key]


def _expect(cfg: dict, key: str, allowed: tuple) -> Any:
    value = _require(cfg, key)
    if value not in allowed:
        raise ConfigError(f"vae.{key}", value, " or ".join(repr(a) for a in allowed))
    return value


def _positive_int(cfg: dict, key: str) -> int:
    value = _require(cfg, key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"vae.{key}", value, "a positive integer")
    return value


def _parse_blocks(raw: Any, key: str, allowed: tuple[str, ...], decoder: bool) -> tuple[Block, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"vae.{key}", raw, "a non-empty list of [name, params]")
    blocks = []
    for i, entry in enumerate(raw):
        where = f"vae.{key}[{i}]"
        if not (isinstance(entry, (list, tuple)) and len(entry) == 2):
            raise ConfigError(where, entry, "[block_name, params]")
        name, params = entry
        if name not in allowed:
            raise ConfigError(where, name, "one of " + ", ".join(allowed))
        params = {"num_layers": params} if isinstance(params, int) else dict(params)
        if params.get("inject_noise", False):
            raise ConfigError(f"{where}.inject_noise", True, "false (noise injection is not implemented)")
        if name == "res_x":
            layers = params.get("num_layers")
            if not isinstance(layers, int) or layers < 1:
                raise ConfigError(f"{where}.num_layers", layers, "a positive integer")
            blocks.append(Block(name, num_layers=layers))
            continue
        # Official defaults: encoder *_res multiplier 2, decoder compress_* multiplier 1.
        mult = params.get("multiplier", 1 if decoder else 2)
        if not isinstance(mult, int) or mult < 1:
            raise ConfigError(f"{where}.multiplier", mult, "a positive integer")
        residual = bool(params.get("residual", False))
        if residual and name != "compress_all":
            raise ConfigError(f"{where}.residual", True, "false (the official decoder ignores it here)")
        blocks.append(Block(name, multiplier=mult, residual=residual))
    return tuple(blocks)


def _common(cfg: dict) -> dict:
    _expect(cfg, "dims", (3,))
    _expect(cfg, "norm_layer", ("pixel_norm",))
    patch = _positive_int(cfg, "patch_size")
    return {"patch_size": patch, "latent_channels": _positive_int(cfg, "latent_channels")}


@dataclass(frozen=True)
class VideoEncoderConfig:
    in_channels: int
    latent_channels: int
    patch_size: int
    blocks: tuple[Block, ...]
    padding_mode: str
    conv_out_channels: int  # means + log-variance channels; only the means are kept

    @classmethod
    def from_config(cls, cfg: dict) -> VideoEncoderConfig:
        """`cfg` is the checkpoint's `config["vae"]`."""
        common = _common(cfg)
        # Every supported log-var mode keeps the first latent_channels outputs as the means;
        # "none" would halve them, which no LTX checkpoint uses.
        log_var = _expect(cfg, "latent_log_var", ("uniform", "per_channel", "constant"))
        base = cfg.get("encoder_base_channels", common["latent_channels"])
        if base != common["latent_channels"]:
            # The official encoder ignores this key and uses latent_channels as its width.
            raise ConfigError("vae.encoder_base_channels", base, f"{common['latent_channels']} (= latent_channels)")
        padding = cfg.get("spatial_padding_mode", ENCODER_DEFAULT_PADDING)
        if padding not in PADDING_MODES:
            raise ConfigError("vae.spatial_padding_mode", padding, " or ".join(PADDING_MODES))
        return cls(
            in_channels=_positive_int(cfg, "in_channels"),
            blocks=_parse_blocks(_require(cfg, "encoder_blocks"), "encoder_blocks", ENCODER_BLOCKS, decoder=False),
            padding_mode=padding,
            conv_out_channels=2 * common["latent_channels"]
            if log_var == "per_channel"
            else common["latent_channels"] + 1,
            **common,
        )

    @property
    def scale_factors(self) -> tuple[int, int, int]:
        """(time, height, width) pixel-to-latent factors."""
        return _scale(self.blocks, self.patch_size)


@dataclass(frozen=True)
class VideoDecoderConfig:
    out_channels: int
    latent_channels: int
    patch_size: int
    base_channels: int
    blocks: tuple[Block, ...]  # in checkpoint order; the decoder builds them reversed
    padding_mode: str
    causal: bool

    @classmethod
    def from_config(cls, cfg: dict) -> VideoDecoderConfig:
        """`cfg` is the checkpoint's `config["vae"]`."""
        common = _common(cfg)
        class_name = cfg.get("_class_name", "CausalVideoAutoencoder")
        if class_name != "CausalVideoAutoencoder":
            raise ConfigError("vae._class_name", class_name, "'CausalVideoAutoencoder' (conv decoder)")
        # Official default is True when absent, which we do not implement: require it explicitly.
        if _require(cfg, "timestep_conditioning") is not False:
            raise ConfigError("vae.timestep_conditioning", cfg["timestep_conditioning"], "false")
        causal = _require(cfg, "causal_decoder")
        if not isinstance(causal, bool):
            raise ConfigError("vae.causal_decoder", causal, "true or false")
        padding = cfg.get("spatial_padding_mode", DECODER_DEFAULT_PADDING)
        if padding not in PADDING_MODES:
            raise ConfigError("vae.spatial_padding_mode", padding, " or ".join(PADDING_MODES))
        return cls(
            out_channels=_positive_int(cfg, "out_channels"),
            base_channels=_positive_int(cfg, "decoder_base_channels"),
            blocks=_parse_blocks(_require(cfg, "decoder_blocks"), "decoder_blocks", DECODER_BLOCKS, decoder=True),
            padding_mode=padding,
            causal=causal,
            **common,
        )

    @property
    def bottleneck_channels(self) -> int:
        """Width after conv_in: base channels times every upsampler's channel reduction."""
        return self.base_channels * math.prod(b.multiplier for b in self.blocks if b.name != "res_x")

    @property
    def scale_factors(self) -> tuple[int, int, int]:
        """(time, height, width) latent-to-pixel factors."""
        return _scale(self.blocks, self.patch_size)


def _scale(blocks: tuple[Block, ...], patch_size: int) -> tuple[int, int, int]:
    t, h, w = 1, patch_size, patch_size
    for b in blocks:
        st, sh, sw = b.stride
        t, h, w = t * st, h * sh, w * sw
    return t, h, w


def latent_channels_from_config(cfg: dict) -> int:
    """`latent_channels` of a `config["vae"]` dict (for the statistics alone)."""
    return _positive_int(cfg, "latent_channels")
