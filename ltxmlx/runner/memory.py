"""Memory: this machine's size, MLX peak memory, and a rough per-run estimate for `batch_size: auto`.

The estimate is deliberately coarse (documented as such in the dry run): weights are the sizes of the
resolved weight files (FP8 files count twice, as they are dequantized to 16-bit), and per-item
activation memory scales with the largest stage's latent token count.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import mlx.core as mx

from ltxmlx.config.schema import RunConfig

GIB = 1024**3
# Bytes per video latent token held during a 16-bit transformer forward (hidden 4096, FFN, AdaLN,
# attention with fused SDPA), times a safety margin; calibrate against manifests' peak memory.
_BYTES_PER_TOKEN = 4096 * 2 * 24
_AUDIO_TOKENS_PER_SECOND = 25
_FULL_MODEL_BYTES = {"2.0": 19e9 * 2, "2.3": 22e9 * 2}


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


def latent_tokens(cfg: RunConfig) -> int:
    r = cfg.resolution
    # 'auto' lengths are clamped to at most 20 s by the duration head: estimate that longest clip.
    frames = r.frames if r.frames != "auto" else int(20 * r.fps) // 8 * 8 + 1
    video = ((frames - 1) // 8 + 1) * (r.height // 32) * (r.width // 32)
    return video + int(frames / r.fps * _AUDIO_TOKENS_PER_SECOND)


def guidance_passes(cfg: RunConfig) -> int:
    g = cfg.guider.video
    return 1 + (g.cfg != 1.0) + (g.stg != 0.0) + (g.modality != 1.0)


@dataclass(frozen=True)
class MemoryEstimate:
    weights_bytes: int
    per_item_bytes: int
    budget_bytes: int

    def batch_size(self, cap: int) -> int:
        free = self.budget_bytes - self.weights_bytes
        return max(1, min(cap, free // max(1, self.per_item_bytes)))


def estimate(cfg: RunConfig, weight_files: list[Path] | None = None) -> MemoryEstimate:
    """Peak-memory model of the largest stage (the biggest model is resident while it runs)."""
    if weight_files:
        factor = 2 if cfg.model.quantization == "fp8" else 1
        sizes = [_size(p) for p in weight_files]
        weights = max(sizes) * factor  # one model at a time is resident in stage-major order
    else:
        weights = int(_FULL_MODEL_BYTES.get(cfg.model.version, 40e9)) if not cfg.model.tiny else 0
    per_item = latent_tokens(cfg) * _BYTES_PER_TOKEN * guidance_passes(cfg)
    return MemoryEstimate(int(weights), int(per_item), budget_bytes(cfg))


def _size(p: Path) -> int:
    p = Path(p)
    if p.is_dir():
        return sum(f.stat().st_size for f in p.rglob("*.safetensors"))
    return p.stat().st_size
