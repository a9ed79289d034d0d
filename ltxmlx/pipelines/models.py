"""Model construction for the stages: dtypes, the transformer with its fused LoRAs, content identities,
and the latent geometry read from the checkpoint's metadata config (no tensor data)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import mlx.core as mx
from mlx import nn

from ltxmlx.components.latent_tools import ScaleFactors
from ltxmlx.loader import build, quantize, resident
from ltxmlx.loader.builder import module_shapes
from ltxmlx.loader.checkpoint import open_checkpoint
from ltxmlx.loader.lora import fuse_loras
from ltxmlx.loader.quant_cache import QuantCache, cache_for
from ltxmlx.loader.specs.transformer import KEY_OPS as TRANSFORMER_KEY_OPS
from ltxmlx.model.audio_vae.config import (
    LATENT_DOWNSAMPLE_FACTOR,
    AudioVAEConfig,
    VocoderConfig,
)
from ltxmlx.model.video_vae.config import VideoDecoderConfig
from ltxmlx import generations
from ltxmlx.errors import CheckpointError, ConfigError
from ltxmlx.generations import Generation
from ltxmlx.pipelines.config import LoraSpec, ModelFiles, PipelineConfig
from ltxmlx.pipelines.states import LatentGeometry
from ltxmlx.config.validate import DTYPES
from ltxmlx.weights import content_identity, default_hash_cache

log = logging.getLogger(__name__)

# MLX runs on Apple GPUs: the official MPS rule adds LoRA deltas in float32 (and the fixtures use it).
LORA_FUSE_RULE = "float32"


def mx_dtype(name: str) -> mx.Dtype:
    return DTYPES[name]


def file_identity(path: str | Path | None) -> dict | None:
    """What a stage key records of a weight file or folder: its content hash (never its path or mtime),
    so equal inputs give equal keys on any machine; each file is hashed once (see `weights`)."""
    if path is None:
        return None
    return content_identity(path, default_hash_cache())


def lora_identity(loras: Sequence[LoraSpec]) -> list[dict]:
    return [{"file": file_identity(lora.path), "strength": lora.strength} for lora in loras]


@dataclass(frozen=True)
class CheckpointInfo:
    """What the pipelines need from the model files' metadata (no tensor data is read).

    config: the transformer file's metadata config; generation: the entry of `ltxmlx.generations`
    chosen by its `model_version` (None when the file has none: then every default must be given);
    geometry and the audio rate come from the video / audio VAE files (the single file on 2.0 / 2.3).
    """

    config: dict
    model_version: str
    geometry: LatentGeometry
    audio_sample_rate: int
    generation: Generation | None = None

    @staticmethod
    def read(files: ModelFiles | str | Path) -> CheckpointInfo:
        if not isinstance(files, ModelFiles):
            files = ModelFiles(checkpoint=str(files), text_encoder="")
        ckpt = open_checkpoint(files.checkpoint)
        if "transformer" not in ckpt.config:
            raise CheckpointError(f"{files.checkpoint}: holds no transformer (config sections: "
                                  f"{sorted(ckpt.config)}); expected an LTX transformer or single file")
        version = str(ckpt.metadata.get("model_version", ""))
        generation = generations.for_model_version(version) if version else None
        vae = _section(files.video_vae_file, "vae", ckpt)
        audio_cfg = ckpt.config if files.audio_vae_file == files.checkpoint else open_checkpoint(files.audio_vae_file).config
        if "audio_vae" not in audio_cfg:
            raise CheckpointError(f"{files.audio_vae_file}: holds no audio VAE (config sections: {sorted(audio_cfg)})")
        vae_cfg = VideoDecoderConfig.from_config(vae) if vae.get("_class_name") != "CausalDiffusionVAE" else None
        channels = vae_cfg.latent_channels if vae_cfg else int(vae["latent_channels"])
        scale = ScaleFactors(*vae_cfg.scale_factors) if vae_cfg else ScaleFactors()
        audio = AudioVAEConfig.from_config(audio_cfg)
        geometry = LatentGeometry(
            video_channels=channels, scale=scale,
            audio_channels=audio.z_channels, audio_mel_bins=audio.latent_mel_bins,
            audio_sample_rate=audio.sample_rate, audio_hop_length=audio.hop_length,
            audio_downsample=LATENT_DOWNSAMPLE_FACTOR,
        )
        rate = VocoderConfig.from_config(audio_cfg).output_sampling_rate
        return CheckpointInfo(ckpt.config, version, geometry, rate, generation)

    def require_generation(self, what: str) -> Generation:
        """The generation, or a clear error when the file has no `model_version` to choose `what` by."""
        if self.generation is None:
            raise ConfigError("model_version", None, f"a model_version in the transformer file's metadata "
                                                     f"(needed for the default {what}; or set it explicitly)")
        return self.generation


def _section(path: str, name: str, ckpt) -> dict:
    cfg = ckpt.config if str(path) == str(ckpt.path) else open_checkpoint(path).config
    if name not in cfg:
        raise CheckpointError(f"{path}: holds no {name!r} section (config sections: {sorted(cfg)}); wrong file?")
    return cfg[name]


def check_loras(checkpoint_config: dict, loras: Sequence[LoraSpec]) -> None:
    """Fail early (before any weights load) when a LoRA does not fit this transformer: the fusion runs
    on lazy placeholders of the module's shapes, so only the LoRA file's small tensors are read."""
    if not loras:
        return
    shapes = module_shapes("transformer", checkpoint_config)
    placeholders = {k: mx.zeros(s, dtype=mx.float32) for k, s in shapes.items()}
    fuse_loras(placeholders, [(lora.path, lora.strength) for lora in loras], TRANSFORMER_KEY_OPS,
               rule=LORA_FUSE_RULE)


def quant_cache(cfg: PipelineConfig) -> QuantCache | None:
    """The quantized-weights cache of a quantizing pipeline (None: plain weights or no cache dir)."""
    return cache_for(cfg.quantization, cfg.quant_cache_dir)


def quantization_key(cfg: PipelineConfig) -> dict:
    """What stage keys add for quantized weights (nothing for plain ones, so older keys stay valid)."""
    if quantize.quant_mode(cfg.quantization) is None:
        return {}
    return {"quantization": cfg.quantization, "quantization_table": quantize.TABLE_VERSION}


def _lora_fusion_identity(cache: QuantCache, loras: Sequence[LoraSpec]) -> list | None:
    if not loras:
        return None
    return [{"file": cache.fingerprint([Path(lo.path)]), "strength": lo.strength, "rule": LORA_FUSE_RULE}
            for lo in loras]


def quantized_transformer_file(cfg: PipelineConfig, loras: Sequence[LoraSpec] = ()) -> Path | None:
    """The quantized-cache file a transformer build with `loras` reads or writes (None: not quantizing)."""
    mode, cache = quantize.quant_mode(cfg.quantization), quant_cache(cfg)
    if mode is None or cache is None:
        return None
    entry = cache.entry("transformer", cfg.files.checkpoint, mode, mx_dtype(cfg.dtype),
                        _lora_fusion_identity(cache, loras))
    return entry.path


def build_transformer(checkpoint: str | Path, loras: Sequence[LoraSpec], dtype: mx.Dtype,
                      quantization: str = "none", quant_cache_dir: str | None = None) -> nn.Module:
    """The transformer with `loras` fused into its weights at load, then quantized per `quantization`
    (cached in `quant_cache_dir`, LoRA fusions included: each stack has its own entry)."""
    cache = cache_for(quantization, quant_cache_dir)
    extra = _lora_fusion_identity(cache, loras) if cache is not None else None
    transform = None
    if loras:
        stack = [(lora.path, lora.strength) for lora in loras]

        def transform(weights: dict[str, mx.array]) -> dict[str, mx.array]:
            fused, report = fuse_loras(weights, stack, TRANSFORMER_KEY_OPS, rule=LORA_FUSE_RULE)
            log.info("transformer LoRAs: %s", report.summary())
            return fused

        transform.pool_key = tuple((resident.file_identity(Path(p)), strength) for p, strength in stack)
    return build("transformer", checkpoint, dtype=dtype, transform=transform, quantization=quantization,
                 quant_cache=cache, transform_identity=extra)
