"""Memory: this machine's size, MLX peak memory, and the per-stage model behind `batch_size: auto`.

Each stage's peak is modelled as `weights + base + batch x per_item`:
- weights: the bytes of the model the stage holds, computed from the checkpoint's config and the
  quantization plan (`ltxmlx.loader.quantize`), so int8 / int4 shrink exactly the layers they quantize;
  only one stage's models are resident at a time in stage-major order.
- base and per_item: activations, from `ACTIVATIONS` per generation and stage kind, in the unit of that
  stage (latent tokens per transformer row, prompts, latent tokens, output pixels). They do not depend
  on the quantization mode (activations stay in the run dtype). `bench/memory_e2e.py` measures them:
  per_item = peak(batch 2) - peak(batch 1), base = peak(batch 1) - weights - per_item, and prints the
  values to put here.
`batch_size: auto` takes the largest batch whose estimated peak fits the budget in every stage (the
runner batches all stages alike).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import mlx.core as mx
from mlx.utils import tree_flatten

from ltxmlx.config.schema import RunConfig
from ltxmlx.errors import CheckpointError, ConfigError
from ltxmlx.generations import GENERATIONS
from ltxmlx.loader import quantize
from ltxmlx.loader.checkpoint import open_checkpoint
from ltxmlx.loader.specs import get_spec
from ltxmlx.text_encoders.gemma.config import Gemma3TextConfig

log = logging.getLogger(__name__)

GIB = 1024**3
# Weight bytes of a quantized model relative to 16-bit, for the estimate without files (scales included).
_QUANT_FACTOR = {"int8": 0.53, "mxfp8": 0.52, "int4": 0.28, "mxfp4": 0.27, "nvfp4": 0.28}
_AUDIO_TOKENS_PER_SECOND = 25


@dataclass(frozen=True)
class Activation:
    """base: bytes a stage needs beyond its weights at any batch; per_unit: bytes per unit per item."""

    base: float
    per_unit: float


# Per generation, per stage kind. Units: text = one element of one prompt's kept hidden states
# (max length x Gemma width x (layers + 1)); diffusion = one latent token (video + audio) x transformer
# width, per transformer row (guidance pass); upsample = one stage-1 video latent token; decode = one
# output pixel (frames x height x width). Measured with bench/memory_e2e.py on an H200 (LTX-2.3 distilled,
# 704x512x121, batch 1 and 2: bench/results/memory_e2e_b{1,2}_h200.json for bf16,
# memory_e2e_quant_h200.json for int8 / int4 with the quantized embeddings processor): text holds
# 1.9 (int8) to 5.4 GiB (int4) beyond Gemma's and the processor's weights (hidden states, the build's
# transients; 3.7 GiB keeps both within 12 %); stage 2 adds ~0.9-1.2 GiB per item; the streamed decode
# needs ~4.3 GiB. Generations without their own row use these values.
ACTIVATIONS: dict[str, dict[str, Activation]] = {
    "2.3": {
        "text": Activation(3.7 * GIB, 0),
        "diffusion": Activation(1.0 * GIB, 54),
        "upsample": Activation(0, 82000),
        "decode": Activation(4.3 * GIB, 3.2),
    },
}
TEXT_MAX_LENGTH = 1024


def system_memory_bytes() -> int:
    if mx.metal.is_available():
        return int(mx.device_info()["memory_size"])
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def reset_peak() -> None:
    mx.reset_peak_memory()


def peak_bytes() -> int:
    return int(mx.get_peak_memory())


def budget_bytes(cfg: RunConfig) -> int:
    if cfg.runner.memory_budget_gb is not None:
        return int(cfg.runner.memory_budget_gb * GIB)
    return int(0.75 * system_memory_bytes())


def latent_tokens(height: int, width: int, frames: int, fps: float) -> int:
    """Video latent tokens (32x spatial, 8x temporal compression) + audio latent tokens."""
    video = ((frames - 1) // 8 + 1) * (height // 32) * (width // 32)
    return video + audio_tokens(frames, fps)


def audio_tokens(frames: int, fps: float) -> int:
    """Audio latent tokens of a clip of `frames` at `fps`."""
    return int(frames / fps * _AUDIO_TOKENS_PER_SECOND)


def clip_frames(cfg: RunConfig) -> int:
    """The clip length to plan memory for: 'auto' lengths are clamped to at most 20 s by the
    duration head, so the longest such clip."""
    r = cfg.resolution
    return r.frames if r.frames != "auto" else int(20 * r.fps) // 8 * 8 + 1


def guidance_passes(cfg: RunConfig) -> int:
    g = cfg.guider.video
    return 1 + (g.cfg != 1.0) + (g.stg != 0.0) + (g.modality != 1.0)


def model_bytes(component: str, config: dict, dtype_bytes: int, quantization: str = "none") -> int:
    """Bytes of `component`'s weights as built from `config` (lazily made module; nothing allocated)."""
    module = get_spec(component).make(config)
    mode = quantize.quant_mode(quantization)
    layers = quantize.plan(module, component, mode) if mode is not None and quantize.quantizable(component) else {}
    total = 0
    for key, value in tree_flatten(module.parameters()):
        layer, _, leaf = key.rpartition(".")
        if leaf == "weight" and layer in layers and value.dtype != mx.uint32:
            q = layers[layer]
            groups = value.size // q.group_size
            scale_bytes = dtype_bytes * 2 if q.mode == "affine" else 1  # affine: scales + biases
            total += value.size * q.bits // 8 + groups * scale_bytes
        else:
            total += value.size * (value.dtype.size if value.dtype in (mx.uint32, mx.uint8) else dtype_bytes)
    return total


@dataclass(frozen=True)
class StageMemory:
    stage: str
    weights_bytes: int
    base_bytes: int
    per_item_bytes: int

    def peak(self, batch: int) -> int:
        return self.weights_bytes + self.base_bytes + batch * self.per_item_bytes

    def max_batch(self, budget: int, cap: int) -> int:
        free = budget - self.weights_bytes - self.base_bytes
        return max(1, min(cap, free // max(1, self.per_item_bytes)))


@dataclass(frozen=True)
class MemoryEstimate:
    stages: tuple[StageMemory, ...]
    budget_bytes: int

    @property
    def weights_bytes(self) -> int:
        return max((s.weights_bytes for s in self.stages), default=0)

    @property
    def per_item_bytes(self) -> int:
        return max((s.per_item_bytes for s in self.stages), default=0)

    def batch_size(self, cap: int) -> int:
        """The largest batch that fits the budget in every stage (at least 1)."""
        return min((s.max_batch(self.budget_bytes, cap) for s in self.stages), default=1)

    def describe(self, batch: int) -> list[str]:
        """One line per stage: its largest fitting batch, the run's batch and the estimated peak."""
        lines = [f"memory estimate (budget {self.budget_bytes / GIB:.1f} GiB, batch {batch}):"]
        for s in self.stages:
            lines.append(f"  {s.stage:<9} fits batch {s.max_batch(self.budget_bytes, 64):>2}; at batch {batch}: "
                         f"peak {s.peak(batch) / GIB:.1f} GiB (weights {s.weights_bytes / GIB:.1f} GiB + "
                         f"{(s.base_bytes + batch * s.per_item_bytes) / GIB:.2f} GiB)")
        return lines


def activations_for(version: str) -> dict[str, Activation]:
    if version in ACTIVATIONS:
        return ACTIVATIONS[version]
    log.info("no calibrated activation memory for version %s (have %s); using the largest", version,
             ", ".join(ACTIVATIONS))
    return {k: max((a[k] for a in ACTIVATIONS.values()), key=lambda a: a.per_unit) for k in ACTIVATIONS["2.3"]}


def estimate(cfg: RunConfig, weights: dict[str, Path], stage_names: list[str] | None = None) -> MemoryEstimate:
    """Per-stage peak model for `cfg` with its weight files resolved to local `weights` (by field)."""
    acts = activations_for(cfg.model.version)
    dtype_bytes = 4 if cfg.model.dtype == "float32" else 2
    q = cfg.model.quantization
    r = cfg.resolution
    from ltxmlx.pipelines.factory import pipeline_kind

    kind = pipeline_kind(cfg.pipeline.name)
    two_stage = kind.two_stage
    names = stage_names or (["text", "stage1", "upsample", "stage2", "decode"] if two_stage else
                            ["text", "stage1", "decode"])
    ltx = _ltx_config(weights.get("checkpoint"))
    gen = GENERATIONS.get(cfg.model.version)
    # Without a readable config: the file's size, else (a dry run that plans offline) the generation table.
    fallback = _QUANT_FACTOR.get(q, 1.0) * dtype_bytes / 2
    transformer = (model_bytes("transformer", ltx, dtype_bytes, q) if ltx
                   else _file_bytes(weights.get("checkpoint")) or int((gen.transformer_bytes if gen else 0) * fallback))
    width = _transformer_width(ltx)
    negatives = 2 if cfg.guider.video.cfg != 1.0 or cfg.guider.audio.cfg != 1.0 else 1
    out = []
    for name in names:
        if name == "text":
            w, hidden, layers = _gemma(weights.get("text_encoder"), dtype_bytes, q)
            if not w and gen is not None and not cfg.model.tiny:
                w = int(gen.text_encoder_bytes * fallback)
            w += _processor_bytes(ltx, hidden, layers, dtype_bytes, q)
            a, units = acts["text"], negatives * TEXT_MAX_LENGTH * hidden * layers
        elif name.startswith("stage"):
            first = name == "stage1"
            h, wd = (r.height // 2, r.width // 2) if two_stage and first else (r.height, r.width)
            w, a = transformer, acts["diffusion"]
            units = latent_tokens(h, wd, clip_frames(cfg), r.fps) * width * (guidance_passes(cfg) if first else 1)
            if not kind.video:  # audio tokens only, audio guidance passes (no cross-modal pass)
                g = cfg.guider.audio
                units = audio_tokens(clip_frames(cfg), r.fps) * width * (1 + (g.cfg != 1.0) + (g.stg != 0.0))
        elif name == "upsample":
            ups = _ltx_config(weights.get("spatial_upsampler"))
            w = (model_bytes("spatial_upsampler", ups, dtype_bytes) if ups
                 else _file_bytes(weights.get("spatial_upsampler")))
            a, units = acts["upsample"], latent_tokens(r.height // 2, r.width // 2, clip_frames(cfg), r.fps)
        elif name == "decode":
            files = {weights.get(k) for k in ("checkpoint", "video_vae", "audio_vae")} - {None}
            w = sum(_decoder_bytes(f, dtype_bytes) for f in files)
            # An audio-only decode has no pixels; its small audio activations are within the base.
            a, units = acts["decode"], clip_frames(cfg) * r.height * r.width if kind.video else 0
        else:
            continue
        out.append(StageMemory(name, int(w), int(a.base), int(a.per_unit * units)))
    return MemoryEstimate(tuple(out), budget_bytes(cfg))


def _ltx_config(path: Path | None) -> dict | None:
    """The metadata config of a weight file; None (sizes are then taken from the file) when it has none."""
    if path is None or not Path(path).is_file():
        return None
    try:
        return open_checkpoint(path).config
    except CheckpointError as e:
        log.info("memory estimate: no model config in %s (%s); using its file size", path, e)
        return None


def _transformer_width(config: dict | None) -> int:
    """The video stream's hidden width (4096 for LTX-2 / 2.3)."""
    t = (config or {}).get("transformer", {})
    return int(t.get("num_attention_heads", 32)) * int(t.get("attention_head_dim", 128))


def _gemma(folder: Path | None, dtype_bytes: int, quantization: str) -> tuple[int, int, int]:
    """(weight bytes, hidden width, hidden states kept for the feature extractor) of a Gemma folder
    (Gemma 3) or packed file (Gemma 4)."""
    if folder is not None and Path(folder).is_file():  # a Gemma 4 packed file (LTX-2.5)
        from ltxmlx.text_encoders.gemma4.config import Gemma4TextConfig

        ckpt = open_checkpoint(folder)
        text4 = Gemma4TextConfig.from_config(ckpt.metadata["gemma_config"])
        weights = sum(dtype_bytes * _numel(i.shape) for k, i in ckpt.infos.items() if k.startswith("model."))
        if quantization in ("int8", "mxfp8"):
            weights //= 2
        elif quantization in ("int4", "mxfp4", "nvfp4"):
            weights //= 4
        return weights, text4.hidden_size, text4.num_hidden_states
    config_file = Path(folder) / "config.json" if folder is not None else None
    if config_file is None or not config_file.is_file():
        return _file_bytes(folder), 3840, 49  # Gemma 3 12B's width and layers + 1
    config = json.loads(config_file.read_text())
    text = Gemma3TextConfig.from_config(config)
    return model_bytes("gemma3", config, dtype_bytes, quantization), text.hidden_size, text.num_hidden_layers + 1


def _processor_bytes(ltx: dict | None, hidden: int, layers: int, dtype_bytes: int, quantization: str) -> int:
    """The embeddings processor's weights (feature extractor + connectors), quantized as the build will;
    0 without the LTX config (its activations' base then covers it)."""
    if not ltx or "transformer" not in ltx:
        return 0
    from ltxmlx.text_encoders.gemma.embeddings_processor import TEXT_ENCODER_SECTION

    config = {**ltx, TEXT_ENCODER_SECTION: {"hidden_size": hidden, "num_hidden_states": layers}}
    try:
        return model_bytes("embeddings_processor", config, dtype_bytes, quantization)
    except (ConfigError, KeyError, TypeError, ValueError) as e:
        log.info("memory estimate without the embeddings processor: %s", e)
        return 0


def _decoder_bytes(path: Path | None, dtype_bytes: int) -> int:
    """The video / audio decoders and vocoder of the single file (header only)."""
    if path is None or not Path(path).is_file():
        return 0
    try:
        ckpt = open_checkpoint(path)
    except CheckpointError as e:
        log.info("memory estimate without the decoders' size: %s", e)
        return 0
    prefixes = ("vae.decoder.", "decoder.", "audio_vae.decoder.", "vocoder.")
    return sum(dtype_bytes * _numel(i.shape) for k, i in ckpt.infos.items() if k.startswith(prefixes))


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _file_bytes(p: Path | None) -> int:
    if p is None:
        return 0
    p = Path(p)
    if p.is_dir():
        return sum(f.stat().st_size for f in p.rglob("*.safetensors"))
    return p.stat().st_size if p.is_file() else 0
