"""Config of the LTX-2.5 diffusion video VAE file (`config.vae._class_name` "CausalDiffusionVAE").

The file nests the encoder under `vae.encoder` and the NA diffusion decoder under `vae.decoder`;
`model_output_type` sits beside them. Keys absent from a file take the official class defaults
(the real decoder config omits e.g. `t_emb_dim`); values the port does not implement are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ltxmlx.errors import ConfigError

CONV_CLASS = "CausalVideoAutoencoder"
DIFFUSION_CLASS = "CausalDiffusionVAE"
# `_class_name` of the VAE section -> kind of video decoder the file holds.
DECODER_KINDS = {CONV_CLASS: "conv", DIFFUSION_CLASS: "diffusion"}
OUTPUT_TYPES = ("x0", "v")

# Official class defaults, used only for keys a file leaves out.
_DEFAULTS: dict[str, Any] = {
    "in_channels": 128,
    "out_channels": 3,
    "patch_size": 4,
    "head_dim": 64,
    "t_emb_dim": 384,
    "stage_channels": (1024, 512, 256, 256, 128),
    "stage_depths": (4, 6, 4, 2, 8),
    "stage_kernels": ((3, 7, 7), (3, 7, 7), (3, 5, 5), (3, 5, 5), (3, 3, 3)),
    "upsamples": (((1, 2, 2), 2), ((2, 1, 1), 2), ((2, 2, 2), 1), ((2, 2, 2), 2)),
    "stage5_kernel": (3, 7, 7),
    "default_num_inference_steps": 2,
    "timestep_scale_multiplier": 1.0,
}


def vae_class_name(config: dict) -> str:
    """`config.vae._class_name` of a checkpoint config (the conv class when absent, as officially)."""
    if "vae" not in config:
        raise ConfigError("vae", None, "a 'vae' section in the checkpoint config")
    return config["vae"].get("_class_name", CONV_CLASS)


def video_decoder_kind(config: dict) -> str:
    """"conv" or "diffusion": which video decoder a checkpoint's config describes."""
    name = vae_class_name(config)
    if name not in DECODER_KINDS:
        raise ConfigError("vae._class_name", name, " or ".join(repr(n) for n in DECODER_KINDS))
    return DECODER_KINDS[name]


def encoder_section(vae: dict) -> dict:
    """The flat `config.vae` layout the video encoder reads, from either file layout.

    Nested files keep the encoder under `vae.encoder` with `blocks` and `out_channels` (= latent
    channels); flat files are returned unchanged.
    """
    if "encoder" not in vae:
        return vae
    enc = vae["encoder"]
    flat = {k: v for k, v in enc.items() if k not in ("blocks", "out_channels")}
    flat["latent_channels"] = enc.get("out_channels", vae.get("latent_channels"))
    flat["encoder_blocks"] = enc.get("blocks", enc.get("encoder_blocks"))
    return flat


def _triple(value: Any, key: str) -> tuple[int, int, int]:
    if not (isinstance(value, (list, tuple)) and len(value) == 3 and all(isinstance(v, int) and v >= 1 for v in value)):
        raise ConfigError(f"vae.decoder.{key}", value, "three positive integers (T, H, W)")
    return tuple(value)


@dataclass(frozen=True)
class DiffusionDecoderConfig:
    """NA diffusion decoder: stages 1-4 upsample the latent into a context, stage 5 denoises pixels."""

    in_channels: int
    out_channels: int
    patch_size: int
    head_dim: int
    t_emb_dim: int
    stage_channels: tuple[int, ...]
    stage_depths: tuple[int, ...]
    stage_kernels: tuple[tuple[int, int, int], ...]
    upsamples: tuple[tuple[tuple[int, int, int], int], ...]
    stage5_kernel: tuple[int, int, int]
    stage5_channels: int
    num_inference_steps: int
    timestep_scale_multiplier: float
    model_output_type: str

    @classmethod
    def from_config(cls, vae: dict) -> DiffusionDecoderConfig:
        """`vae` is the checkpoint's `config["vae"]` of a CausalDiffusionVAE file."""
        name = vae.get("_class_name", CONV_CLASS)
        if name != DIFFUSION_CLASS:
            raise ConfigError("vae._class_name", name, repr(DIFFUSION_CLASS))
        dec = vae.get("decoder")
        if not isinstance(dec, dict):
            raise ConfigError("vae.decoder", dec, "a nested decoder config")
        if dec.get("_class_name", "NADiffusionDecoder") != "NADiffusionDecoder":
            raise ConfigError("vae.decoder._class_name", dec["_class_name"], "'NADiffusionDecoder'")
        if dec.get("resampler_kind", "linear") != "linear":
            raise ConfigError("vae.decoder.resampler_kind", dec["resampler_kind"], "'linear'")
        if "rope_dim_split" in dec:
            # The official builder never passes it on: the default split is always used.
            raise ConfigError("vae.decoder.rope_dim_split", dec["rope_dim_split"], "absent (default split)")
        get = lambda key: dec.get(key, _DEFAULTS[key])  # noqa: E731
        channels = tuple(get("stage_channels"))
        depths = tuple(get("stage_depths"))
        kernels = tuple(_triple(k, "stage_kernels") for k in get("stage_kernels"))
        ups = tuple((_triple(s, "upsamples"), int(r)) for s, r in get("upsamples"))
        if not (len(channels) == len(depths) == len(kernels) == len(ups) + 1 == 5):
            raise ConfigError(
                "vae.decoder.stage_*", (len(channels), len(depths), len(kernels), len(ups)),
                "5 stage channels / depths / kernels and 4 upsamples",
            )
        head_dim = int(get("head_dim"))
        stage5 = int(dec.get("stage5_channels", channels[-1]))
        for c in (*channels, stage5):
            if c % head_dim:
                raise ConfigError("vae.decoder.stage_channels", channels, f"multiples of head_dim {head_dim}")
        for i, (stride, reduction) in enumerate(ups):
            if any(s not in (1, 2) for s in stride) or reduction < 1 or channels[i] % reduction:
                raise ConfigError(f"vae.decoder.upsamples[{i}]", [list(stride), reduction], "strides of 1 or 2")
            if channels[i] // reduction != channels[i + 1]:
                raise ConfigError(
                    "vae.decoder.stage_channels", channels,
                    f"stage {i + 1} = stage {i} / upsample reduction {reduction} = {channels[i] // reduction}",
                )
        steps = int(get("default_num_inference_steps"))
        if steps < 1:
            raise ConfigError("vae.decoder.default_num_inference_steps", steps, "a positive integer")
        output_type = vae.get("model_output_type", "v")
        if output_type not in OUTPUT_TYPES:
            raise ConfigError("vae.model_output_type", output_type, " or ".join(map(repr, OUTPUT_TYPES)))
        return cls(
            in_channels=int(dec.get("in_channels", vae.get("latent_channels", _DEFAULTS["in_channels"]))),
            out_channels=int(get("out_channels")),
            patch_size=int(get("patch_size")),
            head_dim=head_dim,
            t_emb_dim=int(get("t_emb_dim")),
            stage_channels=channels,
            stage_depths=depths,
            stage_kernels=kernels,
            upsamples=ups,
            stage5_kernel=_triple(get("stage5_kernel"), "stage5_kernel"),
            stage5_channels=stage5,
            num_inference_steps=steps,
            timestep_scale_multiplier=float(get("timestep_scale_multiplier")),
            model_output_type=output_type,
        )

    @property
    def scale_factors(self) -> tuple[int, int, int]:
        """(time, height, width) latent-to-pixel factors; time maps F latent frames to 1 + (F-1)*t."""
        t, h, w = 1, self.patch_size, self.patch_size
        for (st, sh, sw), _ in self.upsamples:
            t, h, w = t * st, h * sh, w * sw
        return t, h, w

    @property
    def trailing_pad_frames(self) -> int:
        """Latent frames replicated at the end so the last frames see a full NA window in stages 1-4."""
        return (self.stage_kernels[0][0] // 2) * 2

    @property
    def min_latent_size(self) -> tuple[int, int, int]:
        """Per-axis latent floor so every stage's NA volume is at least its kernel."""
        mins = [1, 1, 1]
        cumulative = (1, 1, 1)
        kernels = (*self.stage_kernels[: len(self.upsamples)], self.stage5_kernel)
        for i, kernel in enumerate(kernels):
            for a in range(3):
                mins[a] = max(mins[a], -(-kernel[a] // cumulative[a]))
            if i < len(self.upsamples):
                cumulative = tuple(c * s for c, s in zip(cumulative, self.upsamples[i][0]))
        return tuple(mins)
