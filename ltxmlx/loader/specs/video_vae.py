"""Video VAE family: encoder, conv decoder, diffusion decoder and the latent statistics alone.

Two file layouts: single-file checkpoints (`vae.encoder.*`, `vae.decoder.*`,
`vae.per_channel_statistics.*`) and the LTX-2.5 split VAE files (the same keys without `vae.`).
Statistics keep their hyphenated names as module keys. Layout change: Conv3d (O, I, kd, kh, kw) ->
(O, kd, kh, kw, I). The diffusion decoder (`config.vae._class_name` "CausalDiffusionVAE") has
Linear layers only; its `t_embedder.mlp.{0,2}` are renamed, its preview `coarse_*` tensors dropped
and its static `gate_*` vectors folded into the Linear before them (`fold_static_gates`).
"""

from __future__ import annotations

import mlx.core as mx

from ltxmlx.errors import CheckpointError, ConfigError
from ltxmlx.loader.key_ops import KeyOps
from ltxmlx.loader.specs import ComponentSpec
from ltxmlx.model.video_vae import (
    PerChannelStatistics,
    VideoDecoder,
    VideoDecoderConfig,
    VideoEncoder,
    VideoEncoderConfig,
)
from ltxmlx.model.video_vae.config import latent_channels_from_config
from ltxmlx.model.video_vae.diffusion import (
    DiffusionDecoderConfig,
    DiffusionVideoDecoder,
    encoder_section,
    vae_class_name,
    video_decoder_kind,
)

_STATS = "vae.per_channel_statistics."
# Real files may carry more statistics (channel, mean-of-stds, ...); the official loader ignores them.
_STATS_IGNORE = (r"^per_channel_statistics\.(?!(mean|std)-of-means$)",)
_CONV3D = ((r"\.weight$", (0, 2, 3, 4, 1)),)


def _vae_config(config: dict) -> dict:
    if "vae" not in config:
        raise ConfigError("vae", None, "a 'vae' section in the checkpoint config")
    return config["vae"]


def _prefixes(part: str) -> dict[str, str]:
    """The part's keys and the statistics, with or without the single-file `vae.` prefix."""
    return {
        f"vae.{part}.": "",
        f"{part}.": "",
        _STATS: "per_channel_statistics.",
        "per_channel_statistics.": "per_channel_statistics.",
    }


def _part_ops(part: str) -> KeyOps:
    return KeyOps(prefix=_prefixes(part), ignore=_STATS_IGNORE, transposes=_CONV3D)


DIFFUSION_DECODER_KEY_OPS = KeyOps(
    prefix=_prefixes("decoder"),
    # coarse_*: a preview head the official loader drops as well.
    ignore=(*_STATS_IGNORE, r"^coarse_"),
    renames=(
        (r"^t_embedder\.mlp\.0\.", "t_embedder.timestep_embedder.linear_1."),
        (r"^t_embedder\.mlp\.2\.", "t_embedder.timestep_embedder.linear_2."),
    ),
)

# Static gate -> the Linear layers whose output it scales (weight rows and bias).
GATE_TARGETS = {
    "gate_msa": ("attn.proj.weight", "attn.proj.bias"),
    "gate_mlp": ("mlp.w_down.weight", "mlp.w_down.bias"),
    "gate_ctx": ("context_proj.weight", "context_proj.bias"),
}


def fold_static_gates(weights: dict[str, mx.array]) -> dict[str, mx.array]:
    """`<block>.gate_*` (dim,) folded into the Linear before it: W <- g[:, None] * W, b <- g * b,
    computed in float32; the gate tensors are consumed."""
    out = dict(weights)
    for key in [k for k in weights if k.rsplit(".", 1)[-1] in GATE_TARGETS]:
        block, gate_name = key.rsplit(".", 1)
        gate = out.pop(key).astype(mx.float32)
        for target in GATE_TARGETS[gate_name]:
            name = f"{block}.{target}"
            if name not in out:
                continue  # e.g. the bias-free mlp.w_down
            value = out[name]
            scale = gate[:, None] if value.ndim == 2 else gate
            out[name] = (value.astype(mx.float32) * scale).astype(value.dtype)
    return out


def _decoder_of_kind(kind: str, make):
    other = {"conv": "video_decoder_diffusion", "diffusion": "video_decoder"}[kind]

    def build(config: dict):
        found = video_decoder_kind(config)
        if found != kind:
            raise CheckpointError(
                f"this file's video VAE is {vae_class_name(config)!r}, a {found} decoder; "
                f"build component {other!r} from it instead"
            )
        return make(_vae_config(config))

    return build


# Single files (LTX-2 / 2.3) nest the statistics under `vae.`; the LTX-2.5 split VAE files store them bare.
STATS_KEY_OPS = KeyOps(
    prefix={_STATS: "", "per_channel_statistics.": ""}, ignore=(r"^(?!(mean|std)-of-means$)",)
)

SPECS = {
    "video_encoder": ComponentSpec(
        name="video_encoder",
        key_ops=_part_ops("encoder"),
        make=lambda config: VideoEncoder(VideoEncoderConfig.from_config(encoder_section(_vae_config(config)))),
    ),
    "video_decoder": ComponentSpec(
        name="video_decoder",
        key_ops=_part_ops("decoder"),
        make=_decoder_of_kind("conv", lambda vae: VideoDecoder(VideoDecoderConfig.from_config(vae))),
    ),
    "video_decoder_diffusion": ComponentSpec(
        name="video_decoder_diffusion",
        key_ops=DIFFUSION_DECODER_KEY_OPS,
        make=_decoder_of_kind(
            "diffusion", lambda vae: DiffusionVideoDecoder(DiffusionDecoderConfig.from_config(vae))
        ),
        prepare=fold_static_gates,
    ),
    "video_latent_stats": ComponentSpec(
        name="video_latent_stats",
        key_ops=STATS_KEY_OPS,
        make=lambda config: PerChannelStatistics(latent_channels_from_config(_vae_config(config))),
    ),
}
