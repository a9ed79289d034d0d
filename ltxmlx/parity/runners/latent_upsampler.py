"""Parity runner for a generation's latent upsamplers given as separate files (LTX-2.5).

The case lists the spatial and temporal upsampler files and the video VAE file whose per-channel
statistics wrap `upsample_video`; each file's role is read from its own metadata config. Outputs:
`spatial.output`, `spatial.upsample_video_output`, `temporal.output` (inputs `<mode>.input`).
"""

from __future__ import annotations

import mlx.core as mx

from ltxmlx.errors import LtxmlxError
from ltxmlx.loader import build, open_checkpoint
from ltxmlx.model.upsampler import LatentUpsamplerConfig, upsample_video


def _roles(case) -> dict[str, object]:
    roles = {}
    for i in range(len(case.checkpoints)):
        path = case.checkpoint_path(i)
        config = open_checkpoint(path).config
        role = "stats" if "vae" in config else LatentUpsamplerConfig.from_config(config).mode
        if role in roles:
            raise LtxmlxError(f"{case.id}: two checkpoints serve as {role}: {roles[role].name} and {path.name}")
        roles[role] = path
    return roles


def run(case) -> dict[str, mx.array]:
    roles = _roles(case)
    out: dict[str, mx.array] = {}
    for mode in ("spatial", "temporal"):
        wanted = [name for name in case.outputs if name.startswith(f"{mode}.")]
        if not wanted:
            continue
        upsampler = build(f"{mode}_upsampler", roles[mode], dtype=mx.float32)
        latent = mx.array(case.input(f"{mode}.input"))
        if f"{mode}.output" in wanted:
            out[f"{mode}.output"] = upsampler(latent)
        if f"{mode}.upsample_video_output" in wanted:
            stats = build("video_latent_stats", roles["stats"], dtype=mx.float32)
            out[f"{mode}.upsample_video_output"] = upsample_video(latent, upsampler, stats)
    return out
