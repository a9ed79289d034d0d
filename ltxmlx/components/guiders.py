"""Multi-modal guidance on x0 (denoised) predictions, per modality.

pred = cond + (cfg-1)(cond-uncond) + stg(cond-perturbed) + (modality-1)(cond-isolated), then optional
rescale toward cond's std. The official code takes one std over the whole tensor (it runs one clip per
call); we take it per batch item so that an item is guided the same alone or in a batch (B=1 is
identical to the official).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import mlx.core as mx

from ltxmlx.errors import ShapeError


@dataclass(frozen=True)
class GuiderParams:
    """Guidance settings of one modality (defaults = no guidance, a single conditioned pass)."""

    cfg_scale: float = 1.0
    stg_scale: float = 0.0
    stg_blocks: tuple[int, ...] = field(default_factory=tuple)
    rescale_scale: float = 0.0
    modality_scale: float = 1.0
    skip_step: int = 0

    def __post_init__(self) -> None:
        if self.skip_step < 0:
            raise ValueError(f"skip_step must be >= 0, got {self.skip_step}")
        if self.stg_scale != 0 and not self.stg_blocks:
            raise ValueError("stg_scale != 0 needs at least one block in stg_blocks")
        object.__setattr__(self, "stg_blocks", tuple(int(b) for b in self.stg_blocks))

    @property
    def needs_uncond(self) -> bool:
        return not math.isclose(self.cfg_scale, 1.0)

    @property
    def needs_perturbed(self) -> bool:
        return not math.isclose(self.stg_scale, 0.0)

    @property
    def needs_isolated(self) -> bool:
        return not math.isclose(self.modality_scale, 1.0)

    def __call__(self, cond: mx.array, uncond: mx.array | None = None, perturbed: mx.array | None = None,
                 isolated: mx.array | None = None) -> mx.array:
        """Guided x0 with these params (see `guide`)."""
        return guide(self, cond, uncond, perturbed, isolated)

    def should_skip(self, step: int) -> bool:
        """True when this step reuses the previous x0 instead of evaluating (every skip_step+1-th runs)."""
        return self.skip_step > 0 and step % (self.skip_step + 1) != 0


NO_GUIDANCE = GuiderParams()


def _item_std(x: mx.array) -> mx.array:
    """Unbiased std over all axes but the batch axis, shaped (B, 1, ..., 1)."""
    flat = x.reshape(x.shape[0], -1)
    std = mx.std(flat, axis=1, keepdims=True, ddof=1)
    return std.reshape((x.shape[0],) + (1,) * (x.ndim - 1))


def guide(
    params: GuiderParams,
    cond: mx.array,
    uncond: mx.array | None = None,
    perturbed: mx.array | None = None,
    isolated: mx.array | None = None,
) -> mx.array:
    """Guided x0 from the pass outputs (each (B, T, C)); passes a term does not need may be None.

    Computed in float32 and cast back to cond's dtype.
    """
    terms = (("uncond", uncond, params.needs_uncond, params.cfg_scale - 1.0),
             ("perturbed", perturbed, params.needs_perturbed, params.stg_scale),
             ("isolated", isolated, params.needs_isolated, params.modality_scale - 1.0))
    c = cond.astype(mx.float32)
    pred = c
    for name, x, needed, scale in terms:
        if not needed:
            continue
        if x is None:
            raise ValueError(f"guidance needs the {name} pass for {params}")
        if x.shape != cond.shape:
            raise ShapeError(f"{name} pass: expected shape {tuple(cond.shape)}, got {tuple(x.shape)}")
        pred = pred + scale * (c - x.astype(mx.float32))
    if params.rescale_scale != 0:
        factor = _item_std(c) / _item_std(pred)
        pred = pred * (params.rescale_scale * factor + (1.0 - params.rescale_scale))
    return pred.astype(cond.dtype)


def _version_tuple(model_version: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in str(model_version).split("."))
    except ValueError as e:
        raise ValueError(f"model_version must look like '2.3.0', got {model_version!r}") from e


def default_guider_params(model_version: str) -> tuple[GuiderParams, GuiderParams]:
    """The official CLI defaults (video, audio) for a checkpoint's `model_version` metadata.

    LTX-2 (< 2.3) perturbs block 29 for STG, LTX-2.3 block 28; the scales are the same.
    """
    version = _version_tuple(model_version)
    if version < (2, 0) or version >= (2, 4):
        raise ValueError(f"no guidance defaults for model_version {model_version!r} (supported: 2.0.x - 2.3.x)")
    blocks = (29,) if version < (2, 3) else (28,)
    video = GuiderParams(cfg_scale=3.0, stg_scale=1.0, stg_blocks=blocks, rescale_scale=0.7, modality_scale=3.0)
    audio = GuiderParams(cfg_scale=7.0, stg_scale=1.0, stg_blocks=blocks, rescale_scale=0.7, modality_scale=3.0)
    return video, audio


def default_num_inference_steps(model_version: str) -> int:
    """Stage-1 steps of the official dev pipelines: 40 for LTX-2, 30 for LTX-2.3."""
    return 40 if _version_tuple(model_version) < (2, 3) else 30
