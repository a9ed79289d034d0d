"""Model construction for the stages: dtypes, the transformer with its fused LoRAs, file identities,
and the latent geometry read from the checkpoint's metadata config (no tensor data)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import mlx.core as mx
from mlx import nn

from ltxmlx.components.latent_tools import ScaleFactors
from ltxmlx.loader import build, resident
from ltxmlx.loader.builder import module_shapes
from ltxmlx.loader.checkpoint import open_checkpoint
from ltxmlx.loader.lora import fuse_loras
from ltxmlx.loader.specs.transformer import KEY_OPS as TRANSFORMER_KEY_OPS
from ltxmlx.model.audio_vae.config import (
    LATENT_DOWNSAMPLE_FACTOR,
    AudioVAEConfig,
    VocoderConfig,
)
from ltxmlx.model.video_vae.config import VideoDecoderConfig
from ltxmlx.pipelines.config import LoraSpec
from ltxmlx.pipelines.states import LatentGeometry
from ltxmlx.pipelines.validation import DTYPES

log = logging.getLogger(__name__)

# MLX runs on Apple GPUs: the official MPS rule adds LoRA deltas in float32 (and the fixtures use it).
LORA_FUSE_RULE = "float32"


def mx_dtype(name: str) -> mx.Dtype:
    return DTYPES[name]


def file_identity(path: str | Path | None) -> dict | None:
    """What a stage key records of a file: resolved path, size and modification time."""
    if path is None:
        return None
    p = Path(path).expanduser().resolve()
    st = p.stat()
    return {"path": str(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def lora_identity(loras: Sequence[LoraSpec]) -> list[dict]:
    return [{"file": file_identity(lora.path), "strength": lora.strength} for lora in loras]


@dataclass(frozen=True)
class CheckpointInfo:
    """The parts of an LTX single file's metadata config the pipelines need."""

    config: dict
    model_version: str
    geometry: LatentGeometry
    audio_sample_rate: int

    @staticmethod
    def read(path: str | Path) -> CheckpointInfo:
        ckpt = open_checkpoint(path)
        cfg = ckpt.config
        vae = VideoDecoderConfig.from_config(cfg["vae"])
        audio = AudioVAEConfig.from_config(cfg)
        geometry = LatentGeometry(
            video_channels=vae.latent_channels, scale=ScaleFactors(*vae.scale_factors),
            audio_channels=audio.z_channels, audio_mel_bins=audio.latent_mel_bins,
            audio_sample_rate=audio.sample_rate, audio_hop_length=audio.hop_length,
            audio_downsample=LATENT_DOWNSAMPLE_FACTOR,
        )
        # Only needed for the official defaults (steps, STG block); those raise if it is absent.
        version = str(ckpt.metadata.get("model_version", ""))
        rate = VocoderConfig.from_config(cfg).output_sampling_rate
        return CheckpointInfo(cfg, str(version), geometry, rate)


def check_loras(checkpoint_config: dict, loras: Sequence[LoraSpec]) -> None:
    """Fail early (before any weights load) when a LoRA does not fit this transformer: the fusion runs
    on lazy placeholders of the module's shapes, so only the LoRA file's small tensors are read."""
    if not loras:
        return
    shapes = module_shapes("transformer", checkpoint_config)
    placeholders = {k: mx.zeros(s, dtype=mx.float32) for k, s in shapes.items()}
    fuse_loras(placeholders, [(lora.path, lora.strength) for lora in loras], TRANSFORMER_KEY_OPS,
               rule=LORA_FUSE_RULE)


def build_transformer(checkpoint: str | Path, loras: Sequence[LoraSpec], dtype: mx.Dtype) -> nn.Module:
    """The transformer with `loras` fused into its weights at load."""
    transform = None
    if loras:
        stack = [(lora.path, lora.strength) for lora in loras]

        def transform(weights: dict[str, mx.array]) -> dict[str, mx.array]:
            fused, report = fuse_loras(weights, stack, TRANSFORMER_KEY_OPS, rule=LORA_FUSE_RULE)
            log.info("transformer LoRAs: %s", report.summary())
            return fused

        transform.pool_key = tuple((resident.file_identity(Path(p)), strength) for p, strength in stack)
    return build("transformer", checkpoint, dtype=dtype, transform=transform)
