"""A tiny, deterministic random-weight LTX-2 model in the official file formats, for smoke runs and tests.

`ensure_tiny_checkpoints(cache_dir)` writes, on first use: an LTX-2 (19B layout, model_version 2.0.0)
single file with transformer, text connectors, video/audio VAEs and vocoder and its `config` metadata in
the real schema; a spatial x2 upsampler with its flat config; a distilled-style LoRA; and the tiny Gemma
folder of the text encoder. Keys and shapes come from our own modules (`module_shapes`) mapped back
through each component's key ops, so the files load through the normal strict loader. Values are
seeded per tensor name, so the files are byte-identical across runs and machines.
"""

from __future__ import annotations

import json
import os
import re
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np

from ltxmlx.loader.builder import module_shapes
from ltxmlx.loader.specs import get_spec
from ltxmlx.text_encoders.gemma.config import Gemma3TextConfig
from ltxmlx.text_encoders.gemma.embeddings_processor import TEXT_ENCODER_SECTION
from ltxmlx.text_encoders.gemma.tiny import tiny_gemma_folder

# Bump when the generated files change, so stale caches are not reused.
VERSION = 1
MODEL_VERSION = "2.0.0"
LORA_RANK = 2

_TRANSFORMER = {
    "dropout": 0.0, "attention_bias": True, "num_vector_embeds": None, "activation_fn": "gelu-approximate",
    "num_embeds_ada_norm": 1000, "use_linear_projection": False, "only_cross_attention": False,
    "cross_attention_norm": True, "double_self_attention": False, "upcast_attention": False,
    "standardization_norm": "rms_norm", "norm_elementwise_affine": False, "qk_norm": "rms_norm",
    "positional_embedding_type": "rope", "use_audio_video_cross_attention": True, "share_ff": False,
    "av_cross_ada_norm": True, "use_middle_indices_grid": True, "num_layers": 2, "num_attention_heads": 4,
    "attention_head_dim": 8, "cross_attention_dim": 32, "audio_num_attention_heads": 4,
    "audio_attention_head_dim": 4, "audio_cross_attention_dim": 16, "in_channels": 4, "out_channels": 4,
    "audio_in_channels": 32, "audio_out_channels": 32, "norm_eps": 1e-06, "positional_embedding_theta": 10000.0,
    "positional_embedding_max_pos": [20, 2048, 2048], "audio_positional_embedding_max_pos": [20],
    "timestep_scale_multiplier": 1000, "av_ca_timestep_scale_multiplier": 1000.0, "rope_type": "split",
    "frequencies_precision": "float64", "caption_channels": 64, "connector_positional_embedding_max_pos": [4096],
    "connector_num_learnable_registers": 128, "causal_temporal_positioning": True,
    "connector_num_attention_heads": 4, "connector_attention_head_dim": 16, "connector_num_layers": 1,
}
_VAE = {
    "_class_name": "CausalVideoAutoencoder", "dims": 3, "in_channels": 3, "out_channels": 3, "latent_channels": 4,
    "patch_size": 4, "norm_layer": "pixel_norm", "latent_log_var": "uniform", "causal_decoder": False,
    "timestep_conditioning": False, "decoder_base_channels": 4,
    "encoder_blocks": [["res_x", {"num_layers": 1}], ["compress_space_res", {"multiplier": 2}],
                       ["res_x", {"num_layers": 1}], ["compress_time_res", {"multiplier": 2}],
                       ["res_x", {"num_layers": 1}], ["compress_all_res", {"multiplier": 2}],
                       ["res_x", {"num_layers": 1}], ["compress_all_res", {"multiplier": 2}]],
    "decoder_blocks": [["res_x", {"num_layers": 1, "inject_noise": False}],
                       ["compress_all", {"residual": True, "multiplier": 2}],
                       ["res_x", {"num_layers": 1, "inject_noise": False}],
                       ["compress_all", {"residual": True, "multiplier": 1}],
                       ["res_x", {"num_layers": 1, "inject_noise": False}],
                       ["compress_all", {"residual": True, "multiplier": 1}],
                       ["res_x", {"num_layers": 1, "inject_noise": False}]],
}
_AUDIO_VAE = {
    "model": {"params": {"ddconfig": {
        "double_z": True, "mel_bins": 64, "z_channels": 2, "resolution": 256, "in_channels": 2, "out_ch": 2,
        "ch": 32, "ch_mult": [1, 1, 1], "num_res_blocks": 1, "attn_resolutions": [], "dropout": 0.0,
        "mid_block_add_attention": False, "norm_type": "pixel", "causality_axis": "height"},
        "sampling_rate": 16000}},
    "preprocessing": {"stft": {"filter_length": 1024, "hop_length": 160, "win_length": 1024, "causal": True},
                      "mel": {"n_mel_channels": 64, "mel_fmin": 0, "mel_fmax": 8000}},
}
_VOCODER = {
    "resblock": "1", "stereo": True, "upsample_initial_channel": 8, "upsample_rates": [6, 5, 8],
    "upsample_kernel_sizes": [12, 11, 16], "resblock_kernel_sizes": [3, 7, 11],
    "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]], "output_sampling_rate": 24000,
}
CONFIG = {"transformer": _TRANSFORMER, "vae": _VAE, "audio_vae": _AUDIO_VAE, "vocoder": _VOCODER}
UPSAMPLER_CONFIG = {"in_channels": 4, "mid_channels": 32, "num_blocks_per_stage": 1, "dims": 3,
                    "spatial_upsample": True, "temporal_upsample": False}

_SINGLE_FILE_COMPONENTS = ("transformer", "embeddings_processor", "video_encoder", "video_decoder",
                           "audio_encoder", "audio_decoder", "vocoder")
_LORA_TARGETS = re.compile(r"^transformer_blocks\.\d+\.\w+\.(to_q|to_k|to_v|to_out\.0|net\.0\.proj|net\.2)\.weight$")


def _rng(name: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(name.encode()))


def _value(name: str, shape: tuple[int, ...]) -> np.ndarray:
    """A deterministic value for checkpoint tensor `name` in module layout `shape` (O, ..., I)."""
    rng = _rng(name)
    n = rng.standard_normal(shape)
    if name.endswith("std-of-means"):
        return (1.0 + 0.1 * np.abs(n)).astype(np.float32)
    if name.endswith(("mean-of-means", ".bias")) or "scale_shift_table" in name:
        return (0.05 * n).astype(np.float32)
    if len(shape) == 1:  # norm scales and other per-channel weights
        return (1.0 + 0.1 * n).astype(np.float32)
    fan_in = int(np.prod(shape[1:]))
    return (n / np.sqrt(fan_in)).astype(np.float32)


def _component_tensors(component: str, config: dict) -> dict[str, np.ndarray]:
    """{checkpoint key: value in the checkpoint's (PyTorch) layout} of one component."""
    ops = get_spec(component).ops(config)
    out = {}
    for key, shape in module_shapes(component, config).items():
        ckpt_key = ops.unmap_key(key)
        value = _value(ckpt_key, shape)
        axes = ops.axes_for(key)
        if axes is not None:
            value = value.transpose(np.argsort(axes))
        out[ckpt_key] = np.ascontiguousarray(value)
    return out


def _with_gemma(config: dict, gemma_folder: Path) -> dict:
    gemma = Gemma3TextConfig.from_config(json.loads((gemma_folder / "config.json").read_text()))
    return {**config, TEXT_ENCODER_SECTION: {"hidden_size": gemma.hidden_size,
                                             "num_hidden_states": gemma.num_hidden_states}}


def single_file_tensors(gemma_folder: Path) -> dict[str, np.ndarray]:
    config = _with_gemma(CONFIG, gemma_folder)
    tensors: dict[str, np.ndarray] = {}
    for component in _SINGLE_FILE_COMPONENTS:
        tensors.update(_component_tensors(component, config))
    return tensors


def lora_tensors(seed: str = "", config: dict = CONFIG) -> dict[str, np.ndarray]:
    """A rank-2 LoRA on every attention projection and feed-forward Linear of the transformer blocks."""
    out = {}
    for key, shape in module_shapes("transformer", config).items():
        if not _LORA_TARGETS.match(key):
            continue
        o, i = shape
        module = "diffusion_model." + key[: -len(".weight")]
        out[module + ".lora_A.weight"] = (_rng(seed + module + "A").standard_normal((LORA_RANK, i)) / np.sqrt(i)).astype(np.float32)
        out[module + ".lora_B.weight"] = (0.1 * _rng(seed + module + "B").standard_normal((o, LORA_RANK))).astype(np.float32)
    return out


def safetensors_bytes(tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> bytes:
    """A float32 safetensors file with a canonical header (sorted keys), so equal input gives equal
    bytes; the reference writer's metadata order varies between runs."""
    header: dict = {"__metadata__": dict(sorted(metadata.items()))}
    blobs, offset = [], 0
    for name in sorted(tensors):
        data = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # the data starts 8-byte aligned
    return struct.pack("<Q", len(raw)) + raw + b"".join(blobs)


def _write(path: Path, tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> None:
    """Atomic: a temporary file in the same folder, then os.replace."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".safetensors", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(safetensors_bytes(tensors, metadata))
        os.chmod(tmp, 0o644)  # mkstemp creates 0600
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def ensure_tiny_checkpoints(cache_dir: str | Path) -> dict[str, Path]:
    """Paths of the tiny model's files under `cache_dir` (written on first use):
    checkpoint, spatial_upsampler, distilled_lora, ic_lora (files) and text_encoder (a Gemma folder)."""
    root = Path(cache_dir).expanduser() / f"ltx2-tiny-v{VERSION}"
    root.mkdir(parents=True, exist_ok=True)
    gemma = tiny_gemma_folder(root)
    paths = {
        "checkpoint": root / "ltx-2-tiny.safetensors",
        "spatial_upsampler": root / "ltx-2-tiny-spatial-upscaler-x2.safetensors",
        "distilled_lora": root / "ltx-2-tiny-distilled-lora.safetensors",
        "ic_lora": root / "ltx-2-tiny-ic-lora.safetensors",
        "text_encoder": gemma,
    }
    if not paths["checkpoint"].is_file():
        meta = {"config": json.dumps(CONFIG, sort_keys=True), "model_version": MODEL_VERSION}
        _write(paths["checkpoint"], single_file_tensors(gemma), meta)
    if not paths["spatial_upsampler"].is_file():
        tensors = _component_tensors("spatial_upsampler", UPSAMPLER_CONFIG)
        _write(paths["spatial_upsampler"], tensors, {"config": json.dumps(UPSAMPLER_CONFIG, sort_keys=True)})
    if not paths["distilled_lora"].is_file():
        _write(paths["distilled_lora"], lora_tensors(), {"format": "pt"})
    if not paths["ic_lora"].is_file():  # an IC-LoRA: references at half the stage size
        _write(paths["ic_lora"], lora_tensors("ic"), {"format": "pt", "reference_downscale_factor": "2"})
    return paths
