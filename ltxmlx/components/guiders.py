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
